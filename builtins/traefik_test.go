package builtins

import (
	"strings"
	"testing"
)

func TestRouteYAML(t *testing.T) {
	got := routeYAML("hey-web", "Host(`a.example`) && PathPrefix(`/`)", "http://172.18.0.3:3000")
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
