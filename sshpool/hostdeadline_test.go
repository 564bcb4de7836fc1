package sshpool

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestWithHostDeadline runs wrapped lines through a real shell: output,
// stdin, exit status and awkward quoting pass through unchanged, and a
// command that outlives its deadline is killed with what it started.
func TestWithHostDeadline(t *testing.T) {
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skip("no timeout(1) here")
	}
	for _, tt := range []struct {
		line, stdin, wantOut string
		wantCode             int
	}{
		{line: "echo hi", wantOut: "hi\n"},
		{line: "exit 3", wantCode: 3},
		{line: `printf '%s|' "it's" 'a "b"' \$HOME; echo`, wantOut: `it's|a "b"|$HOME|` + "\n"},
		{line: "cat; echo done", stdin: "secret via stdin\n", wantOut: "secret via stdin\ndone\n"},
		{line: "echo out; echo err >&2; false", wantOut: "out\n", wantCode: 1},
	} {
		cmd := exec.Command("sh", "-c", withHostDeadline(tt.line, time.Minute))
		cmd.Stdin = strings.NewReader(tt.stdin)
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.wantOut || code != tt.wantCode {
			t.Errorf("%q: out %q code %d; want %q %d", tt.line, out.String(), code, tt.wantOut, tt.wantCode)
		}
	}
	if got := withHostDeadline("true", 1500*time.Millisecond); !strings.Contains(got, "timeout -s KILL 4 ") {
		t.Errorf("1.5s + grace should round up to 4s: %s", got)
	}
}

// TestTimeoutEndsCommandOnOpenSSHRoot: a server that, like OpenSSH for
// root, ignores the KILL signal and keeps a closed session's command
// running still sees that command end shortly after the caller's deadline,
// and the session slot comes back.
func TestTimeoutEndsCommandOnOpenSSHRoot(t *testing.T) {
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skip("no timeout(1) here")
	}
	e := newEnv(t)
	s := e.server(withOpenSSHRootBehaviour())
	p := e.pool(func(o *Options) { o.User = "root"; o.MaxSessions = 1 })
	mustRun(t, p, s.host, "true")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Run(ctx, s.host, "sh -c 'sleep 30'; echo never", nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run returned after %v", d)
	}
	waitFor(t, "the host to kill the command", func() bool { return s.sessions.Load() == 0 })
	if d := time.Since(start); d > 300*time.Millisecond+hostDeadlineGrace+1500*time.Millisecond {
		t.Errorf("command ended %v after start", d)
	}
	// The one session slot is free again.
	if got := mustRun(t, p, s.host, "echo ok"); got != "ok\n" {
		t.Errorf("after: %q", got)
	}
}
