package fleetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// startFleet starts n hosts and returns a client config that logs in.
func startFleet(t *testing.T, opts Options) (*Fleet, *ssh.ClientConfig) {
	t.Helper()
	dir := t.TempDir()
	pub, err := NewClientKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir, opts.ClientKey = filepath.Join(dir, "hosts"), pub
	f, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
}

func dial(t *testing.T, f *Fleet, i int, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", net.JoinHostPort(Address(i), strconv.Itoa(f.Port())), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs cmd on c and returns stdout and the exit status.
func run(t *testing.T, c *ssh.Client, cmd, stdin string) (string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	err = s.Run(cmd)
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String() + errb.String(), ee.ExitStatus()
	}
	t.Fatalf("%s: %v", cmd, err)
	return "", 0
}

func get(t *testing.T, c *ssh.Client, hostport, path string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return c.DialContext(ctx, "tcp", addr) },
	}, Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + hostport + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestShellAndFiles: the scripts mrsk sends (uploads, the lock, the audit
// log) run against the host's own files.
func TestShellAndFiles(t *testing.T) {
	f, cfg := startFleet(t, Options{Hosts: 2})
	c := dial(t, f, 0, cfg)
	for _, tc := range []struct {
		cmd, stdin, want string
		code             int
	}{
		{"umask 077 && mkdir -p .mrsk/env && cat > .mrsk/env/a.tmp && chmod 0600 .mrsk/env/a.tmp && mv .mrsk/env/a.tmp .mrsk/env/a", "K=V\n", "", 0},
		{"cat .mrsk/env/a", "", "K=V\n", 0},
		{"mkdir -p .mrsk && if mkdir .mrsk/lock 2>/dev/null; then cat > .mrsk/lock/details; else cat >/dev/null; echo LOCKED; cat .mrsk/lock/details; exit 3; fi", "me\n", "", 0},
		{"mkdir -p .mrsk && if mkdir .mrsk/lock 2>/dev/null; then cat > .mrsk/lock/details; else cat >/dev/null; echo LOCKED; cat .mrsk/lock/details; exit 3; fi", "you\n", "LOCKED\nme\n", 3},
		{"rm -rf .mrsk/lock && test ! -e .mrsk/lock && echo gone", "", "gone\n", 0},
		{"printf '%s\\n' 'line 1' >> .mrsk/audit.log; printf '%s\\n' 'line 2' >> .mrsk/audit.log; tail -n 1 .mrsk/audit.log", "", "line 2\n", 0},
		{"{ flock 9 && cp .mrsk/env/a .mrsk/env/b && test $(wc -c < .mrsk/env/b) -eq 4 && echo same; } 9>.mrsk/env/lock", "", "same\n", 0},
		{"cat /etc/hostname", "", "cat: /etc/hostname: ", 1},
		{"nosuchcommand", "", "sh: nosuchcommand: not found\n", 127},
	} {
		got, code := run(t, c, tc.cmd, tc.stdin)
		if code != tc.code || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s:\ngot %q (exit %d), want %q (exit %d)", tc.cmd, got, code, tc.want, tc.code)
		}
	}
	// Each host has its own files.
	if got, code := run(t, dial(t, f, 1, cfg), "cat .mrsk/env/a", ""); code == 0 {
		t.Errorf("host 2 sees host 1's file: %q", got)
	}
}

// TestDockerHealthAndTraefik walks one switch: Traefik and a container
// start, the container answers its health check through the SSH
// connection, a route file makes Traefik's API name it, a stop ends it.
func TestDockerHealthAndTraefik(t *testing.T) {
	f, cfg := startFleet(t, Options{Hosts: 1})
	c := dial(t, f, 0, cfg)
	inspect := `docker inspect -f '{{.Id}} {{with index .NetworkSettings.Networks "mrsk"}}{{.IPAddress}}{{end}}' `
	out, code := run(t, c, `{ docker network inspect mrsk >/dev/null 2>&1 || docker network create mrsk >/dev/null; } && docker run --detach --name traefik --label mrsk.config=abc --network mrsk traefik:v3 --api=true >/dev/null && `+inspect+`traefik`, "")
	if code != 0 {
		t.Fatalf("traefik: %s", out)
	}
	traefikIP := strings.Fields(out)[1]
	if got, _ := run(t, c, `docker inspect -f '{{index .Config.Labels "mrsk.config"}} {{.State.Running}}' traefik`, ""); got != "abc true\n" {
		t.Errorf("traefik labels: %q", got)
	}
	out, code = run(t, c, `docker run --detach --restart unless-stopped --name app-web-v1 --network mrsk -e A=1 --label service=app --label role=web --label version=v1 --label destination= app:v1 >/dev/null && `+inspect+`app-web-v1`, "")
	if code != 0 {
		t.Fatalf("run: %s", out)
	}
	id, ip := strings.Fields(out)[0], strings.Fields(out)[1]
	ps, _ := run(t, c, `docker ps --filter label=service=app --filter label=destination= --filter label=role=web --format '{{.ID}}|{{.Names}}|{{.State}}|{{.Label "version"}}|{{.Label "role"}}|{{.Image}}|{{.CreatedAt}}' --no-trunc`, "")
	if f := strings.Split(strings.TrimSpace(ps), "|"); len(f) != 7 || f[0] != id || f[1] != "app-web-v1" || f[2] != "running" || f[3] != "v1" || f[5] != "app:v1" {
		t.Errorf("ps: %q", ps)
	}
	if code, body := get(t, c, ip+":3000", "/up"); code != 200 {
		t.Errorf("health: %d %s", code, body)
	}
	api := net.JoinHostPort(traefikIP, "8080")
	if code, _ := get(t, c, api, "/api/http/services/app-web@file"); code != 404 {
		t.Errorf("no route yet: %d, want 404", code)
	}
	route := fmt.Sprintf("http:\n  services:\n    app-web:\n      loadBalancer:\n        servers:\n          - url: \"http://%s:3000\"\n", ip)
	if out, code := run(t, c, "mkdir -p .mrsk/traefik/dynamic && cat > .mrsk/traefik/dynamic/app-web.yml", route); code != 0 {
		t.Fatal(out)
	}
	code, body := get(t, c, api, "/api/http/services/app-web@file")
	var svc struct {
		LoadBalancer struct{ Servers []struct{ URL string } }
	}
	if code != 200 || json.Unmarshal([]byte(body), &svc) != nil || len(svc.LoadBalancer.Servers) != 1 || svc.LoadBalancer.Servers[0].URL != "http://"+ip+":3000" {
		t.Errorf("traefik API: %d %s", code, body)
	}
	if out, code := run(t, c, "docker stop -t 10 app-web-v1 >/dev/null && docker wait app-web-v1", ""); code != 0 || out != "0\n" {
		t.Errorf("stop and wait: %q %d", out, code)
	}
	if code, _ := get(t, c, ip+":3000", "/up"); code == 200 {
		t.Error("a stopped container still answers")
	}
	cs := f.Hosts()[0].Containers()
	if len(cs) != 2 || cs[1].Running {
		t.Errorf("containers: %+v", cs)
	}
}

// TestCrashAndUnhealthy: CRASH makes a container exit at once, UNHEALTHY
// makes it fail its check.
func TestCrashAndUnhealthy(t *testing.T) {
	f, cfg := startFleet(t, Options{Hosts: 1})
	c := dial(t, f, 0, cfg)
	out, code := run(t, c, `docker run -d --name a -e CRASH=1 app:v1 >/dev/null && docker inspect -f '{{.State.Running}} [{{with index .NetworkSettings.Networks "mrsk"}}{{.IPAddress}}{{end}}]' a && docker wait a`, "")
	if code != 0 || out != "false []\n1\n" {
		t.Errorf("crash: %q (exit %d)", out, code)
	}
	out, _ = run(t, c, `docker run -d --name b -e UNHEALTHY=1 app:v1 >/dev/null && docker inspect -f '{{with index .NetworkSettings.Networks "mrsk"}}{{.IPAddress}}{{end}}' b`, "")
	if code, _ := get(t, c, strings.TrimSpace(out)+":3000", "/up"); code != 503 {
		t.Errorf("unhealthy answered %d, want 503", code)
	}
}

// TestFaultsDownAndCounts: an injected fault fails its command, a down
// host refuses connections until it is up again, and every login and
// command is counted.
func TestFaultsDownAndCounts(t *testing.T) {
	f, cfg := startFleet(t, Options{Hosts: 3, Down: []int{2}, Latency: 20 * time.Millisecond,
		Faults: []Fault{{Host: Address(1), Match: "docker pull", Code: 9, Stderr: "pull access denied"}, {Match: "--hang", Hang: true}}})
	for i := 0; i < 2; i++ {
		c := dial(t, f, i, cfg)
		start := time.Now()
		out, code := run(t, c, "docker pull --quiet app:v1", "")
		if d := time.Since(start); d < 20*time.Millisecond {
			t.Errorf("host %d answered in %s, before the latency", i, d)
		}
		if want := map[int]int{0: 0, 1: 9}[i]; code != want {
			t.Errorf("host %d: pull exit %d (%q), want %d", i, code, out, want)
		}
	}
	// A hung command ends when the client gives up on its session.
	c := dial(t, f, 0, cfg)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run("docker ps --hang") }()
	select {
	case err := <-done:
		t.Fatalf("a hung command finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.Close()
	if err := <-done; err == nil {
		t.Error("a hung command reported success")
	}

	addr := net.JoinHostPort(Address(2), strconv.Itoa(f.Port()))
	if _, err := ssh.Dial("tcp", addr, cfg); err == nil {
		t.Fatal("a down host accepted a connection")
	}
	if err := f.Hosts()[2].SetDown(false); err != nil {
		t.Fatal(err)
	}
	run(t, dial(t, f, 2, cfg), "true", "")
	want := []Stats{{Handshakes: 2, Commands: 2}, {Handshakes: 1, Commands: 1}, {Handshakes: 1, Commands: 1}}
	if got := f.Stats(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats %v, want %v", got, want)
	}
	f.ResetStats()
	if got := f.Stats()[0]; got != (Stats{}) {
		t.Errorf("after reset: %v", got)
	}
}

type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

// TestBatchWriter: lines written together leave as one write; a lone line
// still leaves without Close (streams stream); Close sends the rest.
func TestBatchWriter(t *testing.T) {
	var c countingWriter
	b := newBatchWriter(&c)
	for i := range 100 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	b.Close()
	if w := c.got(); len(w) != 1 || strings.Count(w[0], "\n") != 100 {
		t.Fatalf("%d writes, want 1 holding 100 lines", len(w))
	}
	fmt.Fprintln(b, "streamed")
	deadline := time.Now().Add(5 * time.Second)
	for len(c.got()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a lone write never left")
		}
		time.Sleep(time.Millisecond)
	}
	big := strings.Repeat("x", batchMax)
	b.Write([]byte(big))
	if w := c.got(); len(w) != 3 || w[2] != big {
		t.Errorf("a full batch did not leave at once: %d writes", len(w))
	}
	b.Close()
}
