// Package container is the container runtime adapter: it turns a step
// (run, start, ps, pull, login, build, prune...) into docker command words
// and lines, and parses what docker prints back. It knows nothing of
// Starlark or of how commands reach a host; builtins glue it to flows and
// the executor runs what it builds.
package container

import (
	"strconv"
	"strings"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Network is the user-defined Docker network shared by Traefik, app
// containers and accessories, so they reach each other by name.
const Network = "mrsk"

// EnsureNetwork creates Network when absent. It is braced so it composes
// with && chains.
const EnsureNetwork = "{ docker network inspect " + Network + " >/dev/null 2>&1 || docker network create " + Network + " >/dev/null; }"

// InspectFormat prints "<id> <ip on the mrsk network>"; ParseInspect reads it.
const InspectFormat = `{{.Id}} {{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}`

// Inspect prints ref's id and address (InspectFormat).
func Inspect(ref string) string {
	return shellwords.Join("docker", "inspect", "-f", InspectFormat, ref)
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
const PsFormat = `{{.ID}}|{{.Names}}|{{.State}}|{{.Label "version"}}|{{.Label "role"}}|{{.Image}}|{{.CreatedAt}}`

// PsEnd separates docker ps output from what follows in one command.
const PsEnd = "--mrsk-ps-end--"

// Ps lists the containers f selects, newest first (docker's order); all
// includes stopped ones. Ids are full: they compare equal to the ones
// docker inspect gives.
func Ps(f Filter, all bool) string {
	words := []string{"docker", "ps"}
	if all {
		words = append(words, "--all")
	}
	words = append(words, f.Args()...)
	return shellwords.Join(append(words, "--format", PsFormat, "--no-trunc")...)
}

// PsEntry is one line of Ps output.
type PsEntry struct {
	ID, Name, State, Version, Role, Image, Created string
}

// ParsePs reads Ps output, skipping lines that are not its format.
func ParsePs(out string) []PsEntry {
	var cs []PsEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 7 {
			continue
		}
		cs = append(cs, PsEntry{ID: f[0], Name: f[1], State: f[2], Version: f[3], Role: f[4], Image: f[5], Created: f[6]})
	}
	return cs
}

// Login logs in to server (Docker Hub when "") with the password on stdin,
// never in argv. display is line with the username (a credential too)
// redacted, for plans and logs.
func Login(server, username string) (line, display string) {
	words := []string{"docker", "login"}
	if server != "" {
		words = append(words, server)
	}
	line = shellwords.Join(append(words, "-u", username, "--password-stdin")...)
	display = shellwords.Join(words...) + " -u [REDACTED] --password-stdin"
	return line, display
}

// Logout logs out of server (Docker Hub when "").
func Logout(server string) string {
	words := []string{"docker", "logout"}
	if server != "" {
		words = append(words, server)
	}
	return shellwords.Join(words...)
}

// Pull pulls image, printing only its digest.
func Pull(image string) string {
	return shellwords.Join("docker", "pull", "--quiet", image)
}

// Start starts a stopped container and prints it as Inspect does.
func Start(ref string) string {
	return shellwords.Join("docker", "start", ref) + " >/dev/null && " + Inspect(ref)
}

// Stop sends SIGTERM to refs, then SIGKILL after timeout seconds.
func Stop(timeout int, refs []string) string {
	words := append([]string{"docker", "stop", "-t", strconv.Itoa(timeout)}, refs...)
	return shellwords.Join(words...) + " >/dev/null"
}

// Remove removes refs, running or not.
func Remove(refs []string) string {
	return shellwords.Join(append([]string{"docker", "rm", "-f"}, refs...)...) + " >/dev/null"
}
