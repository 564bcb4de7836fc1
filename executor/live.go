package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mrsk-go/mrsk/output"
)

// Live runs commands for real: remote ones through Remote, local ones with
// /bin/sh.
type Live struct {
	Remote  Remote
	Out     *output.Printer
	Verbose bool // print each command before it runs, like go build -x
	// CommandTimeout is the timeout of an ordinary command: 0 means
	// DefaultCommandTimeout, NoTimeout (any negative value) means none.
	// Commands that move images, run locally or stream get at least
	// LongCommandTimeout; following logs and docker wait get none.
	CommandTimeout time.Duration

	mu     sync.Mutex
	counts map[string]int
}

var (
	_ Executor  = (*Live)(nil)
	_ Connector = (*Live)(nil)
	_ Forwarder = (*Live)(nil)
)

// DryRun is false: Live does things.
func (l *Live) DryRun() bool { return false }

// Close closes the SSH connections.
func (l *Live) Close() error {
	if l.Remote == nil {
		return nil
	}
	return l.Remote.Close()
}

// Counts returns how many commands ran per host ("" is local).
func (l *Live) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		m[k] = v
	}
	return m
}

// Run runs c and returns its output. A non-zero exit is a *CommandError.
func (l *Live) Run(ctx context.Context, c Command) (Result, error) {
	l.mu.Lock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	l.counts[c.Host]++
	l.mu.Unlock()

	label := c.Host
	if label == "" {
		label = "local"
	}
	if l.Verbose {
		l.Out.Line(label, "$ "+c.Shown())
	}
	// On a terminal, what a host is busy with (and for how long) shows in
	// its status line; a streamed command's output replaces it.
	l.Out.Status(label, "$ "+c.Shown())
	// Output read by flows (docker ps, inspect...) is kept whole. Streamed
	// output has already been shown as it arrived and may be endless
	// (app logs -f): only its tail is kept, for Result and errors.
	var stdout, stderr outputBuffer = &bytes.Buffer{}, &bytes.Buffer{}
	if c.Stream {
		stdout, stderr = newTailBuffer(StreamTail), newTailBuffer(StreamTail)
	}
	var outW, errW io.Writer = stdout, stderr
	var lw *output.LineWriter
	if c.Stream {
		lw = l.Out.Writer(label, c.Always)
		outW = io.MultiWriter(stdout, lw)
		errW = io.MultiWriter(stderr, lw)
	}
	var stdin io.Reader
	if c.Stdin != nil {
		stdin = bytes.NewReader(c.Stdin)
	}
	runCtx := ctx
	limit := timeoutFor(c, l.CommandTimeout)
	if limit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, limit, errTimedOut)
		defer cancel()
	}
	var err error
	start := time.Now()
	if l.Verbose {
		// With -v, --output json reports every finished command.
		defer func() { l.Out.Command(label, c.Shown(), exitOf(err), time.Since(start)) }()
	}
	if c.Host == "" {
		err = runLocal(runCtx, c, stdin, outW, errW)
	} else {
		if l.Remote == nil {
			return Result{}, fmt.Errorf("on %s: no SSH connection configured", c.Host)
		}
		// Closing the session when runCtx ends is Remote's job: a
		// timed-out command is signalled and its session closed.
		err = l.Remote.Run(runCtx, c.Host, c.Line, stdin, outW, errW)
	}
	if lw != nil {
		lw.Flush()
	}
	res := Result{Stdout: tailString(stdout), Stderr: tailString(stderr)}
	if err == nil {
		return res, nil
	}
	// Every error names the command by c.Shown(), never c.Line: the line
	// may hold what only the host should see.
	shown := truncate(c.Shown(), 200)
	var coded interface{ ExitCode() int }
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("on %s: %q: %w", label, shown, ctx.Err())
	case errors.Is(context.Cause(runCtx), errTimedOut):
		return res, &TimeoutError{Host: c.Host, Command: c.Shown(), After: limit}
	case errors.As(err, &coded):
		res.Code = coded.ExitCode()
		return res, &CommandError{Host: c.Host, Command: c.Shown(), Code: res.Code, Stderr: res.Stderr}
	}
	return res, fmt.Errorf("on %s: %q: %w", label, shown, err)
}

// exitOf is a finished command's exit status: -1 when it has none (it
// timed out, was cancelled or never started).
func exitOf(err error) int {
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return -1
}

// StreamTail is how much of a streamed command's stdout (and of its
// stderr) Live keeps for the Result.
const StreamTail = 64 << 10

// errTimedOut is the cause of a command's context ending at its timeout.
var errTimedOut = errors.New("command timed out")

type outputBuffer interface {
	io.Writer
	String() string
}

// tailString is b's content; from a tail that dropped bytes, it starts at
// a line boundary so no half line leads.
func tailString(b outputBuffer) string {
	s := b.String()
	if t, ok := b.(*tailBuffer); ok && t.Truncated() {
		if i := strings.IndexByte(s, '\n'); i >= 0 && i+1 < len(s) {
			s = s[i+1:]
		}
	}
	return s
}

func runLocal(ctx context.Context, c Command, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.Line)
	// The shell gets its own process group, and a cancel or timeout kills
	// the whole group: killing only the shell would leave its children
	// (docker build, a hook's own commands) running and holding the
	// output pipes open. WaitDelay bounds the wait for those pipes anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}

// Connect opens host's SSH connection, running nothing, when Remote can
// (*sshpool.Pool can); otherwise it runs `true` on host. Errors are
// Remote's, which name the host.
func (l *Live) Connect(ctx context.Context, host string) error {
	if l.Remote == nil {
		return fmt.Errorf("on %s: no SSH connection configured", host)
	}
	c, ok := l.Remote.(Connector)
	if !ok {
		_, err := l.Run(ctx, Command{Host: host, Line: "true"})
		return err
	}
	if err := c.Connect(ctx, host); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("on %s: connect: %w", host, ctx.Err())
		}
		return err
	}
	return nil
}

// Dial connects to addr from host's side through its SSH connection.
func (l *Live) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	if l.Remote == nil {
		return nil, fmt.Errorf("on %s: no SSH connection configured", host)
	}
	return l.Remote.Dial(ctx, host, "tcp", addr)
}

// DialUnix connects to the unix socket at path on host's side (its Docker
// engine's, for a build there) through its SSH connection.
func (l *Live) DialUnix(ctx context.Context, host, path string) (net.Conn, error) {
	if l.Remote == nil {
		return nil, fmt.Errorf("on %s: no SSH connection configured", host)
	}
	return l.Remote.Dial(ctx, host, "unix", path)
}

// Listen listens on addr on host's side through its SSH connection.
func (l *Live) Listen(ctx context.Context, host, addr string) (net.Listener, error) {
	rl, ok := l.Remote.(RemoteListener)
	if !ok {
		return nil, fmt.Errorf("on %s: this connection cannot forward ports", host)
	}
	return rl.Listen(ctx, host, "tcp", addr)
}
