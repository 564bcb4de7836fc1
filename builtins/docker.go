package builtins

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
)

// network is the user-defined Docker network shared by Traefik, app
// containers and accessories, so they reach each other by name.
const network = "mrsk"

// ensureNetwork is braced so it composes with && chains.
const ensureNetwork = "{ docker network inspect " + network + " >/dev/null 2>&1 || docker network create " + network + " >/dev/null; }"

// inspectFormat prints "<id> <ip on the mrsk network>".
const inspectFormat = `{{.Id}} {{with index .NetworkSettings.Networks "` + network + `"}}{{.IPAddress}}{{end}}`

// container is how flows see a container.
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

// docker_login(host="") logs in to the registry on host, or locally. The
// password goes through stdin, never argv.
func bDockerLogin(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	host, err := optionalHost(args, kwargs, b.Name())
	if err != nil {
		return nil, err
	}
	reg := rt.Config.Registry
	if reg.Username.IsZero() {
		rt.noteOnce("login-skip", "", "registry: no username configured; skipping docker login")
		return starlark.None, nil
	}
	if _, err := rt.run(t, rt.loginCmd(host)); err != nil {
		return nil, fmt.Errorf("registry login: %w", err)
	}
	rt.progress(host, "logged in to "+orDefault(reg.Server, "Docker Hub"))
	return starlark.None, nil
}

// loginCmd logs in to the registry: the password on stdin, the username
// (also a credential) redacted from what is printed.
func (rt *Runtime) loginCmd(host string) executor.Command {
	reg := rt.Config.Registry
	words := []string{"docker", "login"}
	if reg.Server != "" {
		words = append(words, reg.Server)
	}
	line := join(append(words, "-u", reg.Username.Reveal(), "--password-stdin")...)
	display := join(words...) + " -u [REDACTED] --password-stdin"
	return executor.Command{Host: host, Line: line, Display: display, Stdin: []byte(reg.Password.Reveal()), StdinNote: "[REDACTED]"}
}

// docker_logout(host="").
func bDockerLogout(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	host, err := optionalHost(args, kwargs, b.Name())
	if err != nil {
		return nil, err
	}
	words := []string{"docker", "logout"}
	if s := rt.Config.Registry.Server; s != "" {
		words = append(words, s)
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: join(words...)}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// docker_build() builds the image of ctx.version from the project's
// Dockerfile, labelled with the service. Multi-arch (builder.multiarch,
// true unless set false, as in Kamal 1) builds with buildx where the plugin
// exists, on a builder of its own, and pushes as it builds; without the
// plugin it builds for this machine's architecture with plain docker build
// and says so in one line. Returns whether the image was already pushed.
func bDockerBuild(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	bc := rt.Config.Builder
	dockerfile, contextDir, err := rt.buildFiles()
	if err != nil {
		return nil, err
	}
	ref := rt.ImageRef(rt.Opts.Version)
	words := []string{"docker", "build"}
	prelude := ""
	multi := bc.Multiarch == nil || *bc.Multiarch
	if multi {
		if rt.hasBuildx() {
			platforms := "linux/amd64,linux/arm64"
			if bc.Local != nil && bc.Local.Arch != "" {
				platforms = "linux/" + bc.Local.Arch
			}
			builder := "mrsk-" + rt.Config.Service
			prelude = fmt.Sprintf("{ docker buildx inspect %s >/dev/null 2>&1 || docker buildx create --name %s --driver docker-container >/dev/null; } && ", quote(builder), quote(builder))
			words = []string{"docker", "buildx", "build", "--builder", builder, "--push", "--platform", platforms}
		} else {
			rt.noteOnce("buildx", "local", "no docker buildx plugin: building for this machine's architecture only (builder.multiarch: false silences this)")
			multi = false
		}
	}
	words = append(words, "-t", ref, "--label", "service="+rt.Config.Service, "-f", dockerfile)
	if multi {
		words = append(words, cacheArgs(bc.Cache, rt.Repository())...)
	}
	for _, k := range sortedKeys(bc.Args) {
		words = append(words, "--build-arg", k+"="+bc.Args[k])
	}
	env, err := rt.buildSecretEnv()
	if err != nil {
		return nil, err
	}
	for _, name := range bc.Secrets {
		// BuildKit reads the value from the build's environment: never argv.
		words = append(words, "--secret", "id="+name+",env="+name)
	}
	words = append(words, contextDir)
	c := executor.Command{Line: prelude + join(words...), Stream: true, Dir: rt.Opts.ProjectRoot, Env: env}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return starlark.Bool(multi), nil
}

// hasBuildx reports whether the local docker has the buildx plugin. It is a
// read-only look at this machine, so plans ask it too.
func (rt *Runtime) hasBuildx() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.buildx == nil {
		// A query: a dry run looks for real; a plan without a response
		// for it (Planned) builds without buildx.
		res, err := rt.Exec.Run(context.Background(), executor.Command{Line: "docker buildx version", Query: true})
		ok := err == nil && !res.Planned
		rt.buildx = &ok
	}
	return *rt.buildx
}

// buildFiles returns the Dockerfile and build context, checking the
// Dockerfile exists.
func (rt *Runtime) buildFiles() (dockerfile, contextDir string, err error) {
	bc := rt.Config.Builder
	dockerfile = orDefault(bc.Dockerfile, "Dockerfile")
	contextDir = orDefault(bc.Context, ".")
	if _, err := os.Stat(filepath.Join(rt.Opts.ProjectRoot, dockerfile)); err != nil {
		return "", "", fmt.Errorf("build: missing Dockerfile: no %s in %s (builder.dockerfile in %s names another)", dockerfile, rt.Opts.ProjectRoot, rt.Config.File)
	}
	return dockerfile, contextDir, nil
}

// build_check() fails when the build cannot start (no Dockerfile, a build
// secret that is not set), so a deploy stops before it touches any host.
func bBuildCheck(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if _, _, err := rt.buildFiles(); err != nil {
		return nil, err
	}
	if _, err := rt.buildSecretEnv(); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// docker_push() pushes the image of ctx.version from this machine.
func bDockerPush(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if _, err := rt.run(t, executor.Command{Line: join("docker", "push", rt.ImageRef(rt.Opts.Version)), Stream: true}); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return starlark.None, nil
}

// docker_pull(host, image="") pulls the deployed image (or image) on host.
func bDockerPull(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host, image string
	login := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "image?", &image, "login?", &login); err != nil {
		return nil, err
	}
	if image == "" {
		image = rt.ImageRef(rt.Opts.Version)
	}
	// Log in on the same round trip: one command per host, not two.
	c := executor.Command{Host: host, Line: join("docker", "pull", "--quiet", image)}
	if login && !rt.Config.Registry.Username.IsZero() {
		l := rt.loginCmd(host)
		c.Line = l.Line + " >/dev/null && " + c.Line
		c.Display = l.Display + " >/dev/null && " + join("docker", "pull", "--quiet", image)
		c.Stdin, c.StdinNote = l.Stdin, l.StdinNote
	}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	rt.progress(host, "pulled "+image)
	return starlark.None, nil
}

func (rt *Runtime) role(name string) (*config.Role, error) {
	for _, r := range rt.Config.Roles {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no role named %q in %s", name, rt.Config.File)
}

// envFileContent renders secrets for docker --env-file (one KEY=VALUE a line).
func envFileContent(env config.Env) ([]byte, error) {
	var sb strings.Builder
	for _, k := range sortedKeys(env.Secret) {
		v := env.Secret[k].Reveal()
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("env.secret %s: value has a line break, which docker env files cannot hold", k)
		}
		fmt.Fprintf(&sb, "%s=%s\n", k, v)
	}
	return []byte(sb.String()), nil
}

// docker_run(host, role) starts the container of ctx.version for role on
// host and returns it (with its address on the mrsk network). A container of
// the same name (a redeploy of one version) is renamed out of the way first.
// The secret env file is written in the same command: one round trip.
// If the flow ends before traefik_route (or, for a role without a route,
// wait_healthy(http=False)) puts the container in service, it is removed.
func bDockerRun(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
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
	words := append([]string{"docker", "run", "--detach", "--restart", "unless-stopped", "--name", name}, spec.args...)
	words = append(words, spec.cmd...)
	script, stdin := spec.prelude, spec.stdin
	ps := join(append(append([]string{"docker", "ps"}, rt.serviceFilters(role.Name)...), "--format", psFormat, "--no-trunc")...)
	script = append(script,
		ps+"; echo "+psEnd,
		ensureNetwork,
		fmt.Sprintf("if docker container inspect %s >/dev/null 2>&1; then docker rename %s %s; fi", quote(name), quote(name), quote(fmt.Sprintf("%s_replaced_%d", name, rt.Now().UnixNano()))),
		join(words...)+" >/dev/null",
		join("docker", "inspect", "-f", inspectFormat, name),
	)
	cmd := executor.Command{Host: host, Line: strings.Join(script, " && "), Stdin: stdin, StdinNote: "[REDACTED env file]"}
	res, err := rt.run(t, cmd)
	if err != nil {
		if engineCtx(t).Err() != nil {
			// Interrupted (Ctrl-C, or another host failed): the engine may
			// still have started it; never leave it running unrouted.
			rt.removeDetached(host, name)
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	before, after, _ := strings.Cut(res.Stdout, psEnd+"\n")
	id, ip := parseInspect(after)
	previous := parsePs(host, before)
	if res.Planned {
		id, ip = name, name
		previous = rt.placeholders(host, role.Name, "")
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
	w := []string{"--network", network}
	if name != "" {
		w = append(w, "-e", "MRSK_CONTAINER_NAME="+name)
	}
	w = append(w, "-e", "MRSK_VERSION="+version)
	for _, k := range sortedKeys(role.Env.Clear) {
		w = append(w, "-e", k+"="+role.Env.Clear[k])
	}
	if len(role.Env.Secret) > 0 {
		content, err := envFileContent(role.Env)
		if err != nil {
			return sp, fmt.Errorf("role %s: %w", role.Name, err)
		}
		f := rt.envFile(role.Name)
		sp.prelude = append(sp.prelude, uploadCommand(host, f, content, "0600").Line)
		sp.stdin = content
		w = append(w, "--env-file", f)
	}
	w = append(w, loggingArgs(c.Logging)...)
	if name != "" {
		labels := map[string]string{"service": c.Service, "role": role.Name, "version": version, "destination": c.Destination}
		for k, v := range c.Labels {
			labels[k] = v
		}
		for k, v := range role.Labels {
			labels[k] = v
		}
		for _, k := range sortedKeys(labels) {
			w = append(w, "--label", k+"="+labels[k])
		}
	}
	for _, v := range c.Volumes {
		w = append(w, "--volume", v)
	}
	w = append(w, optionArgs(role.Options)...)
	sp.args = append(w, rt.ImageRef(version))
	if role.Cmd != "" {
		cmdWords, err := splitWords(role.Cmd)
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
func bDockerRunOnce(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
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
	line := join(append(append([]string{"docker", "run", "--rm"}, spec.args...), cmdWords...)...)
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
	if sw := rt.switchOf(host, attr(ctr, "id")); sw != nil {
		sw.setPhase(phaseConfirmed)
	}
	rt.endSwitch(host, attr(ctr, "id"))
}

// abandon_new() removes, now, every container this run started that was
// never put in service (booting stopped on another host): flows call it
// before reporting what each host runs.
func bAbandonNew(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if err := rt.runExitsWithPrefix(engineCtx(t), "new:"); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// removeDetached force-removes a container with a fresh context: the
// flow's own is cancelled when this runs.
func (rt *Runtime) removeDetached(host, ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _ = rt.Exec.Run(ctx, executor.Command{Host: host, Line: join("docker", "rm", "-f", ref) + " >/dev/null 2>&1 || true"})
}

func parseInspect(out string) (id, ip string) {
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

func loggingArgs(l config.Logging) []string {
	if l.Driver == "" && len(l.Options) == 0 {
		return []string{"--log-opt", "max-size=10m"}
	}
	var w []string
	if l.Driver != "" {
		w = append(w, "--log-driver", l.Driver)
	}
	for _, k := range sortedKeys(l.Options) {
		w = append(w, "--log-opt", k+"="+l.Options[k])
	}
	return w
}

// optionArgs turns {"memory": "512m", "init": true} into --memory 512m --init.
func optionArgs(opts map[string]any) []string {
	var w []string
	for _, k := range sortedKeys(opts) {
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

// docker_start(host, container) starts a stopped container (rollback) and
// returns it with its address.
func bDockerStart(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	var ctr starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "container", &ctr); err != nil {
		return nil, err
	}
	refs, err := containerRefs(ctr)
	if err != nil || len(refs) != 1 {
		return nil, fmt.Errorf("%s: want one container", b.Name())
	}
	line := join("docker", "start", refs[0]) + " >/dev/null && " + join("docker", "inspect", "-f", inspectFormat, refs[0])
	res, err := rt.run(t, executor.Command{Host: host, Line: line})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", refs[0], err)
	}
	id, ip := parseInspect(res.Stdout)
	if res.Planned {
		id, ip = refs[0], refs[0]
	}
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

// docker_stop(host, containers, timeout=stop_wait_time): SIGTERM, then
// SIGKILL after timeout seconds. The containers stay for rollback.
func bDockerStop(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	var ctrs starlark.Value
	var timeoutV starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "containers", &ctrs, "timeout?", &timeoutV); err != nil {
		return nil, err
	}
	timeout, err := seconds(timeoutV, rt.Config.StopWaitTime.Seconds())
	if err != nil {
		return nil, fmt.Errorf("%s: timeout: %w", b.Name(), err)
	}
	refs, err := containerRefs(ctrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if len(refs) == 0 {
		return starlark.None, nil
	}
	words := append([]string{"docker", "stop", "-t", strconv.Itoa(int(timeout))}, refs...)
	if _, err := rt.run(t, executor.Command{Host: host, Line: join(words...) + " >/dev/null"}); err != nil {
		return nil, fmt.Errorf("stop: %w", err)
	}
	rt.record(host, "stopped")
	rt.progress(host, "stopped "+strings.Join(names(ctrs, refs), ", "))
	return starlark.None, nil
}

// docker_rm(host, containers) removes containers, running or not.
func bDockerRm(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	var ctrs starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "containers", &ctrs); err != nil {
		return nil, err
	}
	refs, err := containerRefs(ctrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if len(refs) == 0 {
		return starlark.None, nil
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: join(append([]string{"docker", "rm", "-f"}, refs...)...) + " >/dev/null"}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

const psFormat = `{{.ID}}|{{.Names}}|{{.State}}|{{.Label "version"}}|{{.Label "role"}}|{{.Image}}|{{.CreatedAt}}`

func (rt *Runtime) serviceFilters(role string) []string {
	f := []string{"--filter", "label=service=" + rt.Config.Service, "--filter", "label=destination=" + rt.Config.Destination}
	if role != "" {
		f = append(f, "--filter", "label=role="+role)
	}
	return f
}

// docker_ps(host, role="", all=False) lists this service's containers on
// host, newest first.
func bDockerPs(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host, role, version string
	all := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "role?", &role, "all?", &all, "version?", &version); err != nil {
		return nil, err
	}
	words := []string{"docker", "ps"}
	if all {
		words = append(words, "--all")
	}
	words = append(words, rt.serviceFilters(role)...)
	if version != "" {
		words = append(words, "--filter", "label=version="+version)
	}
	// Full ids: they compare equal to the ones docker inspect gives.
	words = append(words, "--format", psFormat, "--no-trunc")
	res, err := rt.run(t, executor.Command{Host: host, Line: join(words...)})
	if err != nil {
		return nil, err
	}
	if res.Planned {
		return starlark.NewList(rt.placeholders(host, role, version)), nil
	}
	return starlark.NewList(parsePs(host, res.Stdout)), nil
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

// psEnd separates docker ps output from what follows in one command.
const psEnd = "--mrsk-ps-end--"

func parsePs(host, out string) []starlark.Value {
	var cs []starlark.Value
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 7 {
			continue
		}
		cs = append(cs, containerValue(host, f[0], f[1], f[4], f[3], f[2], "", f[5], f[6]))
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
func bDocker(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
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
	words := []string{"docker"}
	for _, a := range args[1:] {
		ws, err := toStrings(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		words = append(words, ws...)
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: join(words...), Stream: stream, Always: true})
	if err != nil && check {
		return nil, err
	}
	return resultValue(res), nil
}

// prune_containers(host, retain=retain_containers, older_than=0,
// images=False) removes stopped containers of the service beyond the newest
// `retain`, and only those stopped more than older_than seconds ago. With
// images=True it also removes images no container uses, in the same command.
func bPruneContainers(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	retain := rt.Config.RetainContainers
	var olderV starlark.Value = starlark.None
	images := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "retain?", &retain, "older_than?", &olderV, "images?", &images); err != nil {
		return nil, err
	}
	olderThan, err := seconds(olderV, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: older_than: %w", b.Name(), err)
	}
	if retain < 0 {
		return nil, fmt.Errorf("%s: retain must be >= 0", b.Name())
	}
	list := join(append([]string{"docker", "ps", "--all", "--quiet"}, rt.serviceFilters("")...)...)
	line := ""
	if images {
		// Images of containers removed below go on the next prune: one
		// round trip now matters more.
		line = rt.pruneImagesLine() + "; "
	}
	line += fmt.Sprintf("ids=$(%s); [ -z \"$ids\" ] || docker inspect -f %s $ids", list,
		quote(`{{.Id}}|{{.Name}}|{{.State.Running}}|{{.State.FinishedAt}}|{{.Created}}`))
	res, err := rt.run(t, executor.Command{Host: host, Line: line})
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	remove := pruneCandidates(res.Stdout, retain, time.Duration(olderThan*float64(time.Second)), rt.Now())
	if len(remove) == 0 {
		return starlark.MakeInt(0), nil
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: join(append([]string{"docker", "rm"}, remove...)...) + " >/dev/null"}); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	rt.Out.Line(host, fmt.Sprintf("removed %d old container(s)", len(remove)))
	return starlark.MakeInt(len(remove)), nil
}

type inspected struct {
	id, name string
	running  bool
	finished time.Time
	created  time.Time
}

// pruneCandidates picks stopped containers to remove from `docker inspect`
// lines: keep the newest `retain` stopped ones, and any stopped less than
// olderThan ago.
func pruneCandidates(out string, retain int, olderThan time.Duration, now time.Time) []string {
	var stopped []inspected
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			continue
		}
		c := inspected{id: f[0], name: strings.TrimPrefix(f[1], "/"), running: f[2] == "true"}
		c.finished, _ = time.Parse(time.RFC3339Nano, f[3])
		c.created, _ = time.Parse(time.RFC3339Nano, f[4])
		if !c.running {
			stopped = append(stopped, c)
		}
	}
	sort.SliceStable(stopped, func(i, j int) bool { return stopped[i].created.After(stopped[j].created) })
	var remove []string
	for i, c := range stopped {
		if i < retain {
			continue
		}
		if olderThan > 0 && !c.finished.IsZero() && now.Sub(c.finished) < olderThan {
			continue
		}
		remove = append(remove, c.name)
	}
	return remove
}

// prune_images(host) removes this service's images that no container (even
// a stopped one kept for rollback) uses.
func bPruneImages(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt, err := runtimeOf(t)
	if err != nil {
		return nil, err
	}
	var host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host); err != nil {
		return nil, err
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: rt.pruneImagesLine()}); err != nil {
		return nil, fmt.Errorf("prune images: %w", err)
	}
	return starlark.None, nil
}

// cacheArgs are buildx's --cache-from/--cache-to for builder.cache
// ({type: registry|gha, image, options}), as Kamal 1 passes them.
func cacheArgs(cache map[string]any, repo string) []string {
	typ, _ := cache["type"].(string)
	if typ == "" {
		return nil
	}
	opts, _ := cache["options"].(string)
	from, to := "type="+typ, "type="+typ
	if typ == "registry" {
		image, _ := cache["image"].(string)
		if image == "" {
			image = repo + "-build-cache"
		}
		from += ",ref=" + image
		to += ",ref=" + image
	}
	if opts != "" {
		to += "," + opts
	}
	return []string{"--cache-from", from, "--cache-to", to}
}

func (rt *Runtime) pruneImagesLine() string {
	return join("docker", "image", "prune", "--all", "--force", "--filter", "label=service="+rt.Config.Service) + " >/dev/null"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// splitWords splits a command the way a POSIX shell would split words,
// honouring single and double quotes and backslashes (no expansions).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
