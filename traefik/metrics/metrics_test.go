package metrics

import (
	"math"
	"testing"
)

// What Traefik v3.6 serves on /metrics with addServicesLabels (trimmed).
const sample = `# HELP traefik_service_requests_total How many HTTP requests processed on a service, partitioned by status code, protocol, and method.
# TYPE traefik_service_requests_total counter
traefik_service_requests_total{code="200",method="GET",protocol="http",service="hello-web--v1@file"} 900
traefik_service_requests_total{code="200",method="GET",protocol="http",service="hello-web--v2@file"} 70
traefik_service_requests_total{code="500",method="GET",protocol="http",service="hello-web--v2@file"} 30
traefik_service_requests_total{code="503",method="POST",protocol="http",service="hello-web--v2@file"} 5 1700000000000
traefik_service_requests_total{code="404",method="GET",protocol="http",service="hello-web--v1@file"} 12
traefik_service_request_duration_seconds_bucket{code="200",method="GET",protocol="http",service="hello-web--v1@file",le="0.1"} 899
traefik_service_request_duration_seconds_sum{code="200",method="GET",protocol="http",service="hello-web--v2@file"} 3.5
traefik_service_request_duration_seconds_count{code="200",method="GET",protocol="http",service="hello-web--v2@file"} 70
traefik_service_request_duration_seconds_sum{code="500",method="GET",protocol="http",service="hello-web--v2@file"} 1.5
traefik_service_request_duration_seconds_count{code="500",method="GET",protocol="http",service="hello-web--v2@file"} 30
traefik_config_reloads_total 3
traefik_open_connections{entrypoint="web",protocol="TCP"} +Inf
odd{label="a \"quoted\", escaped\\ value\n"} NaN
`

func TestServices(t *testing.T) {
	s, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := Services(s)
	want := map[string]Counts{
		"hello-web--v1@file": {Requests: 912, Errors: 0},
		"hello-web--v2@file": {Requests: 105, Errors: 35, DurationSum: 5, DurationCount: 100},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if v := s[len(s)-1]; v.Labels["label"] != "a \"quoted\", escaped\\ value\n" || !math.IsNaN(v.Value) {
		t.Errorf("escaped label: got %q %v", v.Labels["label"], v.Value)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"novalue",
		`m{a="1"`,
		`m{a=1} 2`,
		`m{a="1} 2`,
		`m{a="1"} x`,
		`m 1 2 3`,
	} {
		if _, err := Parse([]byte("# ok\n" + bad + "\n")); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCountsSub(t *testing.T) {
	cases := []struct {
		name          string
		after, before Counts
		want          Counts
	}{
		{"grew", Counts{100, 10, 5, 100}, Counts{40, 4, 2, 40}, Counts{60, 6, 3, 60}},
		{"unchanged", Counts{5, 1, 1, 5}, Counts{5, 1, 1, 5}, Counts{}},
		{"reset", Counts{7, 1, 1, 7}, Counts{40, 4, 2, 40}, Counts{7, 1, 1, 7}},
		{"new", Counts{7, 1, 0, 0}, Counts{}, Counts{7, 1, 0, 0}},
	}
	for _, c := range cases {
		if got := c.after.Sub(c.before); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if r := (Counts{Requests: 200, Errors: 5}).ErrorRate(); r != 0.025 {
		t.Errorf("rate %v", r)
	}
	if r := (Counts{}).ErrorRate(); r != 0 {
		t.Errorf("rate of nothing %v", r)
	}
	if l := (Counts{DurationSum: 3, DurationCount: 60}).MeanLatency(); l != 0.05 {
		t.Errorf("latency %v", l)
	}
	if l := (Counts{}).MeanLatency(); l != 0 {
		t.Errorf("latency of nothing %v", l)
	}
}
