package builtins

import (
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/timeline"
)

// Phases of a run, for --timings: each call of a builtin below is a span
// on the hosts it works on (host "" is this machine), named for what it
// does. Recorded in bind, so a project's own flow is timed the same way.

// phaseOf names the phase of a call of builtin name, and the hosts it
// works on; "" for a builtin that is not a phase of its own (log, parallel,
// invoke: their time is that of the builtins they call).
func (rt *Runtime) phaseOf(name string, args starlark.Tuple, kwargs []starlark.Tuple) (string, []string) {
	// The host is the first argument (or host=); none is this machine.
	host := func() []string {
		var h string
		if len(args) > 0 {
			h, _ = starlark.AsString(args[0])
		}
		for _, kv := range kwargs {
			if k, _ := starlark.AsString(kv[0]); k == "host" {
				h, _ = starlark.AsString(kv[1])
			}
		}
		return []string{h}
	}
	switch name {
	case "connect":
		hosts := hostsArg(args, kwargs, 0, "hosts")
		return "connect", uniqueHosts(append(hosts, rt.Config.PrimaryHost()))
	case "lock":
		var action string
		if len(args) > 0 {
			action, _ = starlark.AsString(args[0])
		}
		switch action {
		case "acquire":
			return "lock", []string{rt.Config.PrimaryHost()}
		}
		return "", nil // release: releaseLock records it, also at a flow's exit
	case "audit":
		if kwargIs(kwargs, "unlock", starlark.True) {
			// audit records its own span, after waiting for the
			// background stops (theirs is "stopped").
			return "", nil
		}
		hosts := hostsArg(args, kwargs, 1, "hosts")
		if hosts == nil {
			_, hosts, _ = rt.selectRoles()
		}
		return "audit", hosts
	case "tls_sync":
		return "tls", hostsArg(args, kwargs, 0, "hosts")
	case "docker_stop":
		// In the background (wait=False) the stop's span is its own
		// (docker_stop records it); the call itself takes no time.
		if kwargIs(kwargs, "wait", starlark.False) {
			return "", nil
		}
		return "stopped", host()
	case "docker_build":
		return "build", []string{""}
	case "docker_push":
		return "push", []string{""}
	}
	phase := map[string]string{
		"docker_login":    "login",
		"docker_pull":     "pull",
		"traefik_ensure":  "traefik",
		"docker_ps":       "ps",
		"docker_run":      "run",
		"docker_start":    "start",
		"wait_healthy":    "healthy",
		"traefik_route":   "routed",
		"docker_prune":    "prune",
		"docker_run_once": "run once",
		"ssh_run":         "ssh_run",
		"upload":          "upload",
		"docker":          "docker",
		"accessory_run":   "accessory",
	}[name]
	if phase == "" {
		return "", nil
	}
	return phase, host()
}

// hostsArg reads a list of hosts from argument i or keyword key; nil when
// it is absent or not a list of strings.
func hostsArg(args starlark.Tuple, kwargs []starlark.Tuple, i int, key string) []string {
	var v starlark.Value
	if len(args) > i {
		v = args[i]
	}
	for _, kv := range kwargs {
		if k, _ := starlark.AsString(kv[0]); k == key {
			v = kv[1]
		}
	}
	if v == nil || v == starlark.None {
		return nil
	}
	hosts, err := toStrings(v)
	if err != nil {
		return nil
	}
	return hosts
}

// span starts phase name on hosts; the returned func ends it.
func (rt *Runtime) span(name string, hosts []string) func() {
	start := time.Now()
	return func() {
		end := time.Now()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, h := range hosts {
			rt.spans = append(rt.spans, timeline.Span{Host: h, Name: name, Start: start, End: end})
		}
	}
}

// Spans returns the phases recorded so far, in the order they ended.
func (rt *Runtime) Spans() []timeline.Span {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]timeline.Span(nil), rt.spans...)
}

// kwargIs reports whether keyword argument name is v.
func kwargIs(kwargs []starlark.Tuple, name string, v starlark.Value) bool {
	for _, kv := range kwargs {
		if k, _ := starlark.AsString(kv[0]); k == name {
			return kv[1] == v
		}
	}
	return false
}
