package builtins

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/executor"
)

func (rt *Runtime) lockDir() string {
	return stateDir + "/lock-" + rt.roleKeyService()
}

func (rt *Runtime) roleKeyService() string {
	if rt.Config.Destination != "" {
		return rt.Config.Service + "-" + rt.Config.Destination
	}
	return rt.Config.Service
}

// lock(action, message="", hold=False) manages the deploy lock on the
// primary host: an atomic mkdir holding who, when, version and message.
// "acquire" fails at once when another holds it. Unless hold is True, the
// lock is released when the flow ends, however it ends (error, Ctrl-C).
// "release" and "status" do what they say.
func bLock(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var action, message string
	hold := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "action", &action, "message?", &message, "hold?", &hold); err != nil {
		return nil, err
	}
	host := rt.Config.PrimaryHost()
	dir := rt.lockDir()
	switch action {
	case "acquire":
		rt.mu.Lock()
		if rt.lockDepth > 0 {
			// A flow called from a flow (setup -> deploy): the outer one
			// holds the lock, and only its release lets go.
			rt.lockDepth++
			rt.mu.Unlock()
			return starlark.None, nil
		}
		rt.mu.Unlock()
		details := fmt.Sprintf("Locked by: %s at %s\n", rt.Opts.Performer, rt.Now().UTC().Format(time.RFC3339))
		if rt.Opts.Version != "" {
			details += "Version: " + rt.Opts.Version + "\n"
		}
		details += "Message: " + message + "\n"
		line := fmt.Sprintf("mkdir -p %s && if mkdir %s 2>/dev/null; then cat > %s; else cat >/dev/null; echo LOCKED; cat %s 2>/dev/null; exit 3; fi",
			stateDir, quote(dir), quote(dir+"/details"), quote(dir+"/details"))
		res, err := rt.run(t, executor.Command{Host: host, Line: line, Stdin: []byte(details), StdinNote: "(lock details)"})
		if err != nil {
			if res.Code == 3 {
				holder := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(res.Stdout), "LOCKED"))
				return nil, fmt.Errorf("deploy lock found on %s:\n%s\n(another deploy is running; if it is not, run `mrsk lock release`)", host, indent(holder))
			}
			return nil, fmt.Errorf("acquire deploy lock: %w", err)
		}
		if !hold {
			rt.mu.Lock()
			rt.lockDepth = 1
			rt.mu.Unlock()
			rt.onExit("lock", func(ctx context.Context) error { return rt.releaseLock(ctx) })
		}
		rt.Out.Line(host, "acquired the deploy lock")
		return starlark.None, nil
	case "release":
		rt.mu.Lock()
		if rt.lockDepth > 1 {
			rt.lockDepth--
			rt.mu.Unlock()
			return starlark.None, nil
		}
		rt.mu.Unlock()
		rt.dropExit("lock")
		if err := rt.releaseLock(engineCtx(t)); err != nil {
			return nil, err
		}
		return starlark.None, nil
	case "status":
		res, err := rt.run(t, executor.Command{Host: host, Line: fmt.Sprintf("cat %s 2>/dev/null || true", quote(dir+"/details"))})
		if err != nil {
			return nil, err
		}
		return starlark.String(res.Stdout), nil
	}
	return nil, fmt.Errorf("%s: action must be acquire, release or status, not %q", b.Name(), action)
}

func (rt *Runtime) releaseLock(ctx context.Context) error {
	host := rt.Config.PrimaryHost()
	rt.mu.Lock()
	rt.lockDepth = 0
	rt.mu.Unlock()
	if _, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: join("rm", "-rf", rt.lockDir())}); err != nil {
		return fmt.Errorf("release deploy lock: %w", err)
	}
	rt.Out.Line(host, "released the deploy lock")
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func (rt *Runtime) auditFile() string {
	return stateDir + "/" + rt.roleKeyService() + "-audit.log"
}

// audit(message, hosts=ctx.hosts) appends "time [performer] message" to the
// audit log on each host, in parallel.
func bAudit(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var message string
	var hostsV starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "message", &message, "hosts?", &hostsV); err != nil {
		return nil, err
	}
	var hosts []string
	if hostsV == starlark.None {
		_, hosts, err = rt.selectRoles()
	} else {
		hosts, err = toStrings(hostsV)
	}
	if err != nil {
		return nil, err
	}
	line := fmt.Sprintf("%s [%s] %s", rt.Now().UTC().Format(time.RFC3339), rt.Opts.Performer, strings.ReplaceAll(message, "\n", " "))
	if rt.Opts.Command != "" {
		line += " (mrsk " + strings.ReplaceAll(rt.Opts.Command, "\n", " ") + ")"
	}
	if rt.Config.Destination != "" {
		line += " (destination " + rt.Config.Destination + ")"
	}
	cmd := fmt.Sprintf("mkdir -p %s && printf '%%s\\n' %s >> %s", stateDir, quote(line), quote(rt.auditFile()))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rt.run(t, executor.Command{Host: h, Line: cmd})
		}()
		if rt.Exec.DryRun() {
			wg.Wait() // plans print in order
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	return starlark.None, nil
}

// audit_show(host, lines=50) prints the last lines of host's audit log.
func bAuditShow(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	lines := 50
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "lines?", &lines); err != nil {
		return nil, err
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: fmt.Sprintf("tail -n %d %s 2>/dev/null || true", lines, quote(rt.auditFile()))})
	if err != nil {
		return nil, err
	}
	return starlark.String(res.Stdout), nil
}
