package config

import (
	"strings"
	"testing"
	"time"
)

func TestCommandTimeoutKey(t *testing.T) {
	const head = "service: app\nimage: me/app\nservers: [a]\n"
	for _, tt := range []struct {
		yml     string
		want    *time.Duration // nil: the key is unset
		wantErr string
	}{
		{yml: "", want: nil},
		{yml: "command_timeout: 5m\n", want: ptr(5 * time.Minute)},
		{yml: "command_timeout: 90\n", want: ptr(90 * time.Second)},
		{yml: "command_timeout: 0\n", want: ptr(0)},
		{yml: "command_timeout: -1m\n", wantErr: "command_timeout: must not be negative"},
		{yml: "command_timeout: soon\n", wantErr: "command_timeout: must be a duration"},
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
		if (c.CommandTimeout == nil) != (tt.want == nil) || (tt.want != nil && *c.CommandTimeout != *tt.want) {
			t.Errorf("%q: CommandTimeout = %v, want %v", tt.yml, show(c.CommandTimeout), show(tt.want))
		}
	}
}

func ptr(d time.Duration) *time.Duration { return &d }

func show(d *time.Duration) string {
	if d == nil {
		return "unset"
	}
	return d.String()
}
