package builtins

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mrsk-go/mrsk/traefik"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// A canary's undo writes old's route itself (not the backup, which a
// later step's write replaced), fenced: a step's write cut off and
// resumed after the undo does not land.
func TestCanaryRestoreTo(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock here")
	}
	const key = "hey-web"
	home := t.TempDir()
	rt := testRuntime("run1")
	oldRoute := testRoute(t, key, "http://10.0.0.5:3000")
	l, _ := dynamic.Decode(nil)
	split := func(w int) string {
		f, _, err := l.Render(dynamic.Options{Key: key, URL: "http://10.0.0.5:3000",
			Canary: &dynamic.Canary{URL: "http://10.0.0.6:3000", Weight: w, Stable: key + "--v1", New: key + "--v2"}})
		if err != nil {
			t.Fatal(err)
		}
		return string(f)
	}
	if err := os.MkdirAll(filepath.Join(home, routeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, routeDir, key+".yml"), []byte(oldRoute), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{10, 50} { // two steps: the backup is the 10% split now
		if out, err := sh(t, home, rt.routeWriteLine(key, split(w)), ""); err != nil {
			t.Fatalf("write %d%%: %v\n%s", w, err, out)
		}
	}
	if sp, ok := dynamic.ReadSplit([]byte(readRoute(t, home, key)), key); !ok || sp.Weight != 50 {
		t.Fatalf("route after the steps: %+v %v", sp, ok)
	}
	out, err := sh(t, home, rt.restoreToLine(key, oldRoute, "run1.1"), "")
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if got := readMark(t, home, key); got != traefik.MarkContent(key, "run1.1") {
		t.Fatalf("mark after restore: %q", got)
	}
	if out != oldRoute || readRoute(t, home, key) != oldRoute {
		t.Fatalf("restored route:\n%s\nwant\n%s", readRoute(t, home, key), oldRoute)
	}
	// A step's write resumed after the undo finds the fence.
	if _, err := sh(t, home, rt.routeWriteLine(key, split(50)), ""); err == nil {
		t.Fatal("a write after the undo ran")
	}
	if readRoute(t, home, key) != oldRoute {
		t.Fatalf("a late write landed:\n%s", readRoute(t, home, key))
	}
}
