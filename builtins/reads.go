package builtins

import (
	"fmt"
	"strings"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/traefik"
)

// Reads in the lock's round trip: what a flow reads first on the primary
// host, read by the command that takes the lock (lock(reads=...)), so the
// first read costs no round trip of its own (~0.1-0.15 s each on the
// sandbox). The answers are kept until the next command on that host
// (rt.run drops them): they are true while the lock is held and nothing
// of this run has changed the host since.
//
//	image       whether the host has the image of ctx.version (docker_pull(if_absent=True))
//	containers  the service's containers, stopped ones too (docker_ps)
//	traefik     Traefik's address on the mrsk network (the route's confirmation)

// hostReads are the kept answers of one host.
type hostReads struct {
	image      bool                // the host has the image of ctx.version
	containers []container.PsEntry // valid when haveCtrs
	haveCtrs   bool
}

// readsLine is the shell of the reads named, for acquireLine.
func (rt *Runtime) readsLine(host string, names []string) (string, error) {
	e := rt.engine(host)
	var cmds []string
	for _, n := range names {
		switch n {
		case "image":
			cmds = append(cmds, container.Read(n, e.ImageID(rt.ImageRef(rt.Opts.Version))))
		case "containers":
			cmds = append(cmds, container.Read(n, e.Ps(rt.filter("", ""), true)))
		case "traefik":
			cmds = append(cmds, container.Read(n, e.Inspect(traefik.Name)))
		default:
			return "", fmt.Errorf("reads: no read named %q (image, containers, traefik)", n)
		}
	}
	return strings.Join(cmds, "; "), nil
}

// keepReads keeps the answers in the output of a command with reads.
func (rt *Runtime) keepReads(host, out string) {
	got := container.ParseReads(out)
	if len(got) == 0 {
		return
	}
	r := &hostReads{}
	if id, ok := got["image"]; ok && strings.TrimSpace(id) != "" {
		r.image = true
	}
	if ps, ok := got["containers"]; ok {
		r.containers, r.haveCtrs = container.ParsePs(ps), true
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if out, ok := got["traefik"]; ok {
		if _, ip := container.ParseInspect(out); ip != "" {
			rt.traefikIPs[host] = ip
		}
	}
	if rt.reads == nil {
		rt.reads = map[string]*hostReads{}
	}
	rt.reads[host] = r
}

// dropReads forgets host's kept answers: a command is about to run there.
func (rt *Runtime) dropReads(host string) {
	rt.mu.Lock()
	delete(rt.reads, host)
	rt.mu.Unlock()
}

// hasImage reports whether the lock's round trip found the image of
// ctx.version on host.
func (rt *Runtime) hasImage(host string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r := rt.reads[host]
	return r != nil && r.image
}

// keptPs is what docker_ps(host, role, all, version) would list, from the
// lock's round trip, when it is kept.
func (rt *Runtime) keptPs(host, role, version string, all bool) ([]container.PsEntry, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r := rt.reads[host]
	if r == nil || !r.haveCtrs {
		return nil, false
	}
	var out []container.PsEntry
	for _, c := range r.containers {
		if (role == "" || c.Role == role) && (version == "" || c.Version == version) && (all || container.Running(c.State)) {
			out = append(out, c)
		}
	}
	return out, true
}
