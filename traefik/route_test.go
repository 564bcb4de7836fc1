package traefik

import (
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	got := Route("hey-web", "Host(`a.example`) && PathPrefix(`/`)", "http://172.18.0.3:3000")
	for _, want := range []string{
		"    hey-web:\n      rule: \"Host(`a.example`) && PathPrefix(`/`)\"\n",
		"      service: hey-web\n",
		"          - url: \"http://172.18.0.3:3000\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("route file lacks %q:\n%s", want, got)
		}
	}
}

func TestRouteURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{Route("k", DefaultRule, "http://1.2.3.4:80"), []string{"http://1.2.3.4:80"}},
		{"servers:\n  - url: \"http://a:1\"\n  - url: \"http://b:2\"\n", []string{"http://a:1", "http://b:2"}},
	}
	for _, tc := range tests {
		if got := RouteURLs(tc.in); !SameServers(got, tc.want) {
			t.Errorf("RouteURLs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRule(t *testing.T) {
	role := map[string]string{"traefik.http.routers.web.rule": "Host(`role`)", "other": "x"}
	top := map[string]string{"traefik.http.routers.app.rule": "Host(`top`)"}
	for _, tc := range []struct {
		sets []map[string]string
		want string
	}{
		{[]map[string]string{role, top}, "Host(`role`)"},
		{[]map[string]string{nil, top}, "Host(`top`)"},
		{[]map[string]string{{"other": "x"}, nil}, DefaultRule},
	} {
		if got := Rule(tc.sets...); got != tc.want {
			t.Errorf("Rule(%v) = %s, want %s", tc.sets, got, tc.want)
		}
	}
}
