package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/mrsk-go/mrsk/output"
)

// DryRunner prints every command and runs none, like go build -n. Each
// command "succeeds" with empty output, so flows take their first-deploy path.
type DryRunner struct {
	Out *output.Printer
}

var (
	_ Executor  = (*DryRunner)(nil)
	_ Connector = (*DryRunner)(nil)
	_ Forwarder = (*DryRunner)(nil)
)

// DryRun is true.
func (d *DryRunner) DryRun() bool { return true }

// Close does nothing.
func (d *DryRunner) Close() error { return nil }

// Run prints c.
func (d *DryRunner) Run(ctx context.Context, c Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	label := c.Host
	if label == "" {
		label = "local"
		if c.Query {
			return runQuery(ctx, c)
		}
	}
	d.Out.Always(label, "$ "+c.Shown())
	return Result{Planned: true}, nil
}

// Probe prints what a real run would wait for, and says it passed.
func (d *DryRunner) Probe(ctx context.Context, host, what string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.Out.Always(host, "("+what+")")
	return nil
}

// Connect makes no connection.
func (d *DryRunner) Connect(ctx context.Context, host string) error { return ctx.Err() }

// Dial makes no connection.
func (d *DryRunner) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	return nil, ErrDryRun
}

// Listen makes no forward.
func (d *DryRunner) Listen(ctx context.Context, host, addr string) (net.Listener, error) {
	return nil, ErrDryRun
}

// runQuery runs a read-only local command for a dry run: what it finds
// (a missing plugin) shapes the plan as it would the run.
func runQuery(ctx context.Context, c Command) (Result, error) {
	var stdout, stderr bytes.Buffer
	err := runLocal(ctx, c, nil, &stdout, &stderr)
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		res.Code = coded.ExitCode()
		return res, &CommandError{Command: c.Shown(), Code: res.Code, Stderr: res.Stderr}
	}
	if err != nil {
		return res, fmt.Errorf("on local: %q: %w", c.Shown(), err)
	}
	return res, nil
}
