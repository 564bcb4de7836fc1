package builtins

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/localregistry"
	"github.com/mrsk-go/mrsk/output"
)

// fakeHost plays a host for pulls in local mode: Listen opens a real
// listener on our loopback (standing for the host's), and Run answers the
// pull command as engine does, by fetching through that port; answer may
// replace that.
type fakeHost struct {
	refuse bool
	answer func(ctx context.Context, port string) (executor.Result, error)

	mu    sync.Mutex
	ports []string
	lines []string
}

func (h *fakeHost) Listen(ctx context.Context, host, addr string) (net.Listener, error) {
	if h.refuse {
		return nil, fmt.Errorf("ssh %s: listen on tcp %s: tcpip-forward request denied by peer", host, addr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		h.mu.Lock()
		h.ports = append(h.ports, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
		h.mu.Unlock()
	}
	return ln, err
}

var pullRE = regexp.MustCompile(`docker pull --quiet 127\.0\.0\.1:(\d+)/app:v1 && docker tag 127\.0\.0\.1:\d+/app:v1 localhost/app:v1; rc=\$\?; docker rmi`)

func (h *fakeHost) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	h.mu.Lock()
	h.lines = append(h.lines, c.Line)
	h.mu.Unlock()
	m := pullRE.FindStringSubmatch(c.Line)
	if m == nil {
		return executor.Result{}, fmt.Errorf("unexpected command %q", c.Line)
	}
	if h.answer != nil {
		return h.answer(ctx, m[1])
	}
	return executor.Result{}, fetchImage(ctx, m[1])
}

func (h *fakeHost) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, executor.ErrDryRun
}
func (*fakeHost) DryRun() bool { return false }
func (*fakeHost) Close() error { return nil }

// fetchImage fetches app:v1's manifest and blobs through port.
func fetchImage(ctx context.Context, port string) error {
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+port+"/v2/app/"+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	b, err := get("manifests/v1")
	if err != nil {
		return err
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	json.Unmarshal(b, &m)
	for _, d := range append(m.Layers, m.Config) {
		if _, err := get("blobs/" + d.Digest); err != nil {
			return err
		}
	}
	return nil
}

// cacheWithApp fills a cache (MRSK_IMAGE_CACHE) with app:v1 as docker save
// would hand it over.
func cacheWithApp(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MRSK_IMAGE_CACHE", filepath.Join(dir, "cache"))
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	content := bytes.Repeat([]byte("app "), 64<<10)
	tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	sum := sha256.Sum256(layer.Bytes())
	config, _ := json.Marshal(map[string]any{"os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}}})
	var save bytes.Buffer
	tw = tar.NewWriter(&save)
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"l1/layer.tar", layer.Bytes()},
		{"config.json", config},
		{"manifest.json", []byte(`[{"Config":"config.json","Layers":["l1/layer.tar"]}]`)},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.b)), Typeflag: tar.TypeReg})
		tw.Write(f.b)
	}
	tw.Close()
	p := filepath.Join(dir, "save.tar")
	os.WriteFile(p, save.Bytes(), 0o600)
	c, err := localregistry.OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(p, "app", "v1"); err != nil {
		t.Fatal(err)
	}
}

func localTestRuntime(t *testing.T, ex executor.Executor, out *bytes.Buffer) (*Runtime, *starlark.Thread, context.CancelFunc) {
	cfg := &config.Config{File: "config/deploy.yml", Service: "app", Image: "app", PrimaryRole: "web",
		Registry: config.Registry{Server: config.LocalServer},
		Roles:    []*config.Role{{Name: "web", Hosts: []string{"h1"}}}}
	rt := NewRuntime(cfg, ex, output.New(out, false), Options{Version: "v1", Performer: "tester"})
	ctx, cancel := context.WithCancel(context.Background())
	th := &starlark.Thread{Name: "test"}
	th.SetLocal(LocalRuntime, rt)
	th.SetLocal("mrsk.context", ctx) // engine's key for the flow's context
	t.Cleanup(func() { cancel(); rt.RunCleanups(context.Background()) })
	return rt, th, cancel
}

// assertClosed fails unless nothing listens on any port the pulls opened.
func assertClosed(t *testing.T, h *fakeHost) {
	t.Helper()
	if len(h.ports) == 0 {
		return
	}
	for _, p := range h.ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
			c.Close()
			t.Errorf("the forwarded port %s still takes connections after the pull", p)
		}
	}
}

func TestPullLocal(t *testing.T) {
	cacheWithApp(t)
	blocked := make(chan struct{})
	tests := []struct {
		name    string
		host    *fakeHost
		cancel  bool
		wantErr string
		wantOut string
	}{
		{name: "pulled", host: &fakeHost{}, wantOut: `\[h1\] pulled localhost/app:v1: sent [0-9.]+ kB \(\d+ bytes; the whole image is`},
		{name: "forward refused", host: &fakeHost{refuse: true},
			wantErr: "pull on h1: the host would not open a port for mrsk's image cache (its sshd must allow TCP forwarding: AllowTcpForwarding): ssh h1: listen on tcp 127.0.0.1:0: tcpip-forward request denied by peer"},
		{name: "engine cannot reach the port", host: &fakeHost{answer: func(ctx context.Context, port string) (executor.Result, error) {
			stderr := "Error response from daemon: Get \"https://127.0.0.1:" + port + "/v2/\": dial tcp 127.0.0.1:" + port + ": connect: connection refused"
			return executor.Result{Stderr: stderr, Code: 1}, &executor.CommandError{Host: "h1", Command: "docker pull", Code: 1, Stderr: stderr}
		}}, wantErr: "pull on h1: the host's container engine could not reach mrsk's image cache at 127.0.0.1:"},
		{name: "disk full", host: &fakeHost{answer: func(ctx context.Context, port string) (executor.Result, error) {
			fetchImage(ctx, port)
			stderr := "failed to register layer: Error processing tar file(exit status 1): write /app: no space left on device"
			return executor.Result{Stderr: stderr, Code: 1}, &executor.CommandError{Host: "h1", Command: "docker pull", Code: 1, Stderr: stderr}
		}}, wantErr: "pull on h1: the host's disk is full (no space left on device); no image was tagged there"},
		{name: "interrupted", cancel: true, host: &fakeHost{answer: func(ctx context.Context, port string) (executor.Result, error) {
			close(blocked)
			<-ctx.Done()
			return executor.Result{}, fmt.Errorf("on h1: %q: %w", "docker pull", ctx.Err())
		}}, wantErr: "pull on h1 interrupted after 0 B sent; no image was tagged there"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			rt, th, cancel := localTestRuntime(t, tc.host, &out)
			if tc.cancel {
				go func() { <-blocked; cancel() }()
			}
			err := rt.pullLocal(th, "h1")
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v\nwant %q", err, tc.wantErr)
			}
			if tc.wantOut != "" && !regexp.MustCompile(tc.wantOut).MatchString(out.String()) {
				t.Fatalf("output %q\nwant %q", out.String(), tc.wantOut)
			}
			assertClosed(t, tc.host)
		})
	}
}

// TestPullLocalMissing: a version not in the cache fails before any
// forward, saying how to put it there.
func TestPullLocalMissing(t *testing.T) {
	cacheWithApp(t)
	h := &fakeHost{}
	var out bytes.Buffer
	rt, th, _ := localTestRuntime(t, h, &out)
	rt.Opts.Version = "v2"
	err := rt.pullLocal(th, "h1")
	if err == nil || !strings.Contains(err.Error(), "pull on h1: app:v2 is not in the image cache") || !strings.Contains(err.Error(), "mrsk build push") {
		t.Fatalf("error %v", err)
	}
	if len(h.ports) != 0 || len(h.lines) != 0 {
		t.Fatalf("ports %v, commands %v", h.ports, h.lines)
	}
}
