package builtins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
)

// probeEvery is how often a new container is probed. The configured
// interval only sets the deadline (interval x max_attempts), so a fast app
// is switched to as soon as it answers.
const probeEvery = 100 * time.Millisecond

// healthcheck is role's healthcheck (the top-level one with the role's
// keys over it); the top-level one for a container of no known role.
func (rt *Runtime) healthcheck(role string) config.Healthcheck {
	if r := rt.Config.Role(role); r != nil {
		return r.Healthcheck
	}
	return rt.Config.Healthcheck
}

func (rt *Runtime) healthDeadline(h config.Healthcheck) time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	d := h.Interval * time.Duration(h.MaxAttempts)
	if d <= 0 {
		d = 30 * time.Second
	}
	return d
}

// wait_healthy(host, container, http=True) waits until container answers
// its health check: an HTTP GET of healthcheck.path on healthcheck.port,
// made from the host's side through the SSH connection (no curl needed in
// the image), or healthcheck.cmd run in the container when set. With
// http=False it only checks the container keeps running for
// readiness_delay. A container that exits is noticed at once (a `docker
// wait` runs alongside). On failure its last log lines are printed and the
// container is removed (or, when this run did not create it, as for the
// target of a rollback, stopped and kept), and the call fails.
func bWaitHealthy(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	var ctr starlark.Value
	useHTTP := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "container", &ctr, "http?", &useHTTP); err != nil {
		return nil, err
	}
	id, name, ip := attr(ctr, "id"), attr(ctr, "name"), attr(ctr, "ip")
	if id == "" {
		id = name
	}
	h := rt.healthcheck(attr(ctr, "role"))
	target := fmt.Sprintf("GET http://%s:%d%s", name, h.Port, h.Path)
	switch {
	case h.Cmd != "":
		target = rt.engine(host).Bin() + " exec " + name + " " + h.Cmd
	case !useHTTP:
		target = fmt.Sprintf("%s keeps running for %s", name, rt.Config.ReadinessDelay)
	}
	// In a plan the executor answers the check (a test can fail it).
	if planned, err := executor.Probe(engine.ContextOf(t), rt.Exec, host, "wait until healthy: "+target); planned {
		if err != nil {
			return nil, fmt.Errorf("on %s: %s did not become healthy (%s): %w", host, name, target, err)
		}
		return starlark.Float(0), nil
	}
	start := time.Now()
	rt.Out.Status(host, "waiting for "+name+": "+target)
	parent := engine.ContextOf(t)
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	// docker wait tells a container that exited (a crash at start) from
	// one still starting. It is a command of its own, so it starts only
	// once a check has failed: an app that is up at the first probe needs
	// no second process on the host.
	exited := make(chan string, 1)
	watch := sync.OnceFunc(func() {
		go func() {
			res, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: rt.engine(host).Words("wait", id)})
			if err == nil {
				exited <- strings.TrimSpace(res.Stdout)
			}
		}()
	})

	var last error
	switch {
	case h.Cmd != "":
		last = rt.pollUntil(ctx, h, watch, exited, func() error {
			_, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: rt.engine(host).Words("exec", id, "sh", "-c", h.Cmd)})
			return err
		})
	case !useHTTP:
		watch()
		select {
		case code := <-exited:
			last = fmt.Errorf("container exited with status %s", code)
		case <-time.After(rt.Config.ReadinessDelay):
		case <-ctx.Done():
			last = ctx.Err()
		}
	default:
		if ip == "" {
			// Usually a container that exited before it was inspected.
			watch()
			select {
			case code := <-exited:
				last = fmt.Errorf("container exited with status %s", code)
			case <-time.After(2 * time.Second):
				last = fmt.Errorf("container has no address on the %s network", container.Network)
			}
			break
		}
		client := rt.httpClient(host)
		url := "http://" + net.JoinHostPort(ip, strconv.Itoa(h.Port)) + h.Path
		last = rt.pollUntil(ctx, h, watch, exited, func() error { return probe(ctx, client, url) })
	}
	sw := rt.switchOf(host, id)
	if last == nil {
		rt.record(host, "healthy")
		if sw != nil {
			sw.setPhase(phaseHealthy)
		}
		if r := rt.Config.Role(attr(ctr, "role")); !useHTTP || r != nil && !r.Traefik {
			rt.inService(host, ctr) // no route to wait for: healthy is serving
		}
		secs := time.Since(start).Seconds()
		rt.progress(host, fmt.Sprintf("%s is healthy (%.1fs)", name, secs))
		return starlark.Float(secs), nil
	}
	if sw != nil {
		if phase, _ := sw.state(); phase >= phaseRouteWritten {
			// A route may name it (a project's flow probed after routing):
			// only the switch's undo may take it out, route first.
			return nil, fmt.Errorf("on %s: %s did not stay healthy (%s): %v", host, name, target, last)
		}
	}
	if parent.Err() != nil {
		// Interrupted (Ctrl-C, a failed sibling): the switch's undo takes
		// the container out as the flow ends, and says so.
		return nil, parent.Err()
	}
	// A container this run created goes; one that existed before (the
	// target of a rollback, kept for that) is only stopped, never deleted.
	fresh := sw != nil && sw.undo == undoRemove
	rt.endSwitch(host, id)
	e := rt.engine(host)
	undo, how := e.Changed(e.Words("rm", "-f", id)+" >/dev/null"), "removed"
	if !fresh {
		undo, how = e.Changed(e.Words("stop", "-t", "1", id)+" >/dev/null"), "stopped"
	}
	// A detached context: the flow's may be cancelled (Ctrl-C, or a sibling
	// host failing at the same moment) and must not cut this short.
	actx, acancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer acancel()
	// Abandon the container: show why, then undo it.
	res, _ := rt.Exec.Run(actx, executor.Command{Host: host, Line: e.Words("logs", "--tail", strconv.Itoa(h.LogLines), id) + " 2>&1; " + undo})
	if logs := strings.TrimSpace(res.Stdout); logs != "" {
		rt.Out.Always(host, "last log lines of "+name+":")
		for _, l := range strings.Split(logs, "\n") {
			rt.Out.Always(host, "  "+l)
		}
	}
	return nil, &UnhealthyError{Host: host, Container: name, Check: target, Cause: last, Undone: how}
}

// UnhealthyError is a new container that never passed its health check:
// no route ever named it, so the version before it still serves, and it
// was removed (or, the target of a rollback, stopped: Undone says which).
type UnhealthyError struct {
	Host, Container, Check string
	Cause                  error
	Undone                 string // "removed" or "stopped"
}

func (e *UnhealthyError) Error() string {
	return fmt.Sprintf("on %s: %s did not become healthy (%s): %v; %s it", e.Host, e.Container, e.Check, e.Cause, e.Undone)
}

func (e *UnhealthyError) Unwrap() error { return e.Cause }

// pollUntil calls check until it succeeds, the container exits (watched
// from the first failure on), or the health deadline passes; it returns
// the last failure.
func (rt *Runtime) pollUntil(ctx context.Context, h config.Healthcheck, watch func(), exited <-chan string, check func() error) error {
	deadline := time.NewTimer(rt.healthDeadline(h))
	defer deadline.Stop()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		watch()
		select {
		case code := <-exited:
			return fmt.Errorf("container exited with status %s", code)
		case <-deadline.C:
			return fmt.Errorf("gave up after %s: %w", rt.healthDeadline(h), last)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(probeEvery):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return op
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
