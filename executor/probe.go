package executor

import "context"

// A Prober answers, in a plan, the checks a real run makes by watching a
// host rather than by running a command on it: a health check over HTTP,
// Traefik's API confirming a route. DryRunner prints them; Recording
// records them as commands, so a test can make one fail.
type Prober interface {
	Probe(ctx context.Context, host, what string) error
}

// Probe asks ex to answer the check what on host when ex is a Prober.
// ok is false when ex is not one (a live run): the caller makes the real
// check.
func Probe(ctx context.Context, ex Executor, host, what string) (ok bool, err error) {
	p, isProber := ex.(Prober)
	if !isProber {
		return false, nil
	}
	return true, p.Probe(ctx, host, what)
}
