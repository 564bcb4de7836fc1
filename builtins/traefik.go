package builtins

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/traefik"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// Where Traefik's files live on each host (package traefik says why routes
// are files). The API (entry point "traefik", never published) confirms
// each switch.
const (
	routeDir       = stateDir + "/traefik/dynamic"
	traefikEnvFile = stateDir + "/env/traefik/traefik.env"
)

// apiRouteFile routes Traefik's API (traefik.APIRouteScript writes it).
const apiRouteFile = routeDir + "/_mrsk_api.yml"

// stageDir holds files on their way into routeDir: written there and
// renamed in, they make one event in the directory Traefik watches, or
// none when unchanged. Every event makes Traefik reload, and a reload
// starts its providersThrottleDuration, which a route switch right after
// would wait out.
const stageDir = stateDir + "/traefik/staging"

// staged is the temporary path of p in stageDir.
func staged(p string) string { return path.Join(stageDir, path.Base(p)+".tmp") }

// traefikEnsureScript starts Traefik when absent, leaves it when its
// configuration (hash) and secret env file match, and reports "changed"
// otherwise. The new env file waits beside the one Traefik runs with
// until a (re)start takes it.
func (rt *Runtime) traefikEnsureScript(host string, reboot bool) (executor.Command, error) {
	resolver := host == rt.Config.TLSPrimary()
	run, hash := traefik.Command(rt.engine(host), rt.Config.Traefik, traefik.Mounts{Routes: homePath(routeDir), ACME: homePath(acmeStateDir)}, traefikEnvFile, resolver)
	var s []string
	var stdin []byte
	same, adopt := "true", "true"
	if env := rt.Config.Traefik.Env; len(env.Secret) > 0 {
		content, err := container.EnvFile(env)
		if err != nil {
			return executor.Command{}, fmt.Errorf("traefik: %w", err)
		}
		next := traefikEnvFile + ".next"
		s = append(s, uploadCommand(host, next, content, "0600").Line)
		stdin = content
		same = join("cmp", "-s", next, traefikEnvFile)
		adopt = join("mv", next, traefikEnvFile)
	}
	s = append(s, "mkdir -p "+quote(routeDir)+" "+quote(stageDir), rt.engine(host).EnsureNetwork(), traefik.APIRouteScript(rt.engine(host), apiRouteFile, staged(apiRouteFile)), rt.tlsEnsureScript(host))
	e := rt.engine(host)
	if reboot {
		s = append(s, e.Changed(e.Words("rm", "-f", traefik.Name)+" >/dev/null 2>&1")+" || true")
	}
	s = append(s,
		`cur=$(`+e.Bin()+` inspect -f '{{index .Config.Labels "mrsk.config"}} {{.State.Running}}' `+traefik.Name+` 2>/dev/null || true)`,
		`case "$cur" in `+
			`"") `+adopt+` && `+e.Changed(run+` >/dev/null`)+` && echo started ;; `+
			`"`+hash+` true") if `+same+`; then echo running; else echo changed; fi ;; `+
			`"`+hash+` false") if `+same+`; then `+e.Changed(e.Words("start", traefik.Name)+` >/dev/null`)+` && echo started; else echo changed; fi ;; `+
			`*) echo changed ;; esac`,
		e.Inspect(traefik.Name),
	)
	return executor.Command{Host: host, Line: strings.Join(s, "; "), Stdin: stdin, StdinNote: "[REDACTED env file]"}, nil
}

// traefik_ensure(host, reboot=False) makes sure Traefik runs on host with
// our configuration: starts it when absent, leaves it when it matches, and
// says how to reboot it when the configuration changed. Returns "started",
// "running", "changed" or "rebooted".
func bTraefikEnsure(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	reboot := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "reboot?", &reboot); err != nil {
		return nil, err
	}
	cmd, err := rt.traefikEnsureScript(host, reboot)
	if err != nil {
		return nil, err
	}
	res, err := rt.run(t, cmd)
	if err != nil {
		return nil, fmt.Errorf("traefik: %w", err)
	}
	if res.Planned {
		return starlark.String("started"), nil
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	status := strings.TrimSpace(lines[0])
	_, ip := container.ParseInspect(res.Stdout)
	rt.mu.Lock()
	rt.traefikIPs[host] = ip
	rt.mu.Unlock()
	switch status {
	case "changed":
		rt.Out.Line(host, "Traefik runs with another configuration; apply it with `mrsk traefik reboot` (it drops connections briefly)")
	case "started":
		if reboot {
			status = "rebooted"
		}
		rt.Out.Line(host, "Traefik "+status)
	}
	return starlark.String(status), nil
}

func (rt *Runtime) routeFile(role string) string {
	return path.Join(routeDir, rt.roleKey(role)+".yml")
}

// routeOptions are what mrsk adds to role's labels to route it to url
// (the container's server, http://ADDR:PORT): the router and service key,
// the public entry points and TLS. Extend here (TLS from traefik.tls, the
// websecure entry point); config's load-time check of the labels
// (config/labels.go) builds with Key and URL only.
//
// With traefik.tls the TLS primary's routers order the certificate (the
// resolver runs there only); elsewhere they take it from the TLS store
// that tls_sync fills.
func (rt *Runtime) routeOptions(host, role, url string) dynamic.Options {
	o := dynamic.Options{Key: rt.roleKey(role), URL: url, EntryPoints: traefik.EntryPoints(rt.Config.Traefik)}
	if t := rt.Config.Traefik.TLS; t != nil {
		o.TLS = &dynamic.TLS{Hosts: t.Hosts, Redirect: t.Redirect}
		if host == rt.Config.TLSPrimary() {
			o.TLS.CertResolver = traefik.Resolver
		}
	}
	return o
}

// routeFileFor is role's route file (its labels, merged and decoded, made
// into Traefik's dynamic configuration) to url, the address of container
// name, and the routers it holds.
func (rt *Runtime) routeFileFor(host, role, url, name string) ([]byte, []string, error) {
	file, routers, err := rt.renderRoute(host, role, url, name, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("labels of role %s: %w", role, err)
	}
	return file, routers, nil
}

// traefik_route(host, role, container) points role's route on host at
// container, then waits until Traefik's API shows the service routing to
// that container only. The previous route is kept on the host until then:
// if the flow ends before the confirmation (a timeout, a failed sibling,
// Ctrl-C), it is put back and confirmed before the container is removed
// (see switch.go). Returns the seconds the switch took.
func bTraefikRoute(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role string
	var ctr starlark.Value
	var old starlark.Value = starlark.None
	weight := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role, "container", &ctr, "old?", &old, "weight?", &weight); err != nil {
		return nil, err
	}
	if old != starlark.None || weight != 0 {
		if old == starlark.None {
			return nil, fmt.Errorf("%s: a weight needs old, the container that keeps the rest", b.Name())
		}
		return rt.routeCanary(t, host, role, ctr, old, weight) // canary.go
	}
	start := time.Now()
	// A container from docker ps has no address yet (a canary's abort
	// routes back to the old one): inspected then.
	ip, err := rt.containerIP(t, host, ctr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	key := rt.roleKey(role)
	// By address, not by name or id: Docker's DNS lives in the daemon, so a
	// route by name stops working while the daemon is down, though the
	// containers keep serving. The cost: a daemon restart or a reboot may
	// re-address containers, and the next deploy rewrites the route.
	url := fmt.Sprintf("http://%s:%d", ip, rt.healthcheck(role).Port)
	content, routers, err := rt.routeFileFor(host, role, url, attr(ctr, "name"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	// server.scheme and server.port labels may have changed the server.
	servers := dynamic.ServerURLs(content)
	id := attr(ctr, "id")
	sw := rt.switchOf(host, id)
	if sw == nil && !rt.Exec.DryRun() {
		// Already running before this flow (app start, a rollback to a
		// running container): a failed switch puts the route back and
		// leaves the container as it was.
		sw = rt.beginSwitch(host, id, attr(ctr, "name"), undoKeep)
	}
	if sw != nil {
		// Before the write starts: once it may have landed, an undo must
		// put the previous route back first.
		sw.mu.Lock()
		sw.phase, sw.key = phaseRouteWritten, key
		sw.mu.Unlock()
	}
	c := executor.Command{Host: host, Line: rt.routeWriteLine(key, string(content)),
		Display: rt.routeWriteScript(key, "(route "+key+" -> "+attr(ctr, "name")+")")}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("route %s: %w", key, err)
	}
	// In a plan the executor answers for Traefik's API (a test can fail it).
	what := fmt.Sprintf("wait until Traefik routes %s to %s only", key, attr(ctr, "name"))
	if planned, err := executor.Probe(engine.ContextOf(t), rt.Exec, host, what); planned {
		if err != nil {
			return nil, fmt.Errorf("on %s: Traefik did not confirm the route %s to %s: %w", host, key, attr(ctr, "name"), err)
		}
		return starlark.Float(0), nil
	}
	ctx, cancel := context.WithTimeout(engine.ContextOf(t), confirmTimeout)
	defer cancel()
	if err := rt.awaitServers(ctx, host, key, servers, routers); err != nil {
		if engine.ContextOf(t).Err() != nil {
			return nil, engine.ContextOf(t).Err()
		}
		var rejected *routerRejected
		if errors.As(err, &rejected) {
			return nil, fmt.Errorf("on %s: Traefik rejected the route %s to %s: %w", host, key, attr(ctr, "name"), err)
		}
		return nil, fmt.Errorf("on %s: Traefik did not confirm the route %s to %s within %s: %w", host, key, attr(ctr, "name"), confirmTimeout, err)
	}
	sw.setPhase(phaseConfirmed)
	rt.endSwitch(host, id)
	rt.unrouted(host, key, id)
	rt.record(host, "routed")
	rt.progress(host, "Traefik routes "+key+" to "+attr(ctr, "name")+" only")
	return starlark.Float(time.Since(start).Seconds()), nil
}

// confirmTimeout bounds the wait for Traefik to show a new route;
// rejectedFor is how long a router Traefik refuses must stay refused to
// fail the wait before that.
const (
	confirmTimeout = 30 * time.Second
	rejectedFor    = 2 * time.Second
	// pollEvery paces the API reads: Traefik shows a route file some 10-50
	// ms after its rename, and each read is two requests over the SSH
	// connection, no process on the host.
	pollEvery = 20 * time.Millisecond
)

// awaitServers polls Traefik's API through the SSH connection until
// service key@file has exactly the servers want (none: no such service)
// and every one of routers (names in the file provider) is enabled, or
// ctx ends; the error then says what was last seen: the servers, or the
// router Traefik has not loaded or rejected, with its own error text.
func (rt *Runtime) awaitServers(ctx context.Context, host, key string, want, routers []string) error {
	var rejectedSince time.Time
	return rt.pollTraefik(ctx, host, func(ctx context.Context, client *http.Client, ip string) (string, bool, error) {
		last, err := awaitOnce(ctx, client, ip, key, want, routers)
		if err == nil && last == "" {
			return "", true, nil
		}
		// A refusal that lasts past Traefik's reload throttle (500ms)
		// is the new file's, not a previous one's with the same
		// server: no use waiting for the timeout.
		var rejected *routerRejected
		switch {
		case !errors.As(err, &rejected):
			rejectedSince = time.Time{}
		case rejectedSince.IsZero():
			rejectedSince = time.Now()
		case time.Since(rejectedSince) > rejectedFor:
			return "", true, err
		}
		return last, false, err
	})
}

// pollTraefik calls check with Traefik's address on host every pollEvery
// until check reports done (with its error: nil, or one waiting cannot
// mend) or ctx ends; the error then says what check last saw (its
// description, or its error).
func (rt *Runtime) pollTraefik(ctx context.Context, host string, check func(ctx context.Context, client *http.Client, ip string) (seen string, done bool, err error)) error {
	client := rt.httpClient(host)
	var last string
	for {
		ip, err := rt.traefikIPCtx(ctx, host)
		if err == nil {
			var seen string
			var done bool
			seen, done, err = check(ctx, client, ip)
			if done {
				return err
			}
			last = seen
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("last seen: %s", last)
		case <-time.After(pollEvery):
		}
	}
}

// routerRejected is a router that Traefik loaded and refused: waiting
// longer cannot help.
type routerRejected struct {
	name  string
	state traefik.RouterState
}

func (e *routerRejected) Error() string {
	return fmt.Sprintf("router %s@file is %s", e.name, e.state)
}

// awaitOnce asks Traefik's API once what awaitServers waits for: it
// returns "" when all is there, else what is not. Once the service has
// the wanted servers, Traefik has loaded the route file; a router of it
// that is then not enabled was refused, a *routerRejected.
func awaitOnce(ctx context.Context, client *http.Client, ip, key string, want, routers []string) (string, error) {
	servers, err := traefik.Servers(ctx, client, ip, key)
	if err != nil {
		return "", err
	}
	if !traefik.SameServers(servers, want) {
		return fmt.Sprintf("servers %v", servers), nil
	}
	for _, name := range routers {
		r, err := traefik.Router(ctx, client, ip, name)
		if err != nil {
			return "", err
		}
		if r.Found && !r.Enabled() {
			return "", &routerRejected{name, r}
		}
		if !r.Found {
			return fmt.Sprintf("router %s@file not loaded", name), nil
		}
	}
	return "", nil
}

// traefikIPCtx is Traefik's address on the mrsk network of host.
func (rt *Runtime) traefikIPCtx(ctx context.Context, host string) (string, error) {
	rt.mu.Lock()
	ip := rt.traefikIPs[host]
	rt.mu.Unlock()
	if ip != "" {
		return ip, nil
	}
	res, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: rt.engine(host).Inspect(traefik.Name)})
	if err != nil {
		return "", fmt.Errorf("traefik is not running on %s (run mrsk traefik boot): %w", host, err)
	}
	_, ip = container.ParseInspect(res.Stdout)
	if ip == "" {
		return "", fmt.Errorf("traefik on %s is not on the %s network", host, container.Network)
	}
	rt.mu.Lock()
	rt.traefikIPs[host] = ip
	rt.mu.Unlock()
	return ip, nil
}

// traefik_unroute(host, role) removes role's route on host (and the mark
// of an earlier restore of it).
func bTraefikUnroute(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role); err != nil {
		return nil, err
	}
	mark := path.Join(routeDir, traefik.MarkFile(rt.roleKey(role)))
	if _, err := rt.run(t, executor.Command{Host: host, Line: join("rm", "-f", rt.routeFile(role), mark)}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// httpClient makes HTTP requests from host's side, through its SSH
// connection: neither the image nor the host needs curl.
func (rt *Runtime) httpClient(host string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return rt.Exec.Dial(ctx, host, addr)
			},
			DisableKeepAlives: true,
		},
		Timeout: 5 * time.Second,
	}
}
