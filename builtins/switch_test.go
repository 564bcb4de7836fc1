package builtins

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/traefik"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// sh runs line with /bin/sh in dir (standing in for a host's home).
func sh(t *testing.T, dir, line, stdin string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func testRuntime(runID string) *Runtime {
	rt := NewRuntime(&config.Config{Service: "hey"}, nil, nil, Options{})
	rt.runID = runID
	return rt
}

// testRoute is the route file of role key without labels, to url.
func testRoute(t *testing.T, key, url string) string {
	t.Helper()
	l, err := dynamic.Decode(nil)
	if err != nil {
		t.Fatal(err)
	}
	file, _, err := l.Render(dynamic.Options{Key: key, URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return string(file)
}

func readRoute(t *testing.T, home, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, routeDir, key+".yml"))
	if os.IsNotExist(err) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readMark(t *testing.T, home, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, routeDir, traefik.MarkFile(key)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The route write and its restore, run by a real shell: every order in
// which an interrupted write and the restore can meet ends with the route
// the host had before.
func TestRouteWriteRestore(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock here")
	}
	const key = "hey-web"
	oldRoute := testRoute(t, key, "http://10.0.0.5:3000")
	newRoute := testRoute(t, key, "http://10.0.0.6:3000")
	tests := []struct {
		name      string
		before    string // "" means no route file
		write     bool   // whether this run's write reached the host before the restore
		lateWrite bool   // a write that starts only after the restore (cut off, then resumed)
		want      string
		wantURLs  []string
	}{
		{name: "written then restored", before: oldRoute, write: true, want: oldRoute, wantURLs: []string{"http://10.0.0.5:3000"}},
		{name: "never written", before: oldRoute, want: oldRoute, wantURLs: []string{"http://10.0.0.5:3000"}},
		{name: "write lands after the restore", before: oldRoute, lateWrite: true, want: oldRoute, wantURLs: []string{"http://10.0.0.5:3000"}},
		{name: "first deploy written then restored", write: true, want: "(none)"},
		{name: "first deploy never written", want: "(none)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			rt := testRuntime("run1")
			if tc.before != "" {
				// A route an earlier run wrote, and that run's backup.
				earlier := testRuntime("run0")
				if _, err := sh(t, home, earlier.routeWriteLine(key, tc.before), ""); err != nil {
					t.Fatal(err)
				}
			}
			if tc.write {
				if out, err := sh(t, home, rt.routeWriteLine(key, newRoute), ""); err != nil {
					t.Fatalf("write: %v\n%s", err, out)
				}
				if got := readRoute(t, home, key); got != newRoute {
					t.Fatalf("after write: route is %q", got)
				}
			}
			out, err := sh(t, home, rt.restoreLine(key, "run1.1"), "")
			if err != nil {
				t.Fatalf("restore: %v\n%s", err, out)
			}
			if tc.lateWrite {
				if _, err := sh(t, home, rt.routeWriteLine(key, newRoute), ""); err == nil {
					t.Fatal("a write after the restore landed")
				}
			}
			if got := readRoute(t, home, key); got != tc.want {
				t.Errorf("route after restore:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := dynamic.ServerURLs([]byte(out)); !traefik.SameServers(got, tc.wantURLs) {
				t.Errorf("restore reported servers %v, want %v", got, tc.wantURLs)
			}
			// The restore's mark is there, after the route, whatever the
			// write did.
			if got := readMark(t, home, key); got != traefik.MarkContent(key, "run1.1") {
				t.Errorf("mark after restore: %q", got)
			}
			// Nothing else Traefik would load is left beside the route.
			entries, _ := os.ReadDir(filepath.Join(home, routeDir))
			for _, e := range entries {
				if n := e.Name(); n != key+".yml" && n != traefik.MarkFile(key) && strings.HasSuffix(n, ".yml") {
					t.Errorf("stray file in the route directory: %s", n)
				}
			}
		})
	}
}

// A later run's write clears an earlier run's backup: a restore never puts
// back a route older than the one its own run replaced.
func TestRouteBackupIsPerRun(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock here")
	}
	const key = "hey-web"
	home := t.TempDir()
	r1 := testRoute(t, key, "http://10.0.0.1:3000")
	r2 := testRoute(t, key, "http://10.0.0.2:3000")
	r3 := testRoute(t, key, "http://10.0.0.3:3000")
	for i, r := range []string{r1, r2} {
		rt := testRuntime(string(rune('a' + i)))
		if out, err := sh(t, home, rt.routeWriteLine(key, r), ""); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	rt := testRuntime("c")
	// Run c was cut off before its write reached the host: its restore
	// must leave r2 (not put back r1 from run b's backup).
	if _, err := sh(t, home, rt.restoreLine(key, "c.1"), ""); err != nil {
		t.Fatal(err)
	}
	if got := readRoute(t, home, key); got != r2 {
		t.Fatalf("route is %q, want r2", got)
	}
	if out, err := sh(t, home, testRuntime("d").routeWriteLine(key, r3), ""); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := sh(t, home, testRuntime("d").restoreLine(key, "d.1"), ""); err != nil {
		t.Fatal(err)
	}
	if got := readRoute(t, home, key); got != r2 {
		t.Fatalf("route is %q, want r2", got)
	}
}
