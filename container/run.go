package container

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/shellwords"
)

// App is what a container of a role runs with.
type App struct {
	// Name is the container's name; "" for a one-off container (app
	// exec), which gets no labels: prune and ps must never count it.
	Name    string
	Version string
	// Service, Role and Destination label the container (Filter finds
	// it by them); Labels and then RoleLabels add to and override those.
	Service, Role, Destination string
	Labels, RoleLabels         map[string]string
	Env                        map[string]string // clear values, in argv
	EnvFile                    string            // the secrets' env file on the host, "" for none
	Logging                    config.Logging
	Volumes                    []string
	Options                    map[string]any // role options, as docker run flags
	Image                      string
}

// Hostname is what Kamal 1.9 names an app container's host: the host's
// name (its first 51 characters, without trailing dots) and random hex.
func Hostname(host, random string) string {
	h := host
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	h = strings.Trim(h, "[]")
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, h)
	if len(h) > 51 {
		h = h[:51]
	}
	return strings.TrimRight(h, ".") + "-" + random
}

// Args are the docker run flags of a, then its image.
func (a App) Args() []string {
	w := []string{"--network", Network}
	// Both prefixes: apps written for Kamal read KAMAL_*.
	if a.Name != "" {
		w = append(w, "-e", "MRSK_CONTAINER_NAME="+a.Name, "-e", "KAMAL_CONTAINER_NAME="+a.Name)
	}
	w = append(w, "-e", "MRSK_VERSION="+a.Version, "-e", "KAMAL_VERSION="+a.Version)
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		w = append(w, "-e", k+"="+a.Env[k])
	}
	if a.EnvFile != "" {
		w = append(w, "--env-file", a.EnvFile)
	}
	w = append(w, LoggingArgs(a.Logging)...)
	if a.Name != "" {
		labels := map[string]string{"service": a.Service, "role": a.Role, "version": a.Version, "destination": a.Destination}
		maps.Copy(labels, a.Labels)
		maps.Copy(labels, a.RoleLabels)
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			w = append(w, "--label", k+"="+labels[k])
		}
	}
	for _, v := range a.Volumes {
		w = append(w, "--volume", v)
	}
	w = append(w, OptionArgs(a.Options)...)
	return append(w, a.Image)
}

// RunScript starts app container name (run: its Args and command) and
// prints what ParseRun reads. A container of the same name (a redeploy of
// one version) is renamed to aside first. The container is labelled with
// runID, and once `docker run` returns the script removes it again if
// fence exists: a run cut off on mrsk's side (Ctrl-C, a dropped
// connection) may still be going on the host, and RunUndo's fence makes
// sure what it starts does not stay.
func (r Runtime) RunScript(f Filter, name, aside, runID, fence string, run []string) []string {
	b := r.Bin()
	words := append([]string{b, "run", "--detach", "--restart", "unless-stopped", "--name", name, "--label", RunLabel + "=" + runID}, run...)
	q := shellwords.Quote
	return []string{
		r.Ps(f, false) + "; echo " + PsEnd,
		r.EnsureNetwork(),
		fmt.Sprintf("if %s container inspect %s >/dev/null 2>&1; then %s rename %s %s; fi", b, q(name), b, q(name), q(aside)),
		r.Changed(shellwords.Join(words...) + " >/dev/null"),
		fmt.Sprintf("{ [ ! -e %s ] || { %s; exit 1; }; }", q(fence), r.Changed(shellwords.Join(b, "rm", "-f", name)+" >/dev/null 2>&1")),
		r.Inspect(name),
	}
}

// RunLabel marks the containers a run started, so an undo removes only
// those: never a container of the same name that was serving before.
const RunLabel = "mrsk.run"

// RunUndo undoes a RunScript that may still be running on the host: it sets
// the fence, then removes role's container started by run runID, if any.
func (r Runtime) RunUndo(role, runID, fence string) string {
	q := shellwords.Quote
	b := r.Bin()
	return fmt.Sprintf("mkdir -p %s && : > %s; ids=$(%s ps -aq --filter %s --filter %s); [ -z \"$ids\" ] || %s; true",
		q(path.Dir(fence)), q(fence), b, q("label="+RunLabel+"="+runID), q("label=role="+role), r.Changed(b+" rm -f $ids >/dev/null 2>&1"))
}

// ParseRun reads RunScript's output: the containers that ran before, and
// the new container's id and address.
func ParseRun(out string) (previous []PsEntry, id, ip string) {
	before, after, _ := strings.Cut(out, PsEnd+"\n")
	id, ip = ParseInspect(after)
	return ParsePs(before), id, ip
}

// LoggingArgs are docker run's logging flags. Without a configuration,
// logs are capped (docker's default json-file grows without bound).
func LoggingArgs(l config.Logging) []string {
	if l.Driver == "" && len(l.Options) == 0 {
		return []string{"--log-opt", "max-size=10m"}
	}
	var w []string
	if l.Driver != "" {
		w = append(w, "--log-driver", l.Driver)
	}
	for _, k := range slices.Sorted(maps.Keys(l.Options)) {
		w = append(w, "--log-opt", k+"="+l.Options[k])
	}
	return w
}

// OptionArgs turns {"memory": "512m", "init": true} into --memory 512m
// --init: a null or true value is a bare flag, false leaves it out, a list
// repeats it.
func OptionArgs(opts map[string]any) []string {
	var w []string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		flag := "--" + k
		switch v := opts[k].(type) {
		case nil:
			w = append(w, flag)
		case bool:
			if v {
				w = append(w, flag)
			}
		case []any:
			for _, x := range v {
				w = append(w, flag, fmt.Sprint(x))
			}
		default:
			w = append(w, flag, fmt.Sprint(v))
		}
	}
	return w
}

// EnvFile renders secrets for docker --env-file: one KEY=VALUE a line,
// sorted. Docker reads values verbatim to the line's end, so a value with
// a line break cannot be written and is an error.
func EnvFile(env config.Env) ([]byte, error) {
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(env.Secret)) {
		v := env.Secret[k].Reveal()
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("env.secret %s: value has a line break, which docker env files cannot hold", k)
		}
		fmt.Fprintf(&sb, "%s=%s\n", k, v)
	}
	return []byte(sb.String()), nil
}
