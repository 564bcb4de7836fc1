package builtins

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/traefik"
)

// markShell runs the route scripts (they hold flock) in a directory that
// stands for the host's home, records every other command without
// running it, and dials every address to one test server (Traefik).
type markShell struct {
	homeShell
	srv string

	mu   sync.Mutex
	log  []string
	seen func() string // what the fake Traefik has served so far
}

func (s *markShell) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	s.mu.Lock()
	s.log = append(s.log, c.Line+"  [traefik had served: "+s.seen()+"]")
	s.mu.Unlock()
	if strings.Contains(c.Line, "flock 9") {
		return s.homeShell.Run(ctx, c)
	}
	return executor.Result{}, nil
}

func (s *markShell) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "tcp", s.srv)
}

// An undo after the route was written must not take Traefik's API showing
// the previous servers for its restore: Traefik showed the same servers
// before the write, and a reading of the write can still be applied after
// the check (its reload throttle). The fake Traefik here shows the old
// servers throughout and the restore's mark only a while after the
// restore; the container named by the undone write is stopped only after
// the mark was served.
func TestUndoWaitsForRestoreMark(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock here")
	}
	const key = "app-web"
	home := t.TempDir()
	oldRoute := testRoute(t, key, "http://10.0.0.5:3000")
	newRoute := testRoute(t, key, "http://10.0.0.6:3000")

	var mu sync.Mutex
	markReads, served := 0, "nothing"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/api/http/services/" + key + "@file":
			// Stale: what Traefik showed before the write.
			w.Write([]byte(`{"loadBalancer":{"servers":[{"url":"http://10.0.0.5:3000"}]}}`))
		case "/api/http/middlewares/" + traefik.MarkName(key) + "@file":
			// The restore's reading comes through a few reads later.
			markReads++
			b, err := os.ReadFile(filepath.Join(home, routeDir, traefik.MarkFile(key)))
			if err != nil || markReads < 5 {
				http.NotFound(w, r)
				return
			}
			gen := strings.TrimSuffix(string(b[strings.LastIndex(string(b), ": ")+2:]), "\n")
			served = "mark"
			w.Write([]byte(`{"headers":{"customRequestHeaders":{"X-Mrsk-Restored":` + gen + `}},"status":"enabled"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ex := &markShell{homeShell: homeShell{dir: home}, srv: srv.Listener.Addr().String(),
		seen: func() string { mu.Lock(); defer mu.Unlock(); return served }}

	var out bytes.Buffer
	cfg := &config.Config{Service: "app", PrimaryRole: "web", Roles: []*config.Role{{Name: "web", Hosts: []string{"h1"}}}}
	rt := NewRuntime(cfg, ex, output.New(&out, false), Options{Version: "v2"})
	rt.traefikIPs["h1"] = "10.0.0.9"
	if err := os.MkdirAll(filepath.Join(home, routeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, routeDir, key+".yml"), []byte(oldRoute), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := ex.homeShell.Run(context.Background(), executor.Command{Line: rt.routeWriteLine(key, newRoute)}); err != nil {
		t.Fatalf("write: %v %s", err, res.Stderr)
	}
	sw := rt.beginSwitch("h1", "c2", "app-web-v2", undoRemove)
	sw.mu.Lock()
	sw.phase, sw.key = phaseRouteWritten, key
	sw.mu.Unlock()

	if err := rt.undoSwitch(context.Background(), sw); err != nil {
		t.Fatal(err)
	}
	if got := readRoute(t, home, key); got != oldRoute {
		t.Fatalf("route after the undo:\n%s", got)
	}
	var stops []string
	for _, l := range ex.log {
		if strings.Contains(l, "docker rm -f c2") || strings.Contains(l, "docker stop") {
			stops = append(stops, l)
		}
	}
	if len(stops) != 1 || !strings.HasSuffix(stops[0], "[traefik had served: mark]") {
		t.Fatalf("the undone container was stopped before Traefik showed the restore's mark:\n%s\n%s", strings.Join(ex.log, "\n"), out.String())
	}
	if !strings.Contains(out.String(), "Traefik routes app-web back to http://10.0.0.5:3000") {
		t.Errorf("output:\n%s", out.String())
	}
}
