package builtins

// Canary deploys: the new version gets a share of a role's requests beside
// the one that serves (a weighted route, confirmed through Traefik's API
// as every switch is), Traefik's own per-service metrics judge it, and it
// is promoted or aborted. The flow is stdlib/deploy.star's canary_deploy;
// here are its builtins. The state of a canary lives on the hosts (the
// route file names both versions' servers and weights; the containers'
// labels say which version each is), so `mrsk canary status|promote|abort`
// can act on a canary that an earlier run left running.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/traefik"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
	"github.com/mrsk-go/mrsk/traefik/metrics"
)

// CanaryAbortedError is a canary the judgement (or a person, with `mrsk
// canary abort`) rolled back: the old version serves alone again and the
// new one was removed. It has its own exit code.
type CanaryAbortedError struct{ Reason string }

func (e *CanaryAbortedError) Error() string { return e.Reason }

// canary_aborted(reason) fails the flow with a CanaryAbortedError.
func bCanaryAborted(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reason string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "reason", &reason); err != nil {
		return nil, err
	}
	return nil, &CanaryAbortedError{Reason: reason}
}

// canaryValue is ctx.canary: the config's canary: section under the
// command line's --canary, --canary-for and --canary-hosts, or None when
// this run deploys without one.
func (rt *Runtime) canaryValue() (starlark.Value, error) {
	c := rt.Config.Canary
	args := rt.Opts.Args
	flag := func(name string) (starlark.Value, bool) {
		v, ok := args[name]
		return v, ok && v != nil && v != starlark.None
	}
	wv, wset := flag("canary")
	if c == nil && !wset {
		for _, f := range []string{"canary_for", "canary_hosts"} {
			if _, ok := flag(f); ok {
				return nil, fmt.Errorf("--%s tunes a canary: give --canary PERCENT too, or a canary: section in %s", strings.ReplaceAll(f, "_", "-"), rt.Config.File)
			}
		}
		return starlark.None, nil
	}
	s := config.DefaultCanary()
	if c != nil {
		s = *c
	}
	if wset {
		w, err := starlark.AsInt32(wv)
		if err != nil || w < 0 || w > 99 {
			return nil, fmt.Errorf("--canary must be a percentage of requests between 1 and 99 (0: no canary)")
		}
		if w == 0 {
			return starlark.None, nil
		}
		s.Weight = w
	}
	if v, ok := flag("canary_for"); ok {
		f, _ := starlark.AsFloat(v)
		if f < 0 {
			return nil, fmt.Errorf("--canary-for must not be negative (0 leaves the canary running)")
		}
		s.Duration = time.Duration(f * float64(time.Second))
	}
	if v, ok := flag("canary_hosts"); ok {
		n, err := starlark.AsInt32(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--canary-hosts must be a number of hosts")
		}
		s.Hosts = n
	}
	steps := []starlark.Value{starlark.MakeInt(s.Weight)}
	for _, w := range s.Steps {
		if w > s.Weight {
			steps = append(steps, starlark.MakeInt(w))
		}
	}
	return mkstruct(starlark.StringDict{
		"weight":         starlark.MakeInt(s.Weight),
		"duration":       starlark.Float(s.Duration.Seconds()),
		"manual":         starlark.Bool(s.Duration == 0),
		"max_error_rate": starlark.Float(s.MaxErrorRate),
		"min_requests":   starlark.MakeInt(s.MinRequests),
		"steps":          starlark.NewList(steps),
		"hosts":          starlark.MakeInt(s.Hosts),
	}), nil
}

// canaryService names the child service of version in role key's split:
// Traefik counts its requests under this name.
func canaryService(key, version string) string { return key + "--" + version }

// routeCanary is traefik_route with a weight: role's route on host becomes
// a split, old keeping 100-weight percent and ctr taking weight, each
// version its own child service; it returns once Traefik's API shows the
// split with both servers. ctr stays "route written" (switch.go): if the
// flow ends before a promotion, the undo routes to old alone again,
// confirmed, before ctr is removed.
func (rt *Runtime) routeCanary(t *starlark.Thread, host, role string, ctr, old starlark.Value, weight int) (starlark.Value, error) {
	start := time.Now()
	if weight < 1 || weight > 99 {
		return nil, fmt.Errorf("traefik_route: weight %d is not between 1 and 99", weight)
	}
	key := rt.roleKey(role)
	if attr(old, "version") == attr(ctr, "version") {
		return nil, fmt.Errorf("traefik_route: %s and %s are both version %s: a canary needs two versions", attr(old, "name"), attr(ctr, "name"), attr(ctr, "version"))
	}
	oldIP, err := rt.containerIP(t, host, old)
	if err != nil {
		return nil, err
	}
	ip := attr(ctr, "ip")
	if ip == "" {
		return nil, fmt.Errorf("traefik_route: container %s on %s has no address on the %s network", attr(ctr, "name"), host, container.Network)
	}
	port := rt.healthcheck(role).Port
	oldURL, newURL := fmt.Sprintf("http://%s:%d", oldIP, port), fmt.Sprintf("http://%s:%d", ip, port)
	split := &dynamic.Canary{URL: newURL, Weight: weight,
		Stable: canaryService(key, attr(old, "version")), New: canaryService(key, attr(ctr, "version")), Container: attr(ctr, "name")}
	content, routers, err := rt.renderRoute(host, role, oldURL, attr(old, "name"), split)
	if err != nil {
		return nil, fmt.Errorf("traefik_route: %w", err)
	}
	plain, plainRouters, err := rt.renderRoute(host, role, oldURL, attr(old, "name"), nil)
	if err != nil {
		return nil, fmt.Errorf("traefik_route: %w", err)
	}
	id := attr(ctr, "id")
	sw := rt.switchOf(host, id)
	if sw == nil && !rt.Exec.DryRun() {
		sw = rt.beginSwitch(host, id, attr(ctr, "name"), undoKeep)
	}
	if sw != nil {
		sw.mu.Lock()
		sw.phase, sw.key = phaseRouteWritten, key
		if sw.restore == nil {
			// The first split of this run: its undo goes back to old alone
			// (a later step's write replaces the route's backup).
			sw.restore = &routeTarget{content: string(plain), servers: dynamic.ServerURLs(plain), routers: plainRouters}
		}
		sw.mu.Unlock()
	}
	what := fmt.Sprintf("%s -> %d%% %s, %d%% %s", key, 100-weight, attr(old, "name"), weight, attr(ctr, "name"))
	c := executor.Command{Host: host, Line: rt.routeWriteLine(key, string(content)),
		Display: rt.routeWriteScript(key, "(route "+what+")")}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("route %s: %w", key, err)
	}
	if planned, err := executor.Probe(engine.ContextOf(t), rt.Exec, host, "wait until Traefik routes "+what); planned {
		if err != nil {
			return nil, fmt.Errorf("on %s: Traefik did not confirm the route %s: %w", host, what, err)
		}
		return starlark.Float(0), nil
	}
	sp, _ := dynamic.ReadSplit(content, key)
	ctx, cancel := context.WithTimeout(engine.ContextOf(t), confirmTimeout)
	defer cancel()
	if err := rt.awaitSplit(ctx, host, key, sp, routers); err != nil {
		if engine.ContextOf(t).Err() != nil {
			return nil, engine.ContextOf(t).Err()
		}
		return nil, fmt.Errorf("on %s: Traefik did not confirm the route %s within %s: %w", host, what, confirmTimeout, err)
	}
	rt.record(host, "routed")
	rt.progress(host, "Traefik routes "+what)
	return starlark.Float(time.Since(start).Seconds()), nil
}

// routeTarget is a route an undo writes instead of the run's backup.
type routeTarget struct {
	content          string
	servers, routers []string
}

// renderRoute is role's route file to url, the address of container name
// (split with a canary when set).
func (rt *Runtime) renderRoute(host, role, url, name string, split *dynamic.Canary) ([]byte, []string, error) {
	r, err := rt.role(role)
	if err != nil {
		return nil, nil, err
	}
	labels, err := dynamic.Decode(rt.Config.RouteLabels(r))
	if err != nil {
		return nil, nil, fmt.Errorf("labels of role %s: %w", role, err)
	}
	o := rt.routeOptions(host, role, url)
	o.Container, o.Canary = name, split
	return labels.Render(o)
}

// containerIP is ctr's address on the mrsk network, inspected when the
// value has none (docker ps does not say).
func (rt *Runtime) containerIP(t *starlark.Thread, host string, ctr starlark.Value) (string, error) {
	if ip := attr(ctr, "ip"); ip != "" {
		return ip, nil
	}
	ref := attr(ctr, "id")
	if ref == "" {
		ref = attr(ctr, "name")
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).Inspect(ref)})
	if err != nil {
		return "", fmt.Errorf("address of %s on %s: %w", attr(ctr, "name"), host, err)
	}
	if res.Planned {
		return attr(ctr, "name"), nil
	}
	_, ip := container.ParseInspect(res.Stdout)
	if ip == "" {
		return "", fmt.Errorf("%s on %s has no address on the %s network", attr(ctr, "name"), host, container.Network)
	}
	return ip, nil
}

// awaitSplit polls Traefik's API until service key is the weighted split
// sp (both children, their weights, each child's server) and routers are
// enabled, or ctx ends.
func (rt *Runtime) awaitSplit(ctx context.Context, host, key string, sp dynamic.Split, routers []string) error {
	return rt.pollTraefik(ctx, host, func(ctx context.Context, client *http.Client, ip string) (string, bool, error) {
		last, err := awaitSplitOnce(ctx, client, ip, key, sp, routers)
		var rejected *routerRejected
		return last, err == nil && last == "" || errors.As(err, &rejected), err
	})
}

func awaitSplitOnce(ctx context.Context, c *http.Client, ip, key string, sp dynamic.Split, routers []string) (string, error) {
	shares, err := traefik.Weighted(ctx, c, ip, key)
	if err != nil {
		return "", err
	}
	want := []traefik.WeightedShare{{Name: sp.Stable, Weight: 100 - sp.Weight}, {Name: sp.New, Weight: sp.Weight}}
	if !slices.Equal(shares, want) {
		return fmt.Sprintf("split %v", shares), nil
	}
	if last, err := awaitOnce(ctx, c, ip, sp.Stable, []string{sp.StableURL}, nil); err != nil || last != "" {
		return last, err
	}
	return awaitOnce(ctx, c, ip, sp.New, []string{sp.NewURL}, routers)
}

// awaitFile confirms the route file content of key, plain or split.
func (rt *Runtime) awaitFile(ctx context.Context, host, key string, content []byte) error {
	if sp, ok := dynamic.ReadSplit(content, key); ok {
		return rt.awaitSplit(ctx, host, key, sp, nil)
	}
	return rt.awaitServers(ctx, host, key, dynamic.ServerURLs(content), nil)
}

// restoreToLine fences off this run's writes of key and writes content as
// the route (an undo that must not put back a backup: see routeCanary),
// then the restore's mark gen, printing the route as it then is.
func (rt *Runtime) restoreToLine(key, content, gen string) string {
	p := rt.routePaths(key)
	return fmt.Sprintf("mkdir -p %s %s && { flock 9 && : > %s && rm -f %s && umask 022 && printf '%%s' %s > %s && mv %s %s && %s; } 9>%s && cat %s",
		quote(prevDir), quote(routeDir), quote(p.fence), quote(p.tmp),
		quote(content), quote(p.tmp+".undo"), quote(p.tmp+".undo"), quote(p.route), markScript(p, key, gen), quote(p.lock), quote(p.route))
}

// traefik_metrics(host, label="") reads Traefik's Prometheus metrics on
// host through its SSH connection: per service (file provider services by
// their name, e.g. "hey-web--v2"), {"requests": N, "errors": N (5xx),
// "duration_sum": seconds, "duration_count": N} (the duration histogram's).
// label names the reading in a plan, where a test's response can play
// Traefik's answer; without one, a plan reads nothing: None.
func bTraefikMetrics(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, label string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "label?", &label); err != nil {
		return nil, err
	}
	var body []byte
	if rt.Exec.DryRun() {
		// A plan reads nothing; the command stands for the reading, and a
		// test's response plays Traefik's answer.
		res, err := rt.run(t, executor.Command{Host: host, Line: "true", Display: strings.TrimSpace("(read Traefik's metrics " + label + ")")})
		if err != nil {
			return nil, fmt.Errorf("on %s: Traefik's metrics: %w", host, err)
		}
		if res.Planned {
			return starlark.None, nil
		}
		body = []byte(res.Stdout)
	} else {
		ctx := engine.ContextOf(t)
		ip, err := rt.traefikIPCtx(ctx, host)
		if err != nil {
			return nil, err
		}
		body, err = traefik.Metrics(ctx, rt.httpClient(host), ip)
		if err != nil {
			return nil, fmt.Errorf("on %s: Traefik's metrics: %w", host, err)
		}
	}
	samples, err := metrics.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("on %s: Traefik's metrics: %w", host, err)
	}
	d := starlark.NewDict(4)
	svcs := metrics.Services(samples)
	for _, name := range slices.Sorted(maps.Keys(svcs)) {
		c := svcs[name]
		v := starlark.NewDict(4)
		_ = v.SetKey(starlark.String("requests"), starlark.MakeInt64(int64(c.Requests)))
		_ = v.SetKey(starlark.String("errors"), starlark.MakeInt64(int64(c.Errors)))
		_ = v.SetKey(starlark.String("duration_sum"), starlark.Float(c.DurationSum))
		_ = v.SetKey(starlark.String("duration_count"), starlark.MakeInt64(int64(c.DurationCount)))
		_ = d.SetKey(starlark.String(strings.TrimSuffix(name, "@file")), v)
	}
	return d, nil
}

// canaryStateScript prints role's route file, a separator, and each of the
// role's running containers as id|name|version|address.
func (rt *Runtime) canaryStateScript(host, role string) string {
	e := rt.engine(host)
	return fmt.Sprintf("cat %s 2>/dev/null || true; echo %s; for id in $(%s); do %s inspect -f '{{.Id}}|{{.Name}}|{{index .Config.Labels \"version\"}}|{{with index .NetworkSettings.Networks %q}}{{.IPAddress}}{{end}}' \"$id\"; done",
		quote(rt.routeFile(role)), stateSep, e.Ps(rt.filter(role, ""), false)+" -q", e.Bin(), container.Network)
}

const stateSep = "--mrsk-containers--"

// canary_state(host, role) reads the canary running on host for role from
// the host itself: None when the route is not split, else struct(weight,
// old, new, old_service, new_service), old and new being containers.
func bCanaryState(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role); err != nil {
		return nil, err
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.canaryStateScript(host, role)})
	if err != nil {
		return nil, fmt.Errorf("canary state on %s: %w", host, err)
	}
	route, ctrs, _ := strings.Cut(res.Stdout, stateSep+"\n")
	key := rt.roleKey(role)
	sp, ok := dynamic.ReadSplit([]byte(route), key)
	if !ok {
		return starlark.None, nil
	}
	byURL := map[string]starlark.Value{}
	port := rt.healthcheck(role).Port
	for _, line := range strings.Split(strings.TrimSpace(ctrs), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 || f[3] == "" {
			continue
		}
		name := strings.TrimPrefix(f[1], "/")
		byURL[fmt.Sprintf("http://%s:%d", f[3], port)] = containerValue(host, f[0], name, role, f[2], "running", f[3], rt.ImageRef(f[2]), "")
	}
	find := func(u string) (starlark.Value, error) {
		if c, ok := byURL[u]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("canary on %s: the route %s names %s, but no running container of role %s has that address", host, key, u, role)
	}
	oldC, err := find(sp.StableURL)
	if err != nil {
		return nil, err
	}
	newC, err := find(sp.NewURL)
	if err != nil {
		return nil, err
	}
	return mkstruct(starlark.StringDict{
		"host": starlark.String(host), "role": starlark.String(role),
		"weight": starlark.MakeInt(sp.Weight), "old": oldC, "new": newC,
		"old_service": starlark.String(sp.Stable), "new_service": starlark.String(sp.New),
	}), nil
}

// canary_remove(host, role, container) takes an aborted canary out: it
// refuses while role's route on host still names the container (rule 1 of
// the switch), else prints its last log lines, stops it (requests in
// flight finish) and removes it.
func bCanaryRemove(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role string
	var ctr starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &role, "container", &ctr); err != nil {
		return nil, err
	}
	id, name, ip := attr(ctr, "id"), attr(ctr, "name"), attr(ctr, "ip")
	lines := rt.Config.Healthcheck.LogLines
	if lines <= 0 {
		lines = 50
	}
	guard := "true"
	if ip != "" {
		guard = fmt.Sprintf("! grep -qF %s %s", quote(fmt.Sprintf("//%s:", ip)), quote(rt.routeFile(role)))
	}
	e := rt.engine(host)
	line := fmt.Sprintf("if %s; then %s 2>&1; %s; else echo 'the route still names it' >&2; exit 9; fi",
		guard, e.Words("logs", "--tail", strconv.Itoa(lines), id),
		e.Changed(e.Words("stop", "-t", strconv.Itoa(int(rt.Config.StopWaitTime.Seconds())), id)+" >/dev/null 2>&1; "+e.Words("rm", "-f", id)+" >/dev/null"))
	res, err := rt.run(t, executor.Command{Host: host, Line: line})
	if err != nil {
		return nil, fmt.Errorf("on %s: remove %s: %w", host, name, err)
	}
	if logs := strings.TrimSpace(res.Stdout); logs != "" {
		rt.Out.Always(host, "last log lines of "+name+":")
		for _, l := range strings.Split(logs, "\n") {
			rt.Out.Always(host, "  "+l)
		}
	}
	rt.endSwitch(host, id)
	rt.Out.Line(host, "removed "+name)
	return starlark.None, nil
}

// canary_keep(note, containers) leaves a canary running after this run
// (deploy --canary-for 0): the containers' undo is dropped (they stay,
// and the split route naming them), and the deploy lock stays held, the
// note in its details, until `mrsk canary promote` or `abort`. One
// builtin, so no Ctrl-C falls between the two.
func bCanaryKeep(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var note string
	var ctrs *starlark.List
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "note", &note, "containers", &ctrs); err != nil {
		return nil, err
	}
	details := rt.lockDir() + "/details"
	if _, err := rt.run(t, executor.Command{Host: rt.Config.PrimaryHost(),
		Line: fmt.Sprintf("test -d %s && printf '%%s\\n' %s >> %s", quote(rt.lockDir()), quote("Message: "+strings.ReplaceAll(note, "\n", " ")), quote(details))}); err != nil {
		return nil, fmt.Errorf("keep the deploy lock: %w", err)
	}
	for i := 0; i < ctrs.Len(); i++ {
		c := ctrs.Index(i)
		rt.endSwitch(attr(c, "host"), attr(c, "id"))
	}
	rt.mu.Lock()
	if rt.lockDepth > 0 {
		rt.lockDepth++ // the enclosing locked() releases nothing
	}
	rt.mu.Unlock()
	rt.dropExit("lock")
	rt.Out.Always(rt.Config.PrimaryHost(), "the deploy lock stays held: "+note)
	return starlark.None, nil
}
