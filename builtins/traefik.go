package builtins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"go.starlark.net/starlark"

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
	words := []string{"docker", "run", "--detach", "--restart", "unless-stopped", "--name", traefikName, "--network", network,
		"--publish", fmt.Sprintf("%d:80", c.HostPort),
		"--volume", "ROUTES:/etc/traefik/dynamic:ro",
		"--volume", "/var/run/docker.sock:/var/run/docker.sock:ro",
		"--log-opt", "max-size=10m"}
	for _, k := range sortedKeys(c.Env.Clear) {
		words = append(words, "-e", k+"="+c.Env.Clear[k])
	}
	if len(c.Env.Secret) > 0 {
		words = append(words, "--env-file", traefikEnvFile)
	}
	for _, k := range sortedKeys(c.Labels) {
		words = append(words, "--label", k+"="+c.Labels[k])
	}
	words = append(words, optionArgs(c.Options)...)
	words = append(words, c.Image,
		"--entrypoints.web.address=:80",
		"--entrypoints.traefik.address=:"+traefikAPIPort,
		"--providers.file.directory=/etc/traefik/dynamic",
		"--providers.file.watch=true",
		"--providers.docker=true",
		"--providers.docker.exposedByDefault=false",
		"--providers.providersThrottleDuration=500ms",
		"--api=true", "--api.insecure=true", "--api.dashboard=false",
		"--ping=true",
		"--global.checknewversion=false", "--global.sendanonymoususage=false")
	for _, k := range sortedKeys(c.Args) {
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
// the configuration we want.
func (rt *Runtime) traefikCommand() (string, string) {
	words := rt.traefikArgs()
	// Secret values count too (hashed, never shown): a changed secret is a
	// changed configuration.
	secrets, _ := envFileContent(rt.Config.Traefik.Env)
	sum := sha256.Sum256([]byte(strings.Join(words, "\x00") + "\x00" + string(secrets)))
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

// traefik_ensure(host, reboot=False) makes sure Traefik runs on host with
// our configuration: starts it when absent, leaves it when it matches, and
// says how to reboot it when the configuration changed. Returns "started",
// "running", "changed" or "rebooted".
func bTraefikEnsure(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	reboot := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "reboot?", &reboot); err != nil {
		return nil, err
	}
	run, hash := rt.traefikCommand()
	var s []string
	var stdin []byte
	if env := rt.Config.Traefik.Env; len(env.Secret) > 0 {
		content, err := envFileContent(env)
		if err != nil {
			return nil, fmt.Errorf("traefik: %w", err)
		}
		s = append(s, uploadCommand(host, traefikEnvFile, content, "0600").Line)
		stdin = content
	}
	s = append(s, "mkdir -p "+quote(routeDir), ensureNetwork)
	if reboot {
		s = append(s, "docker rm -f "+traefikName+" >/dev/null 2>&1 || true")
	}
	s = append(s,
		`cur=$(docker inspect -f '{{index .Config.Labels "mrsk.config"}} {{.State.Running}}' `+traefikName+` 2>/dev/null || true)`,
		`case "$cur" in "") `+run+` >/dev/null && echo started ;; "`+hash+` true") echo running ;; "`+hash+` false") docker start `+traefikName+` >/dev/null && echo started ;; *) echo changed ;; esac`,
		join("docker", "inspect", "-f", inspectFormat, traefikName),
	)
	res, err := rt.run(t, executor.Command{Host: host, Line: strings.Join(s, "; "), Stdin: stdin, StdinNote: "[REDACTED env file]"})
	if err != nil {
		return nil, fmt.Errorf("traefik: %w", err)
	}
	if res.Planned {
		return starlark.String("started"), nil
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	status := strings.TrimSpace(lines[0])
	_, ip := parseInspect(res.Stdout)
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
		for _, k := range sortedKeys(labels) {
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
// container (atomically: temp file, rename), then waits until Traefik's API
// shows the service routing to that container only. Returns the seconds the
// switch took.
func bTraefikRoute(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host, role string
	var ctr starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role, "container", &ctr); err != nil {
		return nil, err
	}
	ip := attr(ctr, "ip")
	if ip == "" {
		return nil, fmt.Errorf("%s: container %s on %s has no address on the %s network", b.Name(), attr(ctr, "name"), host, network)
	}
	start := time.Now()
	key := rt.roleKey(role)
	url := fmt.Sprintf("http://%s:%d", ip, rt.Config.Healthcheck.Port)
	c := uploadCommand(host, rt.routeFile(role), []byte(routeYAML(key, rt.routeRule(role), url)), "0644")
	c.StdinNote = "(route " + key + " -> " + attr(ctr, "name") + ")"
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
	if err := rt.confirmRoute(t, host, key, url); err != nil {
		return nil, err
	}
	rt.record(host, "routed")
	rt.inService(host, ctr)
	rt.progress(host, "Traefik routes "+key+" to "+attr(ctr, "name")+" only")
	return starlark.Float(time.Since(start).Seconds()), nil
}

// confirmRoute polls Traefik's API through the SSH connection until service
// key@file has exactly one server, url.
func (rt *Runtime) confirmRoute(t *starlark.Thread, host, key, url string) error {
	ctx, cancel := context.WithTimeout(engine.ContextOf(t), 30*time.Second)
	defer cancel()
	client := rt.httpClient(host)
	var last string
	for {
		ip, err := rt.traefikIP(t, host)
		if err == nil {
			var servers []string
			servers, err = traefikServers(ctx, client, ip, key)
			if err == nil && len(servers) == 1 && servers[0] == url {
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
			if engine.ContextOf(t).Err() != nil {
				return engine.ContextOf(t).Err()
			}
			return fmt.Errorf("on %s: Traefik did not route %s to %s within 30s (last seen: %s)", host, key, url, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// traefikIP is Traefik's address on the mrsk network of host.
func (rt *Runtime) traefikIP(t *starlark.Thread, host string) (string, error) {
	rt.mu.Lock()
	ip := rt.traefikIPs[host]
	rt.mu.Unlock()
	if ip != "" {
		return ip, nil
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: join("docker", "inspect", "-f", inspectFormat, traefikName)})
	if err != nil {
		return "", fmt.Errorf("traefik is not running on %s (run mrsk traefik boot): %w", host, err)
	}
	_, ip = parseInspect(res.Stdout)
	if ip == "" {
		return "", fmt.Errorf("traefik on %s is not on the %s network", host, network)
	}
	rt.mu.Lock()
	rt.traefikIPs[host] = ip
	rt.mu.Unlock()
	return ip, nil
}

// traefik_unroute(host, role) removes role's route on host.
func bTraefikUnroute(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
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
