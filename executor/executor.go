// Package executor runs commands on hosts (over SSH) and on the local machine,
// or, in dry-run mode, only prints them. Builtins talk to this boundary and
// never to SSH directly, so a plan and a real run share every line of flow code.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Command is one shell command for one host.
type Command struct {
	Host string // "" means the local machine
	// Line is the shell command that runs; every value in it is quoted.
	Line string
	// Display is what gets printed instead of Line (for example with a
	// username redacted). Empty means Line. It must never hold a secret.
	Display string
	// Stdin is fed to the command. It is never printed: it is how secrets
	// travel (registry passwords, env files).
	Stdin []byte
	// StdinNote describes Stdin in plans, e.g. "[REDACTED]".
	StdinNote string
	// Query marks a read-only look at the local machine (is the buildx
	// plugin there?): a dry run runs it for real, unprinted, and a plan
	// answers it from its responses.
	Query bool
	// Stream prints output lines as they arrive, prefixed by host.
	Stream bool
	// Always streams even when output is quiet (logs the user asked for).
	Always bool
	// Dir and Env apply to local commands only.
	Dir string
	Env []string
	// Timeout bounds how long the command may run. Zero means the
	// executor's default for the command's kind (see timeoutFor);
	// NoTimeout means none.
	Timeout time.Duration
}

// Shown is the text printed for c.
func (c Command) Shown() string {
	s := c.Display
	if s == "" {
		s = c.Line
	}
	if c.Stdin != nil {
		note := c.StdinNote
		if note == "" {
			note = "[REDACTED]"
		}
		s += " < " + note
	}
	return s
}

// Result is what a finished command left. For a streamed command (whose
// output was printed as it arrived) Stdout and Stderr hold only the last
// StreamTail bytes each, from a line start.
type Result struct {
	Stdout, Stderr string
	Code           int
	// Planned is true when no host answered: a dry run, or a plan's
	// command without a scripted response. Its output is empty, so a
	// builtin that reads output stands in a placeholder (the running
	// container of each role...) to let the plan show every step.
	Planned bool
}

// Executor runs commands. Implementations are safe for concurrent use.
type Executor interface {
	Run(ctx context.Context, c Command) (Result, error)
	// Dial opens a TCP connection from host's side of the network, e.g. to a
	// container address, through the host's SSH connection.
	Dial(ctx context.Context, host, addr string) (net.Conn, error)
	// DryRun reports whether commands are only printed.
	DryRun() bool
	Close() error
}

// ErrDryRun is returned by Dial in dry-run mode.
var ErrDryRun = errors.New("dry run: no connection made")

// CommandError is a command that exited non-zero.
type CommandError struct {
	Host    string
	Command string // as displayed
	Code    int
	Stderr  string
}

func (e *CommandError) Error() string {
	where := e.Host
	if where == "" {
		where = "local"
	}
	msg := fmt.Sprintf("on %s: %q exited %d", where, truncate(e.Command, 200), e.Code)
	if tail := lastLines(e.Stderr, 5); tail != "" {
		msg += ": " + tail
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// A Connector opens a host's connection without running a command on it.
// Live is one (when its Remote is); DryRunner and Recording are, making no
// connection.
type Connector interface {
	Connect(ctx context.Context, host string) error
}

// Connect makes sure host answers: through ex's Connect when ex is a
// Connector, else by running `true` there. An error names the host.
func Connect(ctx context.Context, ex Executor, host string) error {
	if c, ok := ex.(Connector); ok {
		return c.Connect(ctx, host)
	}
	_, err := ex.Run(ctx, Command{Host: host, Line: "true"})
	return err
}

// A Forwarder listens on a host's side through its SSH connection (a
// remote port forward): how a host's engine reaches mrsk's local registry.
// Live is one when its Remote can listen; DryRunner and Recording are,
// returning ErrDryRun (their plans show the pull, with no port).
type Forwarder interface {
	Listen(ctx context.Context, host, addr string) (net.Listener, error)
}

// RemoteListener is a Remote that can listen on hosts: *sshpool.Pool.
type RemoteListener interface {
	Listen(ctx context.Context, host, network, addr string) (net.Listener, error)
}

// Remote is the SSH side: satisfied by *sshpool.Pool.
type Remote interface {
	Run(ctx context.Context, host, cmd string, stdin io.Reader, stdout, stderr io.Writer) error
	Dial(ctx context.Context, host, network, addr string) (net.Conn, error)
	Close() error
}
