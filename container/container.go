// Package container is the container runtime adapter: it turns a step
// (run, start, ps, pull, login, build, prune...) into docker command words
// and lines, and parses what docker prints back. It knows nothing of
// Starlark or of how commands reach a host; builtins glue it to flows and
// the executor runs what it builds.
package container

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Network is the user-defined network shared by Traefik, app containers
// and accessories, so they reach each other by name (Docker's embedded
// DNS; aardvark-dns under Podman's netavark).
const Network = "mrsk"

// EnsureNetwork creates Network when absent. It is braced so it composes
// with && chains.
func (r Runtime) EnsureNetwork() string {
	b := r.Bin()
	return "{ " + b + " network inspect " + Network + " >/dev/null 2>&1 || " + b + " network create " + Network + " >/dev/null; }"
}

// InspectFormat prints "<id> <ip on the mrsk network>"; ParseInspect reads it.
const InspectFormat = `{{.Id}} {{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}`

// Inspect prints ref's id and address (InspectFormat).
func (r Runtime) Inspect(ref string) string {
	return shellwords.Join(r.Bin(), "inspect", "-f", InspectFormat, ref)
}

// ParseInspect reads the last line of InspectFormat output: earlier lines
// belong to the commands before it in the same script.
func ParseInspect(out string) (id, ip string) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) > 0 {
		id = f[0]
	}
	if len(f) > 1 {
		ip = f[1]
	}
	return id, ip
}

// Filter selects one service's containers by the labels mrsk sets on them.
type Filter struct {
	Service, Destination string
	Role                 string // "" for every role
	Version              string // "" for every version
}

// Args are docker ps --filter flags. Destination is always there, empty
// or not, so a run without a destination never sees another's containers.
func (f Filter) Args() []string {
	a := []string{"--filter", "label=service=" + f.Service, "--filter", "label=destination=" + f.Destination}
	if f.Role != "" {
		a = append(a, "--filter", "label=role="+f.Role)
	}
	if f.Version != "" {
		a = append(a, "--filter", "label=version="+f.Version)
	}
	return a
}

// PsFormat is one container a line, in Ps's fields; ParsePs reads it.
// Podman's ps template has no Label function and its .State is the
// human status ("Up 2 seconds"): the raw state is .ListContainer.State.
func (r Runtime) PsFormat() string {
	if r == Podman {
		return `{{.ID}}|{{.Names}}|{{.ListContainer.State}}|{{index .Labels "version"}}|{{index .Labels "role"}}|{{.Image}}|{{.CreatedAt}}`
	}
	return `{{.ID}}|{{.Names}}|{{.State}}|{{.Label "version"}}|{{.Label "role"}}|{{.Image}}|{{.CreatedAt}}`
}

// PsEnd separates docker ps output from what follows in one command.
const PsEnd = "--mrsk-ps-end--"

// Ps lists the containers f selects (ParsePs puts them newest first); all
// includes stopped ones. Ids are full: they compare equal to the ones
// inspect gives.
func (r Runtime) Ps(f Filter, all bool) string {
	words := []string{r.Bin(), "ps"}
	if all {
		words = append(words, "--all")
	}
	words = append(words, f.Args()...)
	return shellwords.Join(append(words, "--format", r.PsFormat(), "--no-trunc")...)
}

// PsEntry is one line of Ps output.
type PsEntry struct {
	ID, Name, State, Version, Role, Image, Created string
}

// ParsePs reads Ps output, skipping lines that are not its format, newest
// first: docker lists that way, podman oldest first; docker's times have
// whole seconds, so ties keep docker's order.
func ParsePs(out string) []PsEntry {
	var cs []PsEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 7 {
			continue
		}
		cs = append(cs, PsEntry{ID: f[0], Name: f[1], State: f[2], Version: f[3], Role: f[4], Image: f[5], Created: f[6]})
	}
	sort.SliceStable(cs, func(i, j int) bool { return parseTime(cs[i].Created).After(parseTime(cs[j].Created)) })
	return cs
}

// parseTime reads the times docker and podman print: RFC 3339 (inspect's
// .Created of docker) or Go's time.String form (ps's CreatedAt, podman's
// inspect), fractional seconds or not; the zero time when neither.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	// "2026-11-30 06:47:17.731802024 +0000 UTC": fractions parse without
	// being in the layout; a monotonic suffix ("m=+0.1") is cut off.
	if i := strings.Index(s, " m="); i >= 0 {
		s = s[:i]
	}
	t, _ := time.Parse("2006-01-02 15:04:05 -0700 MST", s)
	return t
}

// Login logs in to server (Docker Hub when "") with the password on stdin,
// never in argv. display is line with the username (a credential too)
// redacted, for plans and logs.
func (r Runtime) Login(server, username string) (line, display string) {
	words := []string{r.Bin(), "login"}
	if server != "" {
		words = append(words, server)
	}
	line = shellwords.Join(append(words, "-u", username, "--password-stdin")...)
	display = shellwords.Join(words...) + " -u [REDACTED] --password-stdin"
	return line, display
}

// Logout logs out of server (Docker Hub when "").
func (r Runtime) Logout(server string) string {
	words := []string{r.Bin(), "logout"}
	if server != "" {
		words = append(words, server)
	}
	return shellwords.Join(words...)
}

// Pull pulls image, printing only its digest.
func (r Runtime) Pull(image string) string {
	return shellwords.Join(r.Bin(), "pull", "--quiet", r.Qualify(image))
}

// Start starts a stopped container and prints it as Inspect does.
func (r Runtime) Start(ref string) string {
	return r.Changed(shellwords.Join(r.Bin(), "start", ref)+" >/dev/null") + " && " + r.Inspect(ref)
}

// Stop sends SIGTERM to refs, then SIGKILL after timeout seconds.
func (r Runtime) Stop(timeout int, refs []string) string {
	words := append([]string{r.Bin(), "stop", "-t", strconv.Itoa(timeout)}, refs...)
	return r.Changed(shellwords.Join(words...) + " >/dev/null")
}

// Remove removes refs, running or not.
func (r Runtime) Remove(refs []string) string {
	return r.Changed(shellwords.Join(append([]string{r.Bin(), "rm", "-f"}, refs...)...) + " >/dev/null")
}
