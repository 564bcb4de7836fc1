package builtins

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/traefik"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// The switch of one host from its old container to a new one is a state
// machine; docs/switch.md has the table. Each container on its way into
// service has a hostSwitch, and the flow's exit (error, a cancelled
// sibling, Ctrl-C) undoes it according to how far it got:
//
//	started, healthy  the route never named it: remove it (stop a rollback target)
//	route written     put the previous route back, confirm it through
//	                  Traefik's API, and only then remove it; if the restore
//	                  cannot be confirmed, keep it running and say so
//	confirmed         it serves: nothing to undo
//
// A container that a route file names is never removed.

type switchPhase int

const (
	phaseStarted      switchPhase = iota + 1 // runs, no route names it
	phaseHealthy                             // answers its health check, no route names it
	phaseRouteWritten                        // the route file may name it; Traefik may route to it
	phaseConfirmed                           // Traefik routes to it only: in service
)

func (p switchPhase) String() string {
	switch p {
	case phaseStarted:
		return "started"
	case phaseHealthy:
		return "healthy"
	case phaseRouteWritten:
		return "route written"
	case phaseConfirmed:
		return "confirmed"
	}
	return "unknown"
}

// undoAction is what becomes of a container that never got into service.
type undoAction int

const (
	undoRemove undoAction = iota // this run created it
	undoStop                     // it existed, stopped (a rollback target): stop it again, keep it
	undoKeep                     // it was already running before this run touched it
)

// hostSwitch is one container's way into service on one host.
type hostSwitch struct {
	host, id, name string
	undo           undoAction

	mu    sync.Mutex
	phase switchPhase
	key   string // the route key, once a route write began
	// restore, when set (a canary's split), is what the undo writes
	// instead of putting this run's backup back: old alone, confirmed.
	restore *routeTarget
}

func (s *hostSwitch) setPhase(p switchPhase) {
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
}

func (s *hostSwitch) state() (switchPhase, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase, s.key
}

// unrouted records that key's route on host no longer names any container
// of a switch other than except: a route to one container alone was
// confirmed (a canary aborted). Such a switch is back to healthy, so its
// undo removes its container without touching the route.
func (rt *Runtime) unrouted(host, key, except string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, sw := range rt.switches {
		sw.mu.Lock()
		if sw.host == host && sw.key == key && sw.id != except && sw.phase == phaseRouteWritten {
			sw.phase, sw.key, sw.restore = phaseHealthy, "", nil
		}
		sw.mu.Unlock()
	}
}

// beginSwitch records that ctr (id, name) on host is on its way into
// service, and registers its undo for the flow's exit.
func (rt *Runtime) beginSwitch(host, id, name string, undo undoAction) *hostSwitch {
	sw := &hostSwitch{host: host, id: id, name: name, undo: undo, phase: phaseStarted}
	rt.mu.Lock()
	rt.switches[newKey(host, id)] = sw
	rt.mu.Unlock()
	rt.onExit(newKey(host, id), func(ctx context.Context) error { return rt.undoSwitch(ctx, sw) })
	return sw
}

// switchOf returns the switch record of container id on host, or nil.
func (rt *Runtime) switchOf(host, id string) *hostSwitch {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.switches[newKey(host, id)]
}

// endSwitch forgets a switch: the container is in service, or its failure
// was handled where it happened.
func (rt *Runtime) endSwitch(host, id string) {
	rt.mu.Lock()
	delete(rt.switches, newKey(host, id))
	rt.mu.Unlock()
	rt.dropExit(newKey(host, id))
}

// Timeouts of the undo steps. They run on a context of their own: the
// flow's is cancelled by then (Ctrl-C, a failed sibling).
const (
	restoreTimeout = 15 * time.Second // put the previous route back
	reconfirmFor   = 10 * time.Second // Traefik's API shows it
)

// undoSwitch takes a container that did not get into service back out,
// never leaving the host without a container its route names.
func (rt *Runtime) undoSwitch(ctx context.Context, sw *hostSwitch) error {
	ctx = context.WithoutCancel(ctx)
	phase, key := sw.state()
	switch phase {
	case phaseConfirmed:
		return nil
	case phaseRouteWritten:
		sw.mu.Lock()
		target := sw.restore
		sw.mu.Unlock()
		gen := rt.markGen()
		content, err := rt.restoreRoute(ctx, sw.host, key, gen, target)
		urls := dynamic.ServerURLs([]byte(content))
		if err != nil {
			rt.Out.Always(sw.host, fmt.Sprintf("UNCONFIRMED: kept %s running: the route %s could not be put back (%v)", sw.name, key, err))
			rt.noteUnconfirmed(sw.host)
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, reconfirmFor)
		// The mark first: the servers alone may be what Traefik showed
		// before the write being undone, not the restore. Then the
		// servers alone: the previous route's routers were confirmed (or
		// not) when it was written.
		err = rt.awaitMark(cctx, sw.host, key, gen)
		if err == nil {
			err = rt.awaitFile(cctx, sw.host, key, []byte(content))
		}
		cancel()
		if err != nil {
			rt.Out.Always(sw.host, fmt.Sprintf("UNCONFIRMED: kept %s running: the route %s was put back to %s, but Traefik did not confirm it (%v)", sw.name, key, describeServers(urls), err))
			rt.noteUnconfirmed(sw.host)
			return nil
		}
		rt.Out.Line(sw.host, fmt.Sprintf("Traefik routes %s back to %s", key, describeServers(urls)))
		// In-flight requests on the way to it finish: stop (SIGTERM, the
		// app drains) before removing.
		return rt.undoContainer(ctx, sw, rt.Config.StopWaitTime)
	default:
		return rt.undoContainer(ctx, sw, 0)
	}
}

// markGen is a new value for a restore's mark: unique to this run and,
// within it, to the restore.
func (rt *Runtime) markGen() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.marks++
	return fmt.Sprintf("%s.%d", rt.runID, rt.marks)
}

// awaitMark polls Traefik's API on host until key's restore mark is gen
// (Traefik has applied a reading of the route directory taken after the
// restore), or ctx ends.
func (rt *Runtime) awaitMark(ctx context.Context, host, key, gen string) error {
	return rt.pollTraefik(ctx, host, func(ctx context.Context, client *http.Client, ip string) (string, bool, error) {
		got, err := traefik.Mark(ctx, client, ip, key)
		if err != nil || got == gen {
			return "", err == nil, err
		}
		return fmt.Sprintf("mark %q, not yet %q", got, gen), false, nil
	})
}

func (rt *Runtime) undoContainer(ctx context.Context, sw *hostSwitch, wait time.Duration) error {
	var line, what string
	e := rt.engine(sw.host)
	stop := e.Words("stop", "-t", strconv.Itoa(int(wait.Seconds())), sw.id) + " >/dev/null 2>&1"
	switch sw.undo {
	case undoKeep:
		return nil
	case undoStop:
		line, what = e.Changed(stop)+" || true", "stopped "+sw.name+" (kept for rollback)"
	default:
		rm := e.Words("rm", "-f", sw.id) + " >/dev/null 2>&1"
		if wait > 0 {
			rm = stop + "; " + rm
		}
		line, what = e.Changed(rm)+" || true", "removed "+sw.name+" (never put in service)"
	}
	ctx, cancel := context.WithTimeout(ctx, wait+15*time.Second)
	defer cancel()
	if _, err := rt.Exec.Run(ctx, executor.Command{Host: sw.host, Line: line}); err != nil {
		return fmt.Errorf("on %s: undo %s: %w", sw.host, sw.name, err)
	}
	rt.Out.Line(sw.host, what)
	return nil
}

func describeServers(urls []string) string {
	if len(urls) == 0 {
		return "no server (there was no route before)"
	}
	return strings.Join(urls, ", ")
}

func (rt *Runtime) noteUnconfirmed(host string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !slices.Contains(rt.unconfirmed, host) {
		rt.unconfirmed = append(rt.unconfirmed, host)
	}
}

// Step is the title of the flow's current step ("" before the first).
func (rt *Runtime) Step() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.step
}

// Unconfirmed lists the hosts whose switch was left unconfirmed: both the
// old and the new container run there, and the route names the old one.
func (rt *Runtime) Unconfirmed() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.unconfirmed...)
}

// Route files and their backups. The backup of a route lives outside the
// directory Traefik watches, named for this run, so a restore never puts
// back what another run saved. Writer and restorer hold one flock per
// route key: a write cut off mid-way (Ctrl-C) can still be running on the
// host when the restore starts, and the fence file stops it from landing
// after the restore.
const prevDir = stateDir + "/traefik/previous"

type routePaths struct {
	route, tmp, lock, backup, absent, fence, mark, markTmp, all string
}

func (rt *Runtime) routePaths(key string) routePaths {
	base := path.Join(prevDir, key+"."+rt.runID)
	route := path.Join(routeDir, key+".yml")
	return routePaths{
		route: route,
		// Outside the directory Traefik watches: only the rename lands
		// there, one event. A temporary file inside made an event of its
		// own first, whose reload began Traefik's throttle, and the route
		// then waited the throttle out (0.5-0.9 s per switch).
		tmp:    base + ".tmp",
		lock:   path.Join(prevDir, "lock."+key),
		backup: base + ".yml",
		absent: base + ".absent",
		fence:  base + ".fence",
		// The restore's mark (traefik.MarkContent): beside the route,
		// written after it.
		mark:    path.Join(routeDir, traefik.MarkFile(key)),
		markTmp: base + ".mark",
		all:     quote(path.Join(prevDir, key)) + ".*",
	}
}

// routeWriteLine writes content as key's route, keeping the previous one
// for restoreRoute. The content travels in the command line (a route file
// holds no secret), written by the shell's own printf: a command line
// arrives whole or not at all, so no truncated route can land, and the
// write runs four processes (flock, rm, cp, mv) where reading stdin and
// checking its size took nine; each costs 10-20 ms on a busy host.
func (rt *Runtime) routeWriteLine(key, content string) string {
	return rt.routeWriteScript(key, quote(content))
}

// routeWriteScript is routeWriteLine with the content's shell word given:
// the plan shows a note in its place.
func (rt *Runtime) routeWriteScript(key, word string) string {
	p := rt.routePaths(key)
	return fmt.Sprintf("{ [ -d %s ] && [ -d %s ] || mkdir -p %s %s; } && { flock 9 && test ! -e %s && rm -f %s && { if [ -e %s ]; then cp %s %s; else : > %s; fi; } && umask 022 && printf '%%s' %s > %s && mv %s %s; } 9>%s",
		quote(routeDir), quote(prevDir), quote(routeDir), quote(prevDir), quote(p.fence), p.all,
		quote(p.route), quote(p.route), quote(p.backup), quote(p.absent),
		word, quote(p.tmp), quote(p.tmp), quote(p.route), quote(p.lock))
}

// restoreLine fences off this run's write of key, puts the previous route
// back (or removes the route when there was none), writes the restore's
// mark gen, and prints the route file as it then is.
func (rt *Runtime) restoreLine(key, gen string) string {
	p := rt.routePaths(key)
	return fmt.Sprintf("mkdir -p %s %s && { flock 9 && : > %s && rm -f %s && if [ -e %s ]; then mv %s %s; elif [ -e %s ]; then rm -f %s %s; fi && %s; } 9>%s && { cat %s 2>/dev/null || true; }",
		quote(prevDir), quote(routeDir), quote(p.fence), quote(p.tmp),
		quote(p.backup), quote(p.backup), quote(p.route),
		quote(p.absent), quote(p.route), quote(p.absent), markScript(p, key, gen), quote(p.lock), quote(p.route))
}

// markScript writes key's restore mark gen, after the route (see
// traefik.MarkContent), under the route's lock.
func markScript(p routePaths, key, gen string) string {
	return fmt.Sprintf("umask 022 && printf '%%s' %s > %s && mv %s %s",
		quote(traefik.MarkContent(key, gen)), quote(p.markTmp), quote(p.markTmp), quote(p.mark))
}

// restoreRoute puts key's previous route back (or target, when set), with
// the mark gen after it, and returns the route file as it then is.
func (rt *Runtime) restoreRoute(ctx context.Context, host, key, gen string, target *routeTarget) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	line := rt.restoreLine(key, gen)
	if target != nil {
		line = rt.restoreToLine(key, target.content, gen)
	}
	res, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: line})
	if err != nil {
		return "", err
	}
	return res.Stdout, nil
}
