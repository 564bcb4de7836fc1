package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCanaryKey(t *testing.T) {
	const head = "service: app\nimage: me/app\nservers: [a]\n"
	d := DefaultCanary()
	with := func(f func(c *Canary)) *Canary { c := d; f(&c); return &c }
	for _, tt := range []struct {
		yml     string
		want    *Canary // nil: no canary section
		wantErr string
	}{
		{yml: "", want: nil},
		{yml: "canary:\n", want: nil},
		{yml: "canary: {}\n", want: &d},
		{yml: "canary:\n  weight: 25\n", want: with(func(c *Canary) { c.Weight = 25 })},
		{yml: "canary:\n  weight: 5\n  duration: 20s\n  max_error_rate: 0.5%\n  min_requests: 30\n  steps: [5, 25, 75]\n  hosts: 2\n",
			want: &Canary{Weight: 5, Duration: 20 * time.Second, MaxErrorRate: 0.005, MinRequests: 30, Steps: []int{5, 25, 75}, Hosts: 2}},
		{yml: "canary:\n  max_error_rate: 0.02\n", want: with(func(c *Canary) { c.MaxErrorRate = 0.02 })},
		{yml: "canary:\n  duration: 0\n", want: with(func(c *Canary) { c.Duration = 0 })},
		{yml: "canary:\n  weight: 0\n", wantErr: "canary.weight: must be a percentage of requests between 1 and 99"},
		{yml: "canary:\n  weight: 100\n", wantErr: "canary.weight: must be a percentage"},
		{yml: "canary:\n  max_error_rate: 2\n", wantErr: "canary.max_error_rate: must be a rate"},
		{yml: "canary:\n  max_error_rate: lots\n", wantErr: "canary.max_error_rate: must be a rate"},
		{yml: "canary:\n  min_requests: 0\n", wantErr: "canary.min_requests: must be at least 1"},
		{yml: "canary:\n  steps: [10, 10]\n", wantErr: "canary.steps[1]: must be rising percentages"},
		{yml: "canary:\n  steps: [10, 100]\n", wantErr: "canary.steps[1]: must be rising percentages"},
		{yml: "canary:\n  steps: 10\n", wantErr: "canary.steps: must be a list of percentages"},
		{yml: "canary:\n  duration: soon\n", wantErr: "canary.duration: must be a duration"},
		{yml: "canary:\n  hosts: 0\n", wantErr: "canary.hosts: must be at least 1"},
		{yml: "canary: 10\n", wantErr: "canary: must be a map"},
	} {
		c, _, err := loadProject(t, map[string]string{"config/deploy.yml": head + tt.yml}, "", nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.yml, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.yml, err)
		}
		if !reflect.DeepEqual(c.Canary, tt.want) {
			t.Errorf("%q: Canary = %+v, want %+v", tt.yml, c.Canary, tt.want)
		}
	}
}
