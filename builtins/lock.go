package builtins

import (
	"context"
	"errors"
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

// lock(action, message="", hold=False, reads=[]) manages the deploy lock
// on the primary host: an atomic mkdir holding who, when, version and
// message. "acquire" fails at once when another holds it. Unless hold is
// True, the lock is released when the flow ends, however it ends (error,
// Ctrl-C). reads are what the flow will first read on the primary host,
// read in the lock's own round trip once it is taken (reads.go).
// "release" and "status" do what they say.
func bLock(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var action, message string
	hold := false
	var readsV *starlark.List
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "action", &action, "message?", &message, "hold?", &hold, "reads?", &readsV); err != nil {
		return nil, err
	}
	var reads []string
	if readsV != nil {
		var err error
		if reads, err = toStrings(readsV); err != nil {
			return nil, fmt.Errorf("%s: reads: %w", b.Name(), err)
		}
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
		readLine, err := rt.readsLine(host, reads)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		res, err := rt.run(t, executor.Command{Host: host, Line: acquireLine(dir, readLine), Stdin: []byte(details), StdinNote: "(lock details)"})
		if err != nil {
			switch res.Code {
			case lockHeld:
				holder := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(res.Stdout), "LOCKED"))
				return nil, &LockHeldError{Host: host, Holder: holder}
			case lockFailed:
				return nil, fmt.Errorf("cannot create the deploy lock %s on %s: %s", dir, host, cause(res.Stderr))
			}
			return nil, fmt.Errorf("acquire deploy lock on %s: %w", host, err)
		}
		if !hold {
			rt.mu.Lock()
			rt.lockDepth = 1
			rt.lockDone = false
			rt.mu.Unlock()
			rt.onExit("lock", func(ctx context.Context) error { return rt.releaseLock(ctx) })
		}
		if !res.Planned {
			rt.keepReads(host, res.Stdout)
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
		done := rt.lockDone
		rt.lockDone = false
		rt.mu.Unlock()
		if done {
			return starlark.None, nil // audit(unlock=True) released it
		}
		// Not while a background stop still changes a host.
		if err := rt.waitStops(); err != nil {
			return nil, err // the lock goes at the flow's exit
		}
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

// LockHeldError is a deploy lock that another run holds: the command
// changed nothing. Holder is the lock's details (who, when, version, why).
type LockHeldError struct {
	Host, Holder string
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("deploy lock found on %s:\n%s\n(another deploy is running; if it is not, run `mrsk lock release`)", e.Host, indent(e.Holder))
}

// Exit codes of acquireLine.
const (
	lockHeld   = 3 // the directory exists: another holds the lock
	lockFailed = 4 // anything else (full disk, permissions): stderr says what
)

// acquireLine is the shell command that takes the lock: an atomic mkdir,
// then the details (from stdin) written inside. Only an existing directory
// means "held"; any other failure (no space, no permission, a read-only
// file system) exits lockFailed with the real error on stderr, and a lock
// whose details could not be written is removed again, so a failed acquire
// never leaves a lock behind that names nobody. reads (readsLine) run only
// once the lock is taken, and never fail it.
func acquireLine(dir, reads string) string {
	d, details := quote(dir), quote(dir+"/details")
	fail := fmt.Sprintf(`echo "$err" >&2; exit %d`, lockFailed)
	if reads != "" {
		reads = "{ " + reads + "; } 2>/dev/null; "
	}
	return fmt.Sprintf(`if ! err=$({ mkdir -p %s; } 2>&1); then cat >/dev/null; %s; fi; `, stateDir, fail) +
		fmt.Sprintf(`if err=$({ mkdir %s; } 2>&1); then if err=$({ cat > %s; } 2>&1); then %sexit 0; fi; rm -f %s; rmdir %s; %s; fi; `, d, details, reads, details, d, fail) +
		fmt.Sprintf(`cat >/dev/null; if [ -d %s ]; then echo LOCKED; cat %s 2>/dev/null; exit %d; fi; %s`, d, details, lockHeld, fail)
}

// cause is the reason in a failed command's last stderr line: what follows
// the last ": " of "mkdir: cannot create directory 'x': No space left on
// device", or the whole line.
func cause(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return "unknown error (nothing on stderr)"
	}
	if i := strings.LastIndex(last, ": "); i >= 0 && i+2 < len(last) {
		return last[i+2:]
	}
	return last
}

func (rt *Runtime) releaseLock(ctx context.Context) error {
	host := rt.Config.PrimaryHost()
	defer rt.span("unlock", []string{host})()
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

// audit(message, hosts=ctx.hosts, unlock=False) appends "time [performer]
// message" to the audit log on each host, in parallel. With unlock=True it
// is the flow's last word: it waits for background stops (failing, with
// the lock left to the flow's exit, when one failed), and on the primary
// host the same command releases the deploy lock this run holds, after
// the append and whether or not the append worked: one round trip, not
// two, and an audit failure never leaves the lock behind. Nested (setup
// runs deploy), the outer flow's release does it.
func bAudit(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var message string
	var hostsV starlark.Value = starlark.None
	unlock := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "message", &message, "hosts?", &hostsV, "unlock?", &unlock); err != nil {
		return nil, err
	}
	var hosts []string
	var err error
	if hostsV == starlark.None {
		_, hosts, err = rt.selectRoles()
	} else {
		hosts, err = toStrings(hostsV)
	}
	if err != nil {
		return nil, err
	}
	primary := rt.Config.PrimaryHost()
	if unlock {
		rt.mu.Lock()
		unlock = rt.lockDepth == 1 && !rt.lockDone
		rt.mu.Unlock()
	}
	if unlock {
		if err := rt.waitStops(); err != nil {
			return nil, err
		}
	}
	if kwargIs(kwargs, "unlock", starlark.True) {
		defer rt.span("audit", hosts)() // not bind's: see phaseOf
	}
	line := fmt.Sprintf("%s [%s] %s", rt.Now().UTC().Format(time.RFC3339), rt.Opts.Performer, strings.ReplaceAll(message, "\n", " "))
	if rt.Opts.Command != "" {
		line += " (mrsk " + strings.ReplaceAll(rt.Opts.Command, "\n", " ") + ")"
	}
	if rt.Config.Destination != "" {
		line += " (destination " + rt.Config.Destination + ")"
	}
	// cat does the append, not the shell's printf: its error names the
	// cause ("No space left on device"), where dash's says "I/O error".
	cmd := fmt.Sprintf("mkdir -p %s && printf '%%s\\n' %s | cat >> %s", stateDir, quote(line), quote(rt.auditFile()))
	errs := make([]error, len(hosts))
	var unlockErr error
	unlocked := false
	// Every host's own outcome is needed below (a warning each), so each
	// runs to its end: a WaitGroup, not a cancel-on-first-error group.
	var wg sync.WaitGroup
	for i, h := range hosts {
		if unlock && h == primary {
			unlocked = true
			wg.Go(func() { errs[i], unlockErr = rt.auditUnlock(t, cmd) })
		} else {
			wg.Go(func() { _, errs[i] = rt.run(t, executor.Command{Host: h, Line: cmd}) })
		}
		if rt.Exec.DryRun() {
			wg.Wait() // plans print in order
		}
	}
	wg.Wait()
	// An audit line is written after the action it records has happened
	// (a deploy has switched, a prune has pruned): failing the command now
	// would report as failed something that took effect, and a retry would
	// do it again. So a host whose log cannot be appended to (a full disk)
	// gets a warning naming it and the cause, and the flow goes on to
	// release the lock. A cancelled flow still fails.
	for i, err := range errs {
		if err == nil {
			continue
		}
		var ce *executor.CommandError
		if !errors.As(err, &ce) {
			return nil, fmt.Errorf("audit on %s: %w", hosts[i], err)
		}
		rt.Out.Always(hosts[i], fmt.Sprintf("warning: could not append to the audit log %s: %s (%q was not recorded there)",
			rt.auditFile(), cause(ce.Stderr), message))
	}
	if unlockErr != nil {
		return nil, unlockErr // the flow's exit tries the release again
	}
	if unlocked {
		rt.Out.Line(primary, "released the deploy lock")
	}
	if unlock && !unlocked {
		// The primary host is not among hosts (-H): its own command.
		rt.dropExit("lock")
		if err := rt.releaseLock(engineCtx(t)); err != nil {
			return nil, err
		}
		rt.mu.Lock()
		rt.lockDone = true
		rt.mu.Unlock()
	}
	return starlark.None, nil
}

// Exit code of auditUnlockLine when the append failed (the lock is gone).
const auditFailed = 3

// auditUnlockLine appends to the audit log (audit's cmd) and then, however
// the append went, removes the lock directory. Exit 0: both done;
// auditFailed: the append failed (its error on stderr), the lock is gone;
// anything else: the lock may still be there.
func (rt *Runtime) auditUnlockLine(cmd string) string {
	return fmt.Sprintf(`if err=$({ %s; } 2>&1); then a=0; else a=%d; printf '%%s\n' "$err" >&2; fi; %s || exit 1; exit $a`,
		cmd, auditFailed, join("rm", "-rf", rt.lockDir()))
}

// auditUnlock runs auditUnlockLine on the primary host: the audit's error
// (a CommandError, for a warning) and the release's.
func (rt *Runtime) auditUnlock(t *starlark.Thread, cmd string) (auditErr, unlockErr error) {
	host := rt.Config.PrimaryHost()
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.auditUnlockLine(cmd)})
	if err != nil && res.Code != auditFailed {
		return nil, fmt.Errorf("release deploy lock: %w", err)
	}
	rt.mu.Lock()
	rt.lockDepth = 0
	rt.lockDone = true
	rt.mu.Unlock()
	rt.dropExit("lock")
	return err, nil
}

// audit_show(host, lines=50) prints the last lines of host's audit log.
func bAuditShow(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
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

// locked(message, fn, reads=[]) runs fn() holding the deploy lock and releases it
// when fn returns, so a flow shows where its lock is held. When fn fails
// (or on Ctrl-C) the lock is released as the flow ends, after every host's
// unfinished switch is undone. Nested (setup runs deploy), the inner calls
// share the outer lock. A builtin, not a Starlark function: Starlark
// forbids a function on the stack twice.
func bLocked(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var message string
	var fn starlark.Callable
	reads := starlark.NewList(nil)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "message", &message, "fn", &fn, "reads?", &reads); err != nil {
		return nil, err
	}
	lock := starlark.NewBuiltin("lock", bind(bLock))
	if _, err := starlark.Call(t, lock, starlark.Tuple{starlark.String("acquire"), starlark.String(message)}, []starlark.Tuple{{starlark.String("reads"), reads}}); err != nil {
		return nil, err
	}
	v, err := starlark.Call(t, fn, nil, nil)
	if err != nil {
		return nil, err
	}
	if _, err := starlark.Call(t, lock, starlark.Tuple{starlark.String("release")}, nil); err != nil {
		return nil, err
	}
	return v, nil
}
