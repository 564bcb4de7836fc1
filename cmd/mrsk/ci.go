package main

// What makes mrsk easy to drive from CI and other programs: exit codes with
// a meaning, the JSON event stream's result, and confirmation that never
// waits for input nobody can give.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"golang.org/x/term"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/sshpool"
)

// Exit codes (README, "Exit codes"). A pipeline can branch on them: retry
// later on a held lock, page someone on a failed health check.
const (
	exitOK          = 0
	exitFailed      = 1   // a remote or local command failed, or anything else
	exitUsage       = 2   // bad command line; a confirmation needed and no terminal to ask on
	exitConfig      = 3   // deploy.yml, .env or deploy.star is invalid
	exitConnect     = 4   // a host could not be reached or logged in to
	exitLocked      = 5   // another run holds the deploy lock; nothing changed
	exitUnhealthy   = 6   // the new version never passed its health check; the old one still serves
	exitCanary      = 7   // a canary was judged bad and aborted; the old version serves alone again
	exitInterrupted = 130 // Ctrl-C (or SIGTERM), or the user declined: what started was undone
)

// exitCode classifies err by its type, never by its message.
func exitCode(err error) int {
	var (
		interrupted *interruptedError
		usage       *usageError
		cfgErr      *config.Error
		cfgOther    *configError
		held        *builtins.LockHeldError
		unhealthy   *builtins.UnhealthyError
		canary      *builtins.CanaryAbortedError
		unreachable *builtins.UnreachableError
		connect     *sshpool.ConnectError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &interrupted):
		return exitInterrupted
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &cfgErr), errors.As(err, &cfgOther):
		return exitConfig
	case errors.As(err, &held):
		return exitLocked
	case errors.As(err, &unhealthy):
		return exitUnhealthy
	case errors.As(err, &canary):
		return exitCanary
	case errors.As(err, &unreachable), errors.As(err, &connect):
		return exitConnect
	}
	return exitFailed
}

// interruptedError is a run stopped by the user: Ctrl-C, SIGTERM, or "no"
// to a confirmation.
type interruptedError struct{ error }

func (e *interruptedError) Unwrap() error { return e.error }

// usageError is a command line that cannot run as given.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// configError is a configuration problem found outside config.Load: the
// project's deploy.star, minimum_version.
type configError struct{ error }

func (e *configError) Unwrap() error { return e.error }

// interactive reports whether a question can be asked: stdin is a terminal
// and CI does not say otherwise.
func interactive(lookupEnv func(string) (string, bool)) bool {
	if v, _ := lookupEnv("CI"); v != "" && v != "false" && v != "0" {
		return false
	}
	return term.IsTerminal(int(os.Stdin.Fd()))
}

// confirm asks question on a terminal and waits for y or yes; without
// one it fails at once, naming the flag that confirms (what: "remove
// deletes ...").
func confirm(app *App, what string) error {
	if !app.Interactive {
		return &usageError{what + ": run again with -y to confirm (there is no terminal to ask on)"}
	}
	fmt.Fprintf(app.Stderr, "%s. Are you sure? [y/N] ", what)
	line, _ := bufio.NewReader(app.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &interruptedError{errors.New("not confirmed: nothing was changed")}
}

// runResult is what a command leaves for the JSON result event.
type runResult struct {
	command     string
	version     string
	hosts       []string
	hostResults []output.Event
	data        any
}

// resultEvent is the stream's last event.
func resultEvent(r *runResult, code int, err error, took time.Duration) output.Event {
	hosts := r.hosts
	if hosts == nil {
		hosts = []string{}
	}
	e := output.Event{Type: "result", Command: r.command, OK: output.Ptr(err == nil), Version: r.version,
		Hosts: &hosts, DurationMS: output.Ptr(took.Milliseconds()), ExitCode: output.Ptr(code), Data: r.data}
	if err != nil {
		e.Error = errorMessage(err)
	}
	return e
}

// hostResults says, per host, how a flow left it. A host is ok when the
// flow succeeded, or (a failed deploy) when its new container went into
// service before the failure; version is what it serves as far as this
// run knows: the flow's version where it went in, else the one running
// before. healthy_ms is the new container's start to its passed health
// check, routed_ms from there to Traefik routing to it only.
func hostResults(hosts []string, events []builtins.Event, ok bool, version string, actsOnVersion bool) []output.Event {
	type moments struct {
		at       map[string]time.Time
		previous string
	}
	by := map[string]*moments{}
	for _, e := range events {
		m := by[e.Host]
		if m == nil {
			m = &moments{at: map[string]time.Time{}}
			by[e.Host] = m
		}
		if e.Name == "previous" {
			m.previous = e.Detail
			continue
		}
		m.at[e.Name] = e.At
	}
	var out []output.Event
	for _, h := range hosts {
		m := by[h]
		if m == nil {
			m = &moments{at: map[string]time.Time{}}
		}
		_, routed := m.at["routed"]
		_, serving := m.at["serving"]
		in := routed || serving
		e := output.Event{Type: "host_result", Host: h, OK: output.Ptr(ok || in)}
		switch {
		case actsOnVersion && (ok || in):
			e.Version = version
		case actsOnVersion:
			e.Version = m.previous
		}
		if s, h := m.at["started"], m.at["healthy"]; !s.IsZero() && !h.IsZero() {
			e.HealthyMS = output.Ptr(h.Sub(s).Milliseconds())
			if r := m.at["routed"]; !r.IsZero() {
				e.RoutedMS = output.Ptr(r.Sub(h).Milliseconds())
			}
		}
		out = append(out, e)
	}
	return out
}

// jsonValue turns a flow's return value into plain values for the result's
// data: structs and dicts become objects, lists arrays. A secret stays
// [REDACTED] (its String).
func jsonValue(v starlark.Value) any {
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(x)
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			return i
		}
		return x.String()
	case starlark.Float:
		return float64(x)
	case starlark.String:
		return string(x)
	case *starlark.Dict:
		m := map[string]any{}
		for _, kv := range x.Items() {
			k, ok := starlark.AsString(kv[0])
			if !ok {
				k = kv[0].String()
			}
			m[k] = jsonValue(kv[1])
		}
		return m
	case *starlarkstruct.Struct:
		d := starlark.StringDict{}
		x.ToStringDict(d)
		m := map[string]any{}
		for k, v := range d {
			m[k] = jsonValue(v)
		}
		return m
	case starlark.Iterable:
		list := []any{}
		it := x.Iterate()
		defer it.Done()
		var e starlark.Value
		for it.Next(&e) {
			list = append(list, jsonValue(e))
		}
		return list
	}
	return v.String()
}

// outputMode reads --output before kong parses the command line: a parse
// error must already go where the mode says (stderr, for json).
func outputMode(args []string, lookupEnv func(string) (string, bool)) string {
	mode, _ := lookupEnv("MRSK_OUTPUT")
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--output="); ok {
			mode = v
		} else if a == "--output" && i+1 < len(args) {
			mode = args[i+1]
		}
	}
	return mode
}

// truthy reads a boolean environment variable as CI systems set them.
func truthy(lookupEnv func(string) (string, bool), name string) bool {
	v, _ := lookupEnv(name)
	return slices.Contains([]string{"1", "true", "yes"}, strings.ToLower(v))
}

// liveView reports whether the live view fits: people's output goes to a
// terminal that can move its cursor, and nothing asked for plain lines.
func liveView(app *App, g *Globals) bool {
	if g.NoProgress || g.DryRun || truthy(app.LookupEnv, "CI") || truthy(app.LookupEnv, "GITHUB_ACTIONS") {
		return false
	}
	if t, _ := app.LookupEnv("TERM"); t == "dumb" {
		return false
	}
	f, ok := app.Stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is the terminal's width (0 when w is none).
func termWidth(w any) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil {
			return width
		}
	}
	return 0
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func toStringList(v starlark.Value) ([]string, error) {
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("want a list of strings")
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, _ := starlark.AsString(x)
		out = append(out, s)
	}
	return out, nil
}

// keyData are the private keys given as content: ssh.key_data's, then
// MRSK_SSH_KEY's (a CI secret). They stay in memory.
func keyData(cfg *config.Config, lookupEnv func(string) (string, bool)) []sshpool.KeyData {
	var keys []sshpool.KeyData
	for _, k := range cfg.SSH.KeyData {
		keys = append(keys, sshpool.KeyData{Source: "ssh.key_data " + k.Name, PEM: []byte(k.Key.Reveal())})
	}
	if v, ok := lookupEnv("MRSK_SSH_KEY"); ok && strings.TrimSpace(v) != "" {
		keys = append(keys, sshpool.KeyData{Source: "MRSK_SSH_KEY", PEM: []byte(v)})
	}
	return keys
}

// knownHostsData is MRSK_KNOWN_HOSTS: known_hosts lines that pin the hosts.
func knownHostsData(lookupEnv func(string) (string, bool)) []byte {
	if v, ok := lookupEnv("MRSK_KNOWN_HOSTS"); ok && strings.TrimSpace(v) != "" {
		return []byte(v)
	}
	return nil
}
