package builtins

import (
	"bytes"
	"testing"

	"github.com/mrsk-go/mrsk/executor"
)

// TestReads: the answers the lock's round trip read stand in for the
// reads after it until a command runs on that host; a failed read is no
// answer.
func TestReads(t *testing.T) {
	var out bytes.Buffer
	rt, th := lockTestRuntime(t, &recorder{}, &out)
	rt.keepReads("h1", "sha256:1\n--mrsk-read-- image 0\n"+
		"id2|app-web-v2|running|v2|web|img:v2|t\nid1|app-web-v1|exited|v1|web|img:v1|t\nid3|app-job-v1|exited|v1|job|img:v1|t\n--mrsk-read-- containers 0\n"+
		"--mrsk-read-- traefik 1\n")
	if !rt.hasImage("h1") || rt.hasImage("h2") {
		t.Errorf("hasImage h1 %v h2 %v, want true, false", rt.hasImage("h1"), rt.hasImage("h2"))
	}
	tests := []struct {
		role, version string
		all           bool
		want          []string
	}{
		{"web", "", false, []string{"app-web-v2"}},
		{"web", "", true, []string{"app-web-v2", "app-web-v1"}},
		{"", "v1", true, []string{"app-web-v1", "app-job-v1"}},
		{"web", "v3", true, nil},
	}
	for _, tt := range tests {
		got, ok := rt.keptPs("h1", tt.role, tt.version, tt.all)
		var names []string
		for _, c := range got {
			names = append(names, c.Name)
		}
		if !ok || len(names) != len(tt.want) || (len(names) > 0 && names[0] != tt.want[0]) || (len(names) > 1 && names[1] != tt.want[1]) {
			t.Errorf("keptPs(%q, %q, %v) = %v, %v; want %v", tt.role, tt.version, tt.all, names, ok, tt.want)
		}
	}
	if _, ok := rt.keptPs("h2", "web", "", false); ok {
		t.Error("h2 has answers it never read")
	}
	if ip := rt.traefikIPs["h1"]; ip != "" {
		t.Errorf("a failed traefik read kept %q", ip)
	}
	if _, err := rt.run(th, executor.Command{Host: "h1", Line: "docker start x"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.keptPs("h1", "web", "", false); ok || rt.hasImage("h1") {
		t.Error("answers kept after a command ran on the host")
	}
}
