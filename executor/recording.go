package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/mrsk-go/mrsk/output"
)

// Response is what a Recording answers to a command whose shown line
// (Command.Shown: secrets redacted) Pattern matches.
type Response struct {
	Pattern        *regexp.Regexp
	Stdout, Stderr string
	Exit           int
}

// Recording runs nothing and records every command per host: `mrsk test`
// plans run over it. A command that a Response matches (the first, in
// order) gets that answer as a host would give it, so builtins parse real
// output and take their failure paths; any other command succeeds with no
// output and Result.Planned set, exactly as in a dry run.
type Recording struct {
	Responses []Response
	// Out, when set, gets the plan printed as DryRunner prints it.
	Out *output.Printer

	mu    sync.Mutex
	hosts []string // in the order first seen; "" is the local machine
	cmds  map[string][]Command
}

var (
	_ Executor  = (*Recording)(nil)
	_ Prober    = (*Recording)(nil)
	_ Connector = (*Recording)(nil)
	_ Forwarder = (*Recording)(nil)
)

// DryRun is true: nothing is contacted.
func (r *Recording) DryRun() bool { return true }

// Close does nothing.
func (r *Recording) Close() error { return nil }

// Connect makes no connection and records nothing: plans show the
// commands that change hosts.
func (r *Recording) Connect(ctx context.Context, host string) error { return ctx.Err() }

// Dial makes no connection.
func (r *Recording) Dial(ctx context.Context, host, addr string) (net.Conn, error) {
	return nil, ErrDryRun
}

// Listen makes no forward.
func (r *Recording) Listen(ctx context.Context, host, addr string) (net.Listener, error) {
	return nil, ErrDryRun
}

// Run records c and answers it from Responses, else as a dry run does.
func (r *Recording) Run(ctx context.Context, c Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r.record(c)
	r.print(c.Host, "$ "+c.Shown())
	resp, ok := r.answer(c.Shown())
	if !ok {
		return Result{Planned: true}, nil
	}
	res := Result{Stdout: resp.Stdout, Stderr: resp.Stderr, Code: resp.Exit}
	if resp.Exit != 0 {
		return res, &CommandError{Host: c.Host, Command: c.Shown(), Code: resp.Exit, Stderr: resp.Stderr}
	}
	return res, nil
}

// Probe records the check as a command line "(what)"; a Response that
// matches it with a non-zero exit makes the check fail, its output the
// reason.
func (r *Recording) Probe(ctx context.Context, host, what string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line := "(" + what + ")"
	r.record(Command{Host: host, Line: line})
	r.print(host, line)
	resp, ok := r.answer(line)
	if !ok || resp.Exit == 0 {
		return nil
	}
	why := strings.TrimSpace(resp.Stdout + "\n" + resp.Stderr)
	if why == "" {
		why = fmt.Sprintf("exit %d", resp.Exit)
	}
	return errors.New(why)
}

func (r *Recording) record(c Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmds == nil {
		r.cmds = map[string][]Command{}
	}
	if _, seen := r.cmds[c.Host]; !seen {
		r.hosts = append(r.hosts, c.Host)
	}
	r.cmds[c.Host] = append(r.cmds[c.Host], c)
}

func (r *Recording) print(host, text string) {
	if r.Out == nil {
		return
	}
	if host == "" {
		host = "local"
	}
	r.Out.Always(host, text)
}

func (r *Recording) answer(shown string) (Response, bool) {
	for _, resp := range r.Responses {
		if resp.Pattern.MatchString(shown) {
			return resp, true
		}
	}
	return Response{}, false
}

// Commands returns what ran on host ("" is the local machine), in order.
func (r *Recording) Commands(host string) []Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Command(nil), r.cmds[host]...)
}

// Hosts returns every host a command ran on, in the order first seen; ""
// is the local machine.
func (r *Recording) Hosts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hosts...)
}
