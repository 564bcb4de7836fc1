package executor

import (
	"context"
	"net"

	"github.com/mrsk-go/mrsk/output"
)

// DryRunner prints every command and runs none, like go build -n. Each
// command "succeeds" with empty output, so flows take their first-deploy path.
type DryRunner struct {
	Out *output.Printer
}

var _ Executor = (*DryRunner)(nil)

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
	}
	d.Out.Always(label, "$ "+c.Shown())
	return Result{}, nil
}

// Dial makes no connection.
func (d *DryRunner) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	return nil, ErrDryRun
}
