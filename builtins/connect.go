package builtins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
)

// connect(hosts) checks, before a flow changes anything, that every host
// answers over SSH: it opens the connection to all of them at once (dial,
// host key, login; see executor.Connect: a command runs only where the
// executor cannot connect without one), the deploy lock's host included,
// and fails naming every host that did not answer, so a deploy to 200
// hosts with 3 unreachable stops before the lock, the pull or any boot.
// Hosts checked once in a run are not checked again (setup calls deploy).
// Plans make no connection.
//
// Then, unless runtime=False (bootstrap, which installs the runtime), the
// first command on each host checks its container runtime (docker or
// podman, as the config says) is installed and answers, and, for Podman,
// runs rootful: one line per host that fails, before any change anywhere.
//
// On a large fleet it also makes the output summarize each step (unless
// --verbose): 200 hosts print one line per step, not 200.
func bConnect(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var hostsV starlark.Value
	checkRuntime := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "hosts", &hostsV, "runtime?", &checkRuntime); err != nil {
		return nil, err
	}
	given, err := toStrings(hostsV)
	if err != nil {
		return nil, fmt.Errorf("%s: hosts: %w", b.Name(), err)
	}
	if rt.Exec.DryRun() {
		return starlark.None, nil
	}
	// The lock lives on the primary host, even when -H leaves it out.
	hosts := uniqueHosts(append(given, rt.Config.PrimaryHost()))
	if !rt.Opts.Verbose {
		rt.Out.Collapse(len(hosts))
		// Held lines must reach the terminal before the final error does.
		rt.onExit("output", func(context.Context) error {
			rt.Out.Flush()
			return nil
		})
	}
	todo := rt.unchecked(hosts)
	ctx := engineCtx(t)
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, h := range todo {
		wg.Go(func() { errs[i] = executor.Connect(ctx, rt.Exec, h) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if msg := unreachable(todo, errs, len(hosts)); msg != "" {
		var failed []error
		for _, err := range errs {
			if err != nil {
				failed = append(failed, err)
			}
		}
		return nil, &UnreachableError{msg: msg, Errs: failed}
	}
	rt.mu.Lock()
	for _, h := range todo {
		rt.notes["connected "+h] = true
	}
	rt.mu.Unlock()
	if checkRuntime {
		if err := rt.preflight(ctx, hosts); err != nil {
			return nil, err
		}
	}
	return starlark.None, nil
}

// preflight checks the container runtime of each host not checked yet in
// this run, all at once (container.Runtime.Preflight).
func (rt *Runtime) preflight(ctx context.Context, hosts []string) error {
	var todo []string
	rt.mu.Lock()
	for _, h := range hosts {
		if !rt.notes["runtime "+h] {
			todo = append(todo, h)
		}
	}
	rt.mu.Unlock()
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, h := range todo {
		wg.Go(func() {
			e := rt.engine(h)
			res, err := rt.Exec.Run(ctx, executor.Command{Host: h, Line: e.Preflight(), Display: e.Bin() + " version (preflight)"})
			var ce *executor.CommandError
			switch {
			case errors.As(err, &ce):
				errs[i] = e.PreflightError(h, rt.sshUser(h), ce.Code, ce.Stderr)
			case err != nil:
				errs[i] = fmt.Errorf("checking %s on %s: %w", e.Bin(), h, err)
			default:
				info := container.ParsePreflight(res.Stdout)
				switch {
				case res.Planned || !info.NoSystemd:
				case e == container.Podman:
					why := "no systemd on this host"
					if info.Unit == "failed" {
						why = "mrsk could not install or enable " + container.BootUnit
					}
					rt.noteOnce("nosystemd "+h, h, why+": Podman containers will not start again after a reboot (mrsk installs "+container.BootUnit+" for systemd)")
				default:
					why := map[string]string{
						"nonroot": "connected as " + rt.sshUser(h) + ", not root, mrsk cannot install " + container.DockerRoutesUnit,
						"failed":  "mrsk could not install or enable " + container.DockerRoutesUnit,
					}[info.Unit]
					if why == "" {
						why = "no systemd on this host to run " + container.DockerRoutesUnit
					}
					rt.noteOnce("nosystemd "+h, h, why+": after Docker restarts (a reboot, an upgrade), routes may name old addresses until the next deploy")
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var lines []string
	var failed []error
	for _, err := range errs {
		if err != nil {
			lines = append(lines, "  "+err.Error())
			failed = append(failed, err)
		}
	}
	if len(lines) > 0 {
		return &UnreachableError{msg: fmt.Sprintf("the container runtime is missing or unusable on %d of %d hosts, so nothing was changed:\n%s", len(lines), len(hosts), strings.Join(lines, "\n")), Errs: failed}
	}
	rt.mu.Lock()
	for _, h := range todo {
		rt.notes["runtime "+h] = true
	}
	rt.mu.Unlock()
	return nil
}

// UnreachableError is connect() finding hosts it cannot log in to (no
// answer, a refused or unknown host key, no usable key): nothing was
// changed on any host. Errs holds the error of each host that failed.
type UnreachableError struct {
	msg  string
	Errs []error
}

func (e *UnreachableError) Error() string { return e.msg }

// Unwrap gives the hosts' errors, for errors.As.
func (e *UnreachableError) Unwrap() []error { return e.Errs }

// unchecked returns the hosts not yet connected to in this run.
func (rt *Runtime) unchecked(hosts []string) []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []string
	for _, h := range hosts {
		if !rt.notes["connected "+h] {
			out = append(out, h)
		}
	}
	return out
}

func uniqueHosts(hosts []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range hosts {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// unreachable describes the hosts whose check failed, one a line, or
// returns "" when none did.
func unreachable(hosts []string, errs []error, total int) string {
	var lines []string
	for i, err := range errs {
		if err != nil {
			// The executor names the host (and, where it ran `true`,
			// the command); the host leads the line already.
			msg := strings.TrimPrefix(oneLine(err.Error()), fmt.Sprintf("on %s: %q: ", hosts[i], "true"))
			lines = append(lines, "  "+hosts[i]+": "+msg)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return fmt.Sprintf("cannot reach %d of %d hosts, so nothing was changed:\n%s", len(lines), total, strings.Join(lines, "\n"))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sshUser is who mrsk logs in as on host: USER@ in the host, else ssh.user.
func (rt *Runtime) sshUser(host string) string {
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		return host[:i]
	}
	return rt.Config.SSH.User
}

// host_runtime(host) is host's container runtime: "docker" or "podman".
func bHostRuntime(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host); err != nil {
		return nil, err
	}
	return starlark.String(rt.engine(host).Bin()), nil
}
