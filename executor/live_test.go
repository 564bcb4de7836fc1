package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mrsk-go/mrsk/output"
)

// fakeRemote runs every command with fn.
type fakeRemote struct {
	fn func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error
}

func (f *fakeRemote) Run(ctx context.Context, host, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	return f.fn(ctx, host, cmd, stdout, stderr)
}

func (f *fakeRemote) Dial(ctx context.Context, host, network, addr string) (net.Conn, error) {
	return nil, errors.New("no dial")
}

func (f *fakeRemote) Close() error { return nil }

func TestTailBuffer(t *testing.T) {
	for _, tt := range []struct {
		max    int
		writes []string
		want   string
		trunc  bool
	}{
		{8, nil, "", false},
		{8, []string{"abc"}, "abc", false},
		{8, []string{"abc", "defgh"}, "abcdefgh", false},
		{8, []string{"abc", "defgh", "i"}, "bcdefghi", true},
		{8, []string{"abcdefghijkl"}, "efghijkl", true},
		{8, []string{"abcdefgh", "ijklmnopq"}, "jklmnopq", true},
		{8, []string{"abcde", "fghij", "klmno", "pq"}, "ijklmnopq"[1:], true},
		{8, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, "cdefghij", true},
		{8, []string{"abcdefg", "hijklmn"}, "ghijklmn", true},
		{3, []string{"ab", "cd", "ef", "g"}, "efg", true},
		{0, []string{"abc"}, "", true},
	} {
		b := newTailBuffer(tt.max)
		all := ""
		for _, w := range tt.writes {
			n, err := b.Write([]byte(w))
			if n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
			all += w
		}
		if got := b.String(); got != tt.want || b.Truncated() != tt.trunc {
			t.Errorf("max %d, writes %q: got %q (truncated %v), want %q (%v)", tt.max, tt.writes, got, b.Truncated(), tt.want, tt.trunc)
		}
		if want := all[max(0, len(all)-tt.max):]; tt.max > 0 && b.String() != want {
			t.Errorf("writes %q: %q is not the last %d bytes %q", tt.writes, b.String(), tt.max, want)
		}
	}
}

func TestTailStringStartsAtALine(t *testing.T) {
	b := newTailBuffer(10)
	b.Write([]byte("line one\nline two\n"))
	if got := tailString(b); got != "line two\n" {
		t.Errorf("tailString = %q", got)
	}
	if got := tailString(&bytes.Buffer{}); got != "" {
		t.Errorf("empty: %q", got)
	}
}

// TestStreamedOutputMemoryIsBounded streams 50 MB through Live: what Live
// keeps must stay near StreamTail, not grow with the output.
func TestStreamedOutputMemoryIsBounded(t *testing.T) {
	const total = 50 << 20
	line := bytes.Repeat([]byte("x"), 99)
	line = append(line, '\n')
	chunk := bytes.Repeat(line, 320) // 32000 bytes
	var retained uint64
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	remote := &fakeRemote{fn: func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error {
		base := heap()
		for n := 0; n < total; n += len(chunk) {
			if _, err := stdout.Write(chunk); err != nil {
				return err
			}
		}
		stderr.Write([]byte("the end of stderr\n"))
		// Still inside the command: whatever Live holds is live now.
		if h := heap(); h > base {
			retained = h - base
		}
		return nil
	}}
	l := &Live{Remote: remote, Out: output.New(io.Discard, true)}
	res, err := l.Run(context.Background(), Command{Host: "h1", Line: "docker logs --follow app", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if retained > 4<<20 {
		t.Errorf("Live retained %d bytes while streaming %d", retained, total)
	}
	if len(res.Stdout) > StreamTail || len(res.Stdout) < StreamTail-len(line) || !strings.HasSuffix(res.Stdout, string(line)) || !strings.HasPrefix(res.Stdout, "x") {
		t.Errorf("Stdout holds %d bytes (want the last %d, from a line start)", len(res.Stdout), StreamTail)
	}
	if res.Stderr != "the end of stderr\n" {
		t.Errorf("Stderr = %q", res.Stderr)
	}

	// Output that is not streamed is what flows parse: it is kept whole.
	big := strings.Repeat("y", 3*StreamTail)
	remote.fn = func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error {
		_, err := io.WriteString(stdout, big)
		return err
	}
	res, err = l.Run(context.Background(), Command{Host: "h1", Line: "docker inspect x"})
	if err != nil || res.Stdout != big {
		t.Errorf("non-streamed output cut: %d bytes, %v", len(res.Stdout), err)
	}
}

func TestTimeoutFor(t *testing.T) {
	const base = 2 * time.Minute
	for _, tt := range []struct {
		c    Command
		base time.Duration
		want time.Duration
	}{
		{Command{Host: "h", Line: "docker ps"}, 0, DefaultCommandTimeout},
		{Command{Host: "h", Line: "docker ps"}, 5 * time.Minute, 5 * time.Minute},
		{Command{Host: "h", Line: "docker ps"}, NoTimeout, 0},
		{Command{Host: "h", Line: "docker pull --quiet r/app:1"}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "docker login r -u [x] --password-stdin >/dev/null && docker pull --quiet r/app:1"}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "podman image pull r/app:1"}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "docker pull r/app:1"}, time.Hour, time.Hour},
		{Command{Line: "docker build -t x ."}, base, LongCommandTimeout},
		{Command{Line: "docker buildx build -t x ."}, base, LongCommandTimeout},
		{Command{Line: "docker push r/app:1", Stream: true}, base, LongCommandTimeout},
		{Command{Line: "./.mrsk/hooks/pre-deploy"}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "docker exec app bin/migrate", Stream: true}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "docker logs --tail 100 app", Stream: true}, base, LongCommandTimeout},
		{Command{Host: "h", Line: "docker logs --tail 100 --follow app", Stream: true}, base, 0},
		{Command{Host: "h", Line: "docker logs -f app", Stream: true}, base, 0},
		{Command{Host: "h", Line: "docker container logs -ft app", Stream: true}, base, 0},
		{Command{Host: "h", Line: "docker logs -n100 app"}, base, base},
		{Command{Host: "h", Line: "docker logs --tail 20 app 2>&1; docker rm -f app"}, base, base},
		{Command{Host: "h", Line: "docker wait abc"}, base, 0},
		{Command{Host: "h", Line: "mkdir -p .mrsk && mkdir .mrsk/lock-app"}, base, base},
		{Command{Host: "h", Line: "docker pull x", Timeout: 10 * time.Second}, base, 10 * time.Second},
		{Command{Host: "h", Line: "docker ps", Timeout: NoTimeout}, base, 0},
	} {
		if got := timeoutFor(tt.c, tt.base); got != tt.want {
			t.Errorf("timeoutFor(%q host=%q stream=%v, %v) = %v, want %v", tt.c.Line, tt.c.Host, tt.c.Stream, tt.base, got, tt.want)
		}
	}
}

// hang is a Remote command that never finishes by itself: it returns when
// its context ends, as sshpool does (after closing the session).
func hang(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error {
	<-ctx.Done()
	return fmt.Errorf("ssh root@%s:22: %w", host, ctx.Err())
}

func TestCommandTimeout(t *testing.T) {
	l := &Live{Remote: &fakeRemote{fn: hang}, Out: output.New(io.Discard, true), CommandTimeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := l.Run(context.Background(), Command{Host: "h1", Line: "docker login -u bob r && docker ps", Display: "docker login -u [REDACTED] r && docker ps"})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	want := "on h1: `docker login -u [REDACTED] r && docker ps` did not finish within 50ms and was stopped (raise the limit with --command-timeout or command_timeout in deploy.yml)"
	if err.Error() != want {
		t.Errorf("error:\n %s\nwant:\n %s", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}

	// The caller's own cancellation is not a timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	l.CommandTimeout = time.Hour
	_, err = l.Run(ctx, Command{Host: "h1", Line: "docker ps"})
	if errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller's deadline reported as %v", err)
	}

	// A local command is killed, with its children.
	l.CommandTimeout = 100 * time.Millisecond
	start = time.Now()
	_, err = l.Run(context.Background(), Command{Line: "sleep 30 & sleep 30; wait", Timeout: 100 * time.Millisecond})
	if !errors.As(err, &te) || te.Host != "" || !strings.HasPrefix(err.Error(), "on local: `sleep 30 & sleep 30; wait` did not finish within 100ms") {
		t.Errorf("local: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("local command took %v to stop", d)
	}
}

// TestErrorsShowTheDisplayForm: whatever way a command fails, its error
// names the displayed command, never the line that ran.
func TestErrorsShowTheDisplayForm(t *testing.T) {
	c := Command{Host: "h1", Line: "docker login -u bob --password-stdin r", Display: "docker login -u [REDACTED] --password-stdin r", Stdin: []byte("hunter2")}
	for _, tt := range []struct {
		name string
		fn   func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error
		ctx  func() context.Context
	}{
		{"exit", func(context.Context, string, string, io.Writer, io.Writer) error { return exitErr(1) }, context.Background},
		{"transport", func(context.Context, string, string, io.Writer, io.Writer) error {
			return errors.New("ssh root@h1:22: connection lost before the command reported an exit status")
		}, context.Background},
		{"cancelled", hang, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			return ctx
		}},
	} {
		l := &Live{Remote: &fakeRemote{fn: tt.fn}, Out: output.New(io.Discard, true)}
		_, err := l.Run(tt.ctx(), c)
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		msg := err.Error()
		if !strings.Contains(msg, "h1") || !strings.Contains(msg, "docker login -u [REDACTED] --password-stdin r < [REDACTED]") {
			t.Errorf("%s: %q does not name the host and the displayed command", tt.name, msg)
		}
		if strings.Contains(msg, "bob") || strings.Contains(msg, "hunter2") {
			t.Errorf("%s: %q leaks", tt.name, msg)
		}
	}
}

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }
