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
	"sync"

	"github.com/mrsk-go/mrsk/output"
)

// Live runs commands for real: remote ones through Remote, local ones with
// /bin/sh.
type Live struct {
	Remote  Remote
	Out     *output.Printer
	Verbose bool // print each command before it runs, like go build -x

	mu     sync.Mutex
	counts map[string]int
}

var _ Executor = (*Live)(nil)

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
	var stdout, stderr bytes.Buffer
	var outW, errW io.Writer = &stdout, &stderr
	var lw *output.LineWriter
	if c.Stream {
		lw = l.Out.Writer(label, c.Always)
		outW = io.MultiWriter(&stdout, lw)
		errW = io.MultiWriter(&stderr, lw)
	}
	var stdin io.Reader
	if c.Stdin != nil {
		stdin = bytes.NewReader(c.Stdin)
	}
	var err error
	if c.Host == "" {
		err = runLocal(ctx, c, stdin, outW, errW)
	} else {
		if l.Remote == nil {
			return Result{}, fmt.Errorf("on %s: no SSH connection configured", c.Host)
		}
		err = l.Remote.Run(ctx, c.Host, c.Line, stdin, outW, errW)
	}
	if lw != nil {
		lw.Flush()
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) && ctx.Err() == nil {
			res.Code = coded.ExitCode()
			return res, &CommandError{Host: c.Host, Command: c.Shown(), Code: res.Code, Stderr: res.Stderr}
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("on %s: %q: %w", label, truncate(c.Shown(), 200), ctx.Err())
		}
		return res, err
	}
	return res, nil
}

func runLocal(ctx context.Context, c Command, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.Line)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}

// Dial connects to addr from host's side through its SSH connection.
func (l *Live) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	if l.Remote == nil {
		return nil, fmt.Errorf("on %s: no SSH connection configured", host)
	}
	return l.Remote.Dial(ctx, host, "tcp", addr)
}
