package sshpool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// writeKnownHosts writes content to file and sets its modification time
// to mtime (a time well in the past makes the parse cacheable: see
// racyWindow).
func writeKnownHosts(t testing.TB, file, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// checkKey runs db's host key check of key for addr.
func checkKey(t *testing.T, c *knownHostsCache, files knownHostsFiles, addr string, key ssh.PublicKey) error {
	t.Helper()
	db, err := c.open(files)
	if err != nil {
		t.Fatal(err)
	}
	return db.HostKeyCallback()(addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, key)
}

func TestKnownHostsCacheKeepsParseOfUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "known_hosts")
	files := knownHostsFiles{user: []string{user, filepath.Join(dir, "known_hosts2")}, global: []string{filepath.Join(dir, "global")}}
	key := newEd25519Signer(t).PublicKey()
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, key)+"\n", time.Now().Add(-time.Hour))
	var c knownHostsCache
	db1, err := c.open(files)
	if err != nil {
		t.Fatal(err)
	}
	db2, err := c.open(files)
	if err != nil {
		t.Fatal(err)
	}
	if db1 != db2 {
		t.Error("unchanged files parsed again")
	}
	if db3, ok, err := c.cached(files); err != nil || !ok || db3 != db1 {
		t.Errorf("cached = %p, %v, %v; want the parse %p", db3, ok, err, db1)
	}
	// Another list of files is another parse.
	other := knownHostsFiles{user: []string{user}}
	if db, ok, _ := c.cached(other); ok {
		t.Errorf("cached(%v) = %p from another list of files", other, db)
	}
}

func TestKnownHostsCacheRereadsChangedFile(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "known_hosts")
	global := filepath.Join(dir, "ssh_known_hosts")
	files := knownHostsFiles{user: []string{user}, global: []string{global}}
	oldKey, newKey := newEd25519Signer(t).PublicKey(), newEd25519Signer(t).PublicKey()
	past := time.Now().Add(-time.Hour)
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, oldKey)+"\n", past)
	var c knownHostsCache
	if err := checkKey(t, &c, files, "h.example:22", oldKey); err != nil {
		t.Fatalf("recorded key refused: %v", err)
	}

	// Rewritten in place by someone else, to the same size: the new
	// modification time tells.
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, newKey)+"\n", past.Add(time.Minute))
	if err := checkKey(t, &c, files, "h.example:22", newKey); err != nil {
		t.Fatalf("key rewritten on disk not seen: %v", err)
	}
	if err := checkKey(t, &c, files, "h.example:22", oldKey); err == nil {
		t.Fatal("key replaced on disk still accepted")
	}

	// A file that did not exist appears.
	other := newEd25519Signer(t).PublicKey()
	writeKnownHosts(t, global, knownhosts.Line([]string{"g.example"}, other)+"\n", past)
	if err := checkKey(t, &c, files, "g.example:22", other); err != nil {
		t.Fatalf("new global file not read: %v", err)
	}

	// And goes away again.
	if err := os.Remove(global); err != nil {
		t.Fatal(err)
	}
	var ke *knownhosts.KeyError
	if err := checkKey(t, &c, files, "g.example:22", other); !errors.As(err, &ke) || len(ke.Want) != 0 {
		t.Fatalf("removed file still read: %v", err)
	}

	// A file that cannot be looked at is an error (root can look).
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o300); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		if _, err := c.open(files); err == nil {
			t.Error("unreadable directory: no error")
		}
	}
}

func TestKnownHostsCacheRacyFileNotKept(t *testing.T) {
	// A file modified just now can be modified again within the same
	// tick of the file system's clock, leaving the same size and time:
	// its parse is not kept.
	dir := t.TempDir()
	user := filepath.Join(dir, "known_hosts")
	files := knownHostsFiles{user: []string{user}}
	k1, k2 := newEd25519Signer(t).PublicKey(), newEd25519Signer(t).PublicKey()
	now := time.Now()
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, k1)+"\n", now)
	var c knownHostsCache
	if err := checkKey(t, &c, files, "h.example:22", k1); err != nil {
		t.Fatal(err)
	}
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, k2)+"\n", now)
	if err := checkKey(t, &c, files, "h.example:22", k2); err != nil {
		t.Fatalf("same size, same time, new key: not seen: %v", err)
	}
}

func TestKnownHostsCacheInvalidate(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "known_hosts")
	key := newEd25519Signer(t).PublicKey()
	writeKnownHosts(t, user, knownhosts.Line([]string{"h.example"}, key)+"\n", time.Now().Add(-time.Hour))
	var c knownHostsCache
	a := knownHostsFiles{user: []string{user}}
	b := knownHostsFiles{user: []string{filepath.Join(dir, "other")}, global: []string{user}}
	unrelated := knownHostsFiles{user: []string{filepath.Join(dir, "unrelated")}}
	for _, f := range []knownHostsFiles{a, b, unrelated} {
		if _, err := c.open(f); err != nil {
			t.Fatal(err)
		}
	}
	c.invalidate(user)
	for _, f := range []knownHostsFiles{a, b} {
		if _, ok, _ := c.cached(f); ok {
			t.Errorf("%v still cached after its file was written", f)
		}
	}
	if _, ok, _ := c.cached(unrelated); !ok {
		t.Error("an unrelated parse was dropped")
	}
}

// TestKeyLearnedMidRunSeenByNextConnection: accept-new records a host on
// the first connection; the connection after a drop finds it recorded
// (no second line, no second notice), and a key changed on disk in the
// meantime is seen by the connection after that.
func TestKeyLearnedMidRunSeenByNextConnection(t *testing.T) {
	e := newEnv(t)
	s1, s2 := e.server(), e.server()
	// known_hosts exists, and is old enough for its parse to be kept.
	stranger := knownhosts.Line([]string{"other.example"}, newEd25519Signer(t).PublicKey()) + "\n"
	writeKnownHosts(t, e.knownHosts, stranger, time.Now().Add(-time.Hour))
	p := e.pool(nil)
	mustRun(t, p, s1.host, "true")
	want := stranger + knownhosts.Line([]string{s1.host}, s1.hostKey()) + "\n"
	if data, _ := os.ReadFile(e.knownHosts); string(data) != want {
		t.Fatalf("known_hosts %q, want %q", data, want)
	}
	// Another host, then s1 again on a new connection.
	mustRun(t, p, s2.host, "true")
	s1.dropConns()
	waitDropped(t, p, s1.host)
	mustRun(t, p, s1.host, "true")
	if n := s1.conns.Load(); n != 2 {
		t.Fatalf("%d connections to s1, want 2", n)
	}
	data, _ := os.ReadFile(e.knownHosts)
	if got := strings.Count(string(data), knownhosts.Line([]string{s1.host}, s1.hostKey())); got != 1 {
		t.Errorf("s1 recorded %d times:\n%s", got, data)
	}
	if n := len(e.noticeList()); n != 2 {
		t.Errorf("notices %q, want one per host", e.noticeList())
	}

	// Someone records another key for s1 (same length: only the time
	// differs); the next connection refuses.
	changed := strings.Replace(string(data), knownhosts.Line([]string{s1.host}, s1.hostKey()),
		knownhosts.Line([]string{s1.host}, newEd25519Signer(t).PublicKey()), 1)
	if len(changed) != len(data) {
		t.Fatal("test: lengths differ")
	}
	writeKnownHosts(t, e.knownHosts, changed, time.Now().Add(-30*time.Minute))
	s1.dropConns()
	waitDropped(t, p, s1.host)
	_, _, err := run(t, p, s1.host, "true")
	var hk *HostKeyChangedError
	if !errors.As(err, &hk) {
		t.Fatalf("key changed on disk: got %v, want a changed host key", err)
	}
}

// waitDropped waits until the pool has noticed that host's connection
// ended, so that the next Run dials.
func waitDropped(t *testing.T, p *Pool, host string) {
	t.Helper()
	ep, err := p.resolve(host, true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.entry(ep)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		c := h.client
		h.mu.Unlock()
		if c == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("connection still held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectRunsNothing(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	p := e.pool(nil)
	ctx := t.Context()
	for range 3 {
		if err := p.Connect(ctx, s.host); err != nil {
			t.Fatal(err)
		}
	}
	if s.conns.Load() != 1 || s.totalExecs.Load() != 0 {
		t.Fatalf("%d connections, %d commands; want 1 and 0", s.conns.Load(), s.totalExecs.Load())
	}
	// The connection is the one Run uses.
	mustRun(t, p, s.host, "true")
	if s.conns.Load() != 1 {
		t.Errorf("%d connections after Run, want 1", s.conns.Load())
	}

	// Errors are Run's.
	down := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	cerr := p.Connect(ctx, down)
	_, _, rerr := run(t, p, down, "true")
	if cerr == nil || rerr == nil || cerr.Error() != rerr.Error() {
		t.Errorf("Connect: %v; Run: %v; want the same error", cerr, rerr)
	}
	p.Close()
	if err := p.Connect(ctx, s.host); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestGatedWriterReadFrom(t *testing.T) {
	g := &gate{}
	var out bytes.Buffer
	w := &gatedWriter{g: g, w: &out}
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*copyBufSize/16+5)
	n, err := io.Copy(w, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copied %d (err %v), %d bytes arrived; want %d", n, err, out.Len(), len(data))
	}
	// Closed: the rest is drained and dropped.
	g.close()
	n, err = w.ReadFrom(bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || out.Len() != len(data) {
		t.Fatalf("after close: %d (err %v), %d bytes arrived; want the input drained, nothing written", n, err, out.Len())
	}
	// Errors of either side end the copy.
	boom := errors.New("boom")
	if _, err := (&gatedWriter{g: &gate{}, w: errWriter{boom}}).ReadFrom(bytes.NewReader(data)); err != boom {
		t.Errorf("write error: %v", err)
	}
	if _, err := (&gatedWriter{g: &gate{}, w: io.Discard}).ReadFrom(io.MultiReader(bytes.NewReader(data), errReader{boom})); err != boom {
		t.Errorf("read error: %v", err)
	}
}

func TestGatedReaderWriteTo(t *testing.T) {
	g := &gate{}
	data := bytes.Repeat([]byte("x"), 2*copyBufSize+3)
	var out bytes.Buffer
	n, err := io.Copy(&out, &gatedReader{g: g, r: bytes.NewReader(data)})
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copied %d (err %v); want %d", n, err, len(data))
	}
	g.close()
	out.Reset()
	if n, err := io.Copy(&out, &gatedReader{g: g, r: bytes.NewReader(data)}); err != nil || n != 0 {
		t.Fatalf("after close: copied %d (err %v); want nothing", n, err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// BenchmarkKnownHostsLookup is the known_hosts lookup of every new
// connection (twice: algorithms, then the key check) with 200 hosts
// recorded: a parse each time, as before the cache, and the cache.
func BenchmarkKnownHostsLookup(b *testing.B) {
	dir := b.TempDir()
	user := filepath.Join(dir, "known_hosts")
	var sb strings.Builder
	key := newEd25519Signer(b).PublicKey()
	for i := range 200 {
		sb.WriteString(knownhosts.Line([]string{fmt.Sprintf("[127.0.%d.%d]:2222", i/250, i%250+1)}, key) + "\n")
	}
	writeKnownHosts(b, user, sb.String(), time.Now().Add(-time.Hour))
	files := knownHostsFiles{user: []string{user, filepath.Join(dir, "known_hosts2")}, global: []string{filepath.Join(dir, "global")}}
	addr := "127.0.0.100:2222"
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			existing, _, err := statKnownHosts(files)
			if err != nil {
				b.Fatal(err)
			}
			db, err := parseKnownHosts(existing)
			if err != nil {
				b.Fatal(err)
			}
			hostKeyAlgorithms(db, addr)
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		var c knownHostsCache
		for b.Loop() {
			db, err := c.open(files)
			if err != nil {
				b.Fatal(err)
			}
			hostKeyAlgorithms(db, addr)
		}
	})
}

// BenchmarkRunOutput runs commands whose stdout and stderr are read (as
// every flow command's are): allocations per command show the copy
// buffers.
func BenchmarkRunOutput(b *testing.B) {
	e := newEnv(b)
	s := e.server()
	p := e.pool(nil)
	ctx := b.Context()
	var out, errOut bytes.Buffer
	if err := p.Run(ctx, s.host, "echo hello", nil, &out, &errOut); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		errOut.Reset()
		if err := p.Run(ctx, s.host, "echo hello", nil, &out, &errOut); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTargetResolvesOnce(t *testing.T) {
	e := newEnv(t)
	cfg := filepath.Join(e.home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("Host web1\n  HostName 10.0.0.1\n  User deploy\n  Port 2222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.pool(func(o *Options) { o.ConfigFile = cfg })
	ep1, err := p.target("web1")
	if err != nil {
		t.Fatal(err)
	}
	ep2, _ := p.target("web1")
	want, _ := p.resolve("web1", true, nil, 0)
	if ep1 != ep2 || ep1.label != "deploy@10.0.0.1:2222" || ep1.key != want.key {
		t.Errorf("target: %p %p %q, want one endpoint like resolve's %q", ep1, ep2, ep1.label, want.label)
	}
	_, err1 := p.target("user@")
	_, err2 := p.target("user@")
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Errorf("bad host: %v, then %v", err1, err2)
	}
}

// BenchmarkTarget is the host lookup of every Run: resolving the host
// string (ssh config, known_hosts files, tokens) each time, as before,
// and once per host.
func BenchmarkTarget(b *testing.B) {
	e := newEnv(b)
	cfg := filepath.Join(e.home, ".ssh", "config")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte("Host *.internal\n  User deploy\n  IdentityFile ~/.ssh/deploy\nHost *\n  ServerAliveInterval 30\n"), 0o600)
	p := e.pool(func(o *Options) { o.ConfigFile = cfg })
	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.resolve("web1.internal", true, nil, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("target", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.target("web1.internal"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestKeyFileCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "id")
	old := time.Now().Add(-time.Hour)
	k1 := writeKeyFile(t, path)
	os.Chtimes(path, old, old)
	var c keyFileCache
	s1, err := c.load(path)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := c.load(path)
	if s1 != s2 || !bytes.Equal(s1.PublicKey().Marshal(), k1.PublicKey().Marshal()) {
		t.Error("unchanged key file read again, or the wrong key")
	}
	// Replaced by another key: read again.
	k2 := writeKeyFile(t, path)
	os.Chtimes(path, old.Add(time.Minute), old.Add(time.Minute))
	if s, err := c.load(path); err != nil || !bytes.Equal(s.PublicKey().Marshal(), k2.PublicKey().Marshal()) {
		t.Errorf("replaced key file: %v, %v", s, err)
	}
	// Just modified: not kept.
	writeKeyFile(t, path)
	c.load(path)
	k4 := writeKeyFile(t, path)
	if s, err := c.load(path); err != nil || !bytes.Equal(s.PublicKey().Marshal(), k4.PublicKey().Marshal()) {
		t.Errorf("key file rewritten just now: %v, %v", s, err)
	}
	// Gone: the error, as before.
	os.Remove(path)
	if _, err := c.load(path); !os.IsNotExist(err) {
		t.Errorf("removed key file: %v", err)
	}
}

// BenchmarkConnectFleet opens connections to 64 hosts whose every packet
// takes 5 ms: handshakes are round trips, so how many run at once is
// what opening a fleet waits on.
func BenchmarkConnectFleet(b *testing.B) {
	e := newEnv(b)
	var servers []*testServer
	for range 64 {
		servers = append(servers, e.server(withWriteDelay(5*time.Millisecond)))
	}
	for _, max := range []int{8, DefaultMaxHandshakes} {
		b.Run(fmt.Sprintf("MaxHandshakes=%d", max), func(b *testing.B) {
			for b.Loop() {
				p := e.pool(func(o *Options) { o.MaxHandshakes = max })
				var wg sync.WaitGroup
				for _, s := range servers {
					wg.Go(func() {
						if err := p.Connect(b.Context(), s.host); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				p.Close()
			}
		})
	}
}
