package builtins

// The container builtins: run, start, stop, rm, ps, prune, one-off runs
// and raw docker, and the Starlark values they pass containers as. Their
// command lines and parsers are in package container.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/shellwords"
)

// containerValue is how flows see a container.
func containerValue(host, id, name, role, version, state, ip, image, created string) starlark.Value {
	return mkstruct(starlark.StringDict{
		"host":     starlark.String(host),
		"id":       starlark.String(id),
		"name":     starlark.String(name),
		"role":     starlark.String(role),
		"version":  starlark.String(version),
		"state":    starlark.String(state),
		"running":  starlark.Bool(state == "running"),
		"ip":       starlark.String(ip),
		"image":    starlark.String(image),
		"created":  starlark.String(created),
		"previous": starlark.NewList(nil),
	})
}

func attr(v starlark.Value, name string) string {
	h, ok := v.(starlark.HasAttrs)
	if !ok {
		return ""
	}
	x, err := h.Attr(name)
	if err != nil || x == nil {
		return ""
	}
	s, _ := starlark.AsString(x)
	return s
}

// containerRefs accepts a container struct, a name, or a list of either.
func containerRefs(v starlark.Value) ([]string, error) {
	if v == starlark.None {
		return nil, nil
	}
	if s, ok := starlark.AsString(v); ok {
		return []string{s}, nil
	}
	if _, ok := v.(starlark.HasAttrs); ok {
		if _, isList := v.(*starlark.List); !isList {
			if id := attr(v, "id"); id != "" {
				return []string{id}, nil
			}
			if n := attr(v, "name"); n != "" {
				return []string{n}, nil
			}
		}
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("want a container, a name, or a list of them; got %s", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		refs, err := containerRefs(x)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

func optionalHost(args starlark.Tuple, kwargs []starlark.Tuple, name string) (string, error) {
	var host string
	if err := starlark.UnpackArgs(name, args, kwargs, "host?", &host); err != nil {
		return "", err
	}
	return host, nil
}

func (rt *Runtime) role(name string) (*config.Role, error) {
	for _, r := range rt.Config.Roles {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no role named %q in %s", name, rt.Config.File)
}

// docker_run(host, role) starts the container of ctx.version for role on
// host and returns it (with its address on the mrsk network). A container of
// the same name (a redeploy of one version) is renamed out of the way first.
// The secret env file is written in the same command: one round trip.
// If the flow ends before traefik_route (or, for a role without a route,
// wait_healthy(http=False)) puts the container in service, it is removed.
func bDockerRun(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, roleName string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &roleName); err != nil {
		return nil, err
	}
	role, err := rt.role(roleName)
	if err != nil {
		return nil, err
	}
	version := rt.Opts.Version
	name := rt.ContainerName(role.Name, version)
	spec, err := rt.appRun(host, role, version, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if ap := rt.Config.RoleAssetPath(role); ap != "" {
		vol, err := rt.prepareAssets(t, host, role, name, ap) // assets.go
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		spec.args = withVolume(spec.args, vol)
	}
	// As Kamal 1.9: the host's name and random hex, new for each container.
	spec.args = append([]string{"--hostname", container.Hostname(host, newRunID())}, spec.args...)
	aside := fmt.Sprintf("%s_replaced_%d", name, rt.Now().UnixNano())
	fence := path.Join(runDir, name+"."+rt.runID+".cancel")
	script := append(spec.prelude, rt.engine(host).RunScript(rt.filter(role.Name, ""), name, aside, rt.runID, fence, append(spec.args, spec.cmd...))...)
	cmd := executor.Command{Host: host, Line: strings.Join(script, " && "), Stdin: spec.stdin, StdinNote: "[REDACTED env file]"}
	res, err := rt.run(t, cmd)
	if err != nil {
		// Interrupted, cut off or failed half-way: docker run may still be
		// going on the host (OpenSSH does not signal root sessions). Never
		// leave what it starts running unrouted; never touch a container
		// this run did not start.
		rt.undoRun(host, role.Name, fence)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ps, id, ip := container.ParseRun(res.Stdout)
	previous := psValues(host, ps)
	if res.Planned {
		id, ip = name, name
		previous = rt.placeholders(host, role.Name, "")
	}
	rt.record(host, "started")
	for _, c := range previous {
		if attr(c, "state") == "running" {
			// What serves until the switch: a failed deploy leaves it.
			rt.recordDetail(host, "previous", attr(c, "version"))
		}
	}
	rt.progress(host, "started "+name)
	// Until the switch puts it in service, a failed or interrupted flow
	// takes it back out (switch.go): no half-started container stays.
	if !rt.Exec.DryRun() {
		rt.beginSwitch(host, id, name, undoRemove)
	}
	ctr := containerValue(host, id, name, role.Name, version, "running", ip, rt.ImageRef(version), "")
	return withPrevious(ctr, previous), nil
}

// appRunSpec is what every container of a role runs with.
type appRunSpec struct {
	args    []string // docker run flags and the image
	cmd     []string // the role's command, if any
	prelude []string // commands to run first (the secret env file upload)
	stdin   []byte   // what the prelude reads: the env file
}

// appRun builds the docker run flags of role: network, env (secrets from a
// 0600 env file written in the same command), logging, labels, volumes and
// options. name is "" for a one-off container (app exec).
func (rt *Runtime) appRun(host string, role *config.Role, version, name string) (appRunSpec, error) {
	c := rt.Config
	var sp appRunSpec
	// The role's env on this host: env.tags of its tags over it.
	env := c.EnvFor(role, host)
	app := container.App{Name: name, Version: version, Service: c.Service, Role: role.Name, Destination: c.Destination,
		Labels: c.Labels, RoleLabels: role.Labels, Env: env.Clear, Logging: role.Logging, Volumes: c.Volumes,
		Options: role.Options, Image: rt.engine(host).Qualify(rt.ImageRef(version))}
	if len(env.Secret) > 0 {
		content, err := container.EnvFile(env)
		if err != nil {
			return sp, fmt.Errorf("role %s: %w", role.Name, err)
		}
		app.EnvFile = rt.envFile(role.Name)
		sp.prelude = append(sp.prelude, uploadCommand(host, app.EnvFile, content, "0600").Line)
		sp.stdin = content
	}
	sp.args = app.Args()
	if role.Cmd != "" {
		cmdWords, err := shellwords.Split(role.Cmd)
		if err != nil {
			return sp, fmt.Errorf("role %s: cmd: %w", role.Name, err)
		}
		sp.cmd = cmdWords
	}
	return sp, nil
}

// docker_run_once(host, role, cmd) runs cmd (a list of words) in a new,
// removed-after container of role's image with the role's env, volumes and
// options, e.g. for migrations. Output streams prefixed by host.
func bDockerRunOnce(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, roleName string
	var cmdV starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role", &roleName, "cmd", &cmdV); err != nil {
		return nil, err
	}
	role, err := rt.role(roleName)
	if err != nil {
		return nil, err
	}
	cmdWords, err := toStrings(cmdV)
	if err != nil || len(cmdWords) == 0 {
		return nil, fmt.Errorf("%s: cmd must be a non-empty list of words", b.Name())
	}
	spec, err := rt.appRun(host, role, rt.Opts.Version, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	line := rt.engine(host).Words(append(append([]string{"run", "--rm"}, spec.args...), cmdWords...)...)
	script := append(spec.prelude, line)
	res, err := rt.run(t, executor.Command{Host: host, Line: strings.Join(script, " && "), Stdin: spec.stdin, StdinNote: "[REDACTED env file]", Stream: true, Always: true})
	if err != nil {
		return nil, err
	}
	return resultValue(res), nil
}

// newKey names the exit cleanup of a container docker_run started.
func newKey(host, id string) string { return "new:" + host + "/" + id }

// inService marks ctr as serving: the flow's end no longer removes it.
func (rt *Runtime) inService(host string, ctr starlark.Value) {
	rt.record(host, "serving")
	if sw := rt.switchOf(host, attr(ctr, "id")); sw != nil {
		sw.setPhase(phaseConfirmed)
	}
	rt.endSwitch(host, attr(ctr, "id"))
}

// abandon_new() removes, now, every container this run started that was
// never put in service (booting stopped on another host): flows call it
// before reporting what each host runs.
func bAbandonNew(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if err := rt.runExitsWithPrefix(engineCtx(t), "new:"); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// runDir holds the fences of docker_run (container.RunUndo).
const runDir = stateDir + "/run"

// undoRun takes back a docker_run that did not finish, on a fresh context:
// the flow's own may be cancelled when this runs.
func (rt *Runtime) undoRun(host, role, fence string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := rt.Exec.Run(ctx, executor.Command{Host: host, Line: rt.engine(host).RunUndo(role, rt.runID, fence)}); err != nil {
		rt.Out.Always(host, fmt.Sprintf("could not take back the interrupted start on %s: %v", host, err))
	}
}

// docker_start(host, container) starts a stopped container (rollback) and
// returns it with its address.
func bDockerStart(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	var ctr starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "container", &ctr); err != nil {
		return nil, err
	}
	refs, err := containerRefs(ctr)
	if err != nil || len(refs) != 1 {
		return nil, fmt.Errorf("%s: want one container", b.Name())
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).Start(refs[0])})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", refs[0], err)
	}
	id, ip := container.ParseInspect(res.Stdout)
	if res.Planned {
		id, ip = refs[0], refs[0]
	}
	rt.record(host, "started")
	name := attr(ctr, "name")
	if name == "" {
		name = refs[0]
	}
	if !rt.Exec.DryRun() && attr(ctr, "state") != "running" {
		// Until it is in service, a failed or interrupted flow stops it
		// again; it is kept (a rollback target stays one).
		rt.beginSwitch(host, id, name, undoStop)
	}
	return containerValue(host, id, name, attr(ctr, "role"), attr(ctr, "version"), "running", ip, attr(ctr, "image"), attr(ctr, "created")), nil
}

// docker_stop(host, containers, timeout=stop_wait_time, wait=True):
// SIGTERM, then SIGKILL after timeout seconds. The containers stay for
// rollback. With wait=False the stop runs in the background and the flow
// goes on (a switch's old container, once the route is confirmed: its stop
// is Docker's own time, ~0.25 s, and nothing after it needs it stopped);
// the lock's release, audit(unlock=True) and the flow's end wait for it
// and fail naming the host when it failed. Ctrl-C cuts it: the old
// container may then still run, unrouted, and the next deploy stops it.
func bDockerStop(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	var ctrs containerList
	timeout := duration(rt.Config.StopWaitTime)
	wait := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "containers", &ctrs, "timeout?", &timeout, "wait?", &wait); err != nil {
		return nil, err
	}
	if len(ctrs.refs) == 0 {
		return starlark.None, nil
	}
	cmd := executor.Command{Host: host, Line: rt.engine(host).Stop(int(time.Duration(timeout).Seconds()), ctrs.refs)}
	stopped := func() {
		rt.record(host, "stopped")
		rt.progress(host, "stopped "+strings.Join(ctrs.names, ", "))
	}
	// Plans print in order: a plan's stop is never in the background.
	if wait || rt.Exec.DryRun() {
		if _, err := rt.run(t, cmd); err != nil {
			return nil, fmt.Errorf("stop: %w", err)
		}
		stopped()
		return starlark.None, nil
	}
	ctx := rt.Opts.Interrupt
	if ctx == nil {
		ctx = context.Background()
	}
	rt.stops.Go(func() {
		defer rt.span("stopped", []string{host})()
		if _, err := rt.Exec.Run(ctx, cmd); err != nil {
			what := strings.Join(ctrs.names, ", ")
			err = fmt.Errorf("on %s: stop %s: %w", host, what, err)
			if ctx.Err() != nil {
				err = fmt.Errorf("on %s: the stop of %s was cut off (%w): it may still run, unrouted; the next deploy stops it", host, what, context.Cause(ctx))
			}
			rt.mu.Lock()
			rt.stopErrs = append(rt.stopErrs, err)
			rt.mu.Unlock()
			return
		}
		stopped()
	})
	return starlark.None, nil
}

// waitStops waits for the background stops and returns their failures
// (each once).
func (rt *Runtime) waitStops() error {
	rt.stops.Wait()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	err := errors.Join(rt.stopErrs...)
	rt.stopErrs = nil
	return err
}

// docker_rm(host, containers) removes containers, running or not.
func bDockerRm(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	var ctrs containerList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "containers", &ctrs); err != nil {
		return nil, err
	}
	if len(ctrs.refs) == 0 {
		return starlark.None, nil
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).Remove(ctrs.refs)}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// filter selects this service's containers (of role and version, unless "").
func (rt *Runtime) filter(role, version string) container.Filter {
	return container.Filter{Service: rt.Config.Service, Destination: rt.Config.Destination, Role: role, Version: version}
}

// docker_ps(host, role="", all=False) lists this service's containers on
// host, newest first: from the lock's round trip when it read them and
// nothing ran there since (reads.go).
func bDockerPs(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, role, version string
	all := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role?", &role, "all?", &all, "version?", &version); err != nil {
		return nil, err
	}
	if kept, ok := rt.keptPs(host, role, version, all); ok {
		return starlark.NewList(psValues(host, kept)), nil // read with the lock
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).Ps(rt.filter(role, version), all)})
	if err != nil {
		return nil, err
	}
	if res.Planned {
		return starlark.NewList(rt.placeholders(host, role, version)), nil
	}
	return starlark.NewList(psValues(host, container.ParsePs(res.Stdout))), nil
}

// placeholders stand in for what docker ps would find, in plans: the
// running container of each role (version CURRENT), or, when a version is
// asked for, a stopped one of that version, so a plan shows every step a
// real run would take.
func (rt *Runtime) placeholders(host, role, version string) []starlark.Value {
	roles := []string{role}
	if role == "" {
		roles = nil
		for _, r := range rt.Config.Roles {
			for _, h := range r.Hosts {
				if h == host {
					roles = append(roles, r.Name)
					break
				}
			}
		}
	}
	var out []starlark.Value
	for _, r := range roles {
		state, v := "running", "CURRENT"
		if version != "" {
			state, v = "exited", version
		}
		name := rt.ContainerName(r, v)
		out = append(out, containerValue(host, name, name, r, v, state, name, rt.ImageRef(v), ""))
	}
	return out
}

// psValues are the containers docker ps listed on host, as flows see them.
func psValues(host string, ps []container.PsEntry) []starlark.Value {
	var cs []starlark.Value
	for _, c := range ps {
		cs = append(cs, containerValue(host, c.ID, c.Name, c.Role, c.Version, c.State, "", c.Image, c.Created))
	}
	return cs
}

// withPrevious adds .previous: the role's containers that ran before ctr
// started, listed in the same round trip as the start.
func withPrevious(ctr starlark.Value, prev []starlark.Value) starlark.Value {
	d := starlark.StringDict{}
	s := ctr.(*starlarkstruct.Struct)
	s.ToStringDict(d)
	d["previous"] = starlark.NewList(prev)
	return mkstruct(d)
}

// docker(host, *args, stream=True, check=True) runs `docker args...` on
// host (or locally when host is ""), for inspection commands (ps, logs,
// images, exec). Output streams prefixed by host and is also returned.
func bDocker(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing host", b.Name())
	}
	host, ok := starlark.AsString(args[0])
	if !ok {
		return nil, fmt.Errorf("%s: host must be a string", b.Name())
	}
	stream, check := true, true
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "stream?", &stream, "check?", &check); err != nil {
		return nil, err
	}
	var words []string
	for _, a := range args[1:] {
		ws, err := toStrings(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		words = append(words, ws...)
	}
	e := rt.engine(host)
	line := e.Words(e.Translate(words)...)
	if host != "" && container.Changes(words) {
		line = e.Changed(line)
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: line, Stream: stream, Always: true})
	if err != nil && check {
		return nil, err
	}
	return resultValue(res), nil
}

// docker_prune(host, containers=True, images=True, retain=retain_containers,
// older_than=0): the one way to prune. Stopped containers of the service
// beyond the newest `retain` go (only those stopped over older_than ago),
// then images no container uses (in the same command when both). Returns
// how many containers were removed.
func bDockerPrune(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	containers, images := true, true
	retain := rt.Config.RetainContainers
	var olderThan duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "containers?", &containers, "images?", &images, "retain?", &retain, "older_than?", &olderThan); err != nil {
		return nil, err
	}
	if retain < 0 {
		return nil, fmt.Errorf("%s: retain must be >= 0", b.Name())
	}
	if !containers {
		if images {
			if _, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).PruneImages(rt.Config.Service)}); err != nil {
				return nil, fmt.Errorf("prune images: %w", err)
			}
		}
		return starlark.MakeInt(0), nil
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).PruneList(rt.filter("", ""), images)})
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	remove := container.PruneCandidates(res.Stdout, retain, time.Duration(olderThan), rt.Now())
	if len(remove) == 0 {
		return starlark.MakeInt(0), nil
	}
	line := rt.engine(host).PruneRemove(remove)
	if clean := rt.assetsCleanup(rt.engine(host)); clean != "" {
		line += " && " + clean // assets.go: their asset directories too
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: line}); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	rt.Out.Line(host, fmt.Sprintf("removed %d old container(s)", len(remove)))
	return starlark.MakeInt(len(remove)), nil
}

// names are the container names of v for messages (ids where unnamed).
func names(v starlark.Value, refs []string) []string {
	var out []string
	if l, ok := v.(*starlark.List); ok {
		for i := 0; i < l.Len(); i++ {
			if n := attr(l.Index(i), "name"); n != "" {
				out = append(out, n)
			}
		}
	}
	if len(out) != len(refs) {
		return refs
	}
	return out
}
