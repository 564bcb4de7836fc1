package builtins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
)

// Traefik on each host routes by files mrsk writes (the file provider), not
// by container labels: labels cannot change on a running container, so they
// cannot take an old container out of rotation before it stops. The API
// (entry point "traefik", never published) confirms each switch.
const (
	traefikName    = "traefik"
	routeDir       = stateDir + "/traefik/dynamic"
	traefikAPIPort = "8080"
	traefikEnvFile = stateDir + "/env/traefik/traefik.env"
)

func (rt *Runtime) traefikArgs() []string {
	c := rt.Config.Traefik
	words := []string{"docker", "run", "--detach", "--restart", "unless-stopped", "--name", traefikName, "--network", container.Network,
		"--publish", fmt.Sprintf("%d:80", c.HostPort),
		"--volume", "ROUTES:/etc/traefik/dynamic:ro",
		"--log-opt", "max-size=10m"}
	for _, k := range slices.Sorted(maps.Keys(c.Env.Clear)) {
		words = append(words, "-e", k+"="+c.Env.Clear[k])
	}
	if len(c.Env.Secret) > 0 {
		words = append(words, "--env-file", traefikEnvFile)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		words = append(words, "--label", k+"="+c.Labels[k])
	}
	words = append(words, container.OptionArgs(c.Options)...)
	words = append(words, c.Image,
		"--entrypoints.web.address=:80",
		"--entrypoints.traefik.address=:"+traefikAPIPort,
		"--providers.file.directory=/etc/traefik/dynamic",
		"--providers.file.watch=true",
		"--providers.providersThrottleDuration=500ms",
		// The API is routed by apiRouteFile: only the host itself (mrsk,
		// through SSH) reaches it, not the apps on the shared network.
		"--api=true", "--api.dashboard=false",
		"--ping=true",
		"--global.checknewversion=false", "--global.sendanonymoususage=false")
	for _, k := range slices.Sorted(maps.Keys(c.Args)) {
		v := c.Args[k]
		if v == nil {
			words = append(words, "--"+k)
		} else {
			words = append(words, fmt.Sprintf("--%s=%v", k, v))
		}
	}
	return words
}

// traefikCommand is the docker run line for Traefik and the hash of its
// configuration; the hash, as a label, tells whether a running Traefik has
// the configuration we want. Secret values are not in it: their change is
// seen by comparing env files on the host (traefikEnsureScript).
func (rt *Runtime) traefikCommand() (string, string) {
	words := rt.traefikArgs()
	sum := sha256.Sum256([]byte(strings.Join(words, "\x00")))
	hash := hex.EncodeToString(sum[:6])
	var out []string
	for i, w := range words {
		if i > 0 && words[i-1] == "--volume" && strings.HasPrefix(w, "ROUTES:") {
			out = append(out, homePath(routeDir)+quote(strings.TrimPrefix(w, "ROUTES")))
			continue
		}
		out = append(out, quote(w))
	}
	line := strings.Join(out[:7], " ") + " --label " + quote("mrsk.config="+hash) + " " + strings.Join(out[7:], " ")
	return line, hash
}

// apiRouteFile routes Traefik's API on its own entry point, allowed only
// from the gateways of the mrsk network: connections that the host itself
// opens (mrsk's, through SSH) come from there; an app container's come from
// its own address and are refused (403).
const apiRouteFile = routeDir + "/_mrsk_api.yml"

const apiRouteScript = `gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' ` + container.Network + `) && ` +
	`ranges=$(for g in $gw; do printf '"%s/32", ' "$g"; done) && ` +
	`printf 'http:\n  routers:\n    mrsk_internal_api:\n      rule: "PathPrefix(%s/api%s)"\n      entryPoints: ["traefik"]\n      service: api@internal\n      middlewares: ["mrsk_internal_api_local"]\n  middlewares:\n    mrsk_internal_api_local:\n      ipAllowList:\n        sourceRange: [%s]\n' '` + "`" + `' '` + "`" + `' "${ranges%, }" > ` + apiRouteFile + `.tmp && ` +
	// Unchanged, it stays as it is: a rewrite would make Traefik reload.
	`{ cmp -s ` + apiRouteFile + `.tmp ` + apiRouteFile + ` && rm -f ` + apiRouteFile + `.tmp || mv ` + apiRouteFile + `.tmp ` + apiRouteFile + `; }`

// traefikEnsureScript starts Traefik when absent, leaves it when its
// configuration (hash) and secret env file match, and reports "changed"
// otherwise. The new env file waits beside the one Traefik runs with
// until a (re)start takes it.
func (rt *Runtime) traefikEnsureScript(host string, reboot bool) (executor.Command, error) {
	run, hash := rt.traefikCommand()
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
	s = append(s, "mkdir -p "+quote(routeDir), container.EnsureNetwork, apiRouteScript)
	if reboot {
		s = append(s, "docker rm -f "+traefikName+" >/dev/null 2>&1 || true")
	}
	s = append(s,
		`cur=$(docker inspect -f '{{index .Config.Labels "mrsk.config"}} {{.State.Running}}' `+traefikName+` 2>/dev/null || true)`,
		`case "$cur" in `+
			`"") `+adopt+` && `+run+` >/dev/null && echo started ;; `+
			`"`+hash+` true") if `+same+`; then echo running; else echo changed; fi ;; `+
			`"`+hash+` false") if `+same+`; then docker start `+traefikName+` >/dev/null && echo started; else echo changed; fi ;; `+
			`*) echo changed ;; esac`,
		container.Inspect(traefikName),
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

// defaultRule sends every request on the web entry point to the role.
const defaultRule = "PathPrefix(`/`)"

// routeRule is the role's router rule: Kamal 1 configs set it as a label,
// traefik.http.routers.<name>.rule (role labels win over top-level ones).
func (rt *Runtime) routeRule(role string) string {
	for _, labels := range []map[string]string{rt.roleLabels(role), rt.Config.Labels} {
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if strings.HasPrefix(k, "traefik.http.routers.") && strings.HasSuffix(k, ".rule") {
				return labels[k]
			}
		}
	}
	return defaultRule
}

func (rt *Runtime) roleLabels(role string) map[string]string {
	if r, err := rt.role(role); err == nil {
		return r.Labels
	}
	return nil
}

// routeYAML routes requests matching rule on the web entry point to one server.
func routeYAML(key, rule, url string) string {
	return fmt.Sprintf(`# Written by mrsk: do not edit, the next deploy rewrites it.
http:
  routers:
    %[1]s:
      rule: %[2]q
      entryPoints: ["web"]
      service: %[1]s
  services:
    %[1]s:
      loadBalancer:
        servers:
          - url: %[3]q
`, key, rule, url)
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
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role, "container", &ctr); err != nil {
		return nil, err
	}
	ip := attr(ctr, "ip")
	if ip == "" {
		return nil, fmt.Errorf("%s: container %s on %s has no address on the %s network", b.Name(), attr(ctr, "name"), host, container.Network)
	}
	start := time.Now()
	key := rt.roleKey(role)
	url := fmt.Sprintf("http://%s:%d", ip, rt.Config.Healthcheck.Port)
	content := []byte(routeYAML(key, rt.routeRule(role), url))
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
	c := executor.Command{Host: host, Line: rt.routeWriteLine(key, len(content)), Stdin: content,
		StdinNote: "(route " + key + " -> " + attr(ctr, "name") + ")"}
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
	if err := rt.awaitServers(ctx, host, key, []string{url}); err != nil {
		if engine.ContextOf(t).Err() != nil {
			return nil, engine.ContextOf(t).Err()
		}
		return nil, fmt.Errorf("on %s: Traefik did not confirm the route %s to %s within %s: %w", host, key, attr(ctr, "name"), confirmTimeout, err)
	}
	sw.setPhase(phaseConfirmed)
	rt.endSwitch(host, id)
	rt.record(host, "routed")
	rt.progress(host, "Traefik routes "+key+" to "+attr(ctr, "name")+" only")
	return starlark.Float(time.Since(start).Seconds()), nil
}

// confirmTimeout bounds the wait for Traefik to show a new route.
const confirmTimeout = 30 * time.Second

// awaitServers polls Traefik's API through the SSH connection until
// service key@file has exactly the servers want (none: no such service),
// or ctx ends; the error then says what was last seen.
func (rt *Runtime) awaitServers(ctx context.Context, host, key string, want []string) error {
	client := rt.httpClient(host)
	var last string
	for {
		ip, err := rt.traefikIPCtx(ctx, host)
		if err == nil {
			var servers []string
			servers, err = traefikServers(ctx, client, ip, key)
			if err == nil && sameSet(servers, want) {
				return nil
			}
			if err == nil {
				last = fmt.Sprintf("servers %v", servers)
			}
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("last seen: %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func traefikServers(ctx context.Context, client *http.Client, ip, key string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, traefikAPIPort)+"/api/http/services/"+key+"@file", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("traefik API: %s", resp.Status)
	}
	var svc struct {
		LoadBalancer struct {
			Servers []struct {
				URL string `json:"url"`
			} `json:"servers"`
		} `json:"loadBalancer"`
	}
	if err := json.Unmarshal(body, &svc); err != nil {
		return nil, fmt.Errorf("traefik API: %w", err)
	}
	var urls []string
	for _, s := range svc.LoadBalancer.Servers {
		urls = append(urls, s.URL)
	}
	return urls, nil
}

// traefikIPCtx is Traefik's address on the mrsk network of host.
func (rt *Runtime) traefikIPCtx(ctx context.Context, host string) (string, error) {
	rt.mu.Lock()
	ip := rt.traefikIPs[host]
	rt.mu.Unlock()
	if ip != "" {
		return ip, nil
	}
	res, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: container.Inspect(traefikName)})
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

// traefik_unroute(host, role) removes role's route on host.
func bTraefikUnroute(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role); err != nil {
		return nil, err
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: join("rm", "-f", rt.routeFile(role))}); err != nil {
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
