package builtins

// The registry and image builtins: docker login/logout, build (with its
// pre-flight check), push and pull. Their command lines come from package
// container.

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
)

// docker_login(host="") logs in to the registry on host, or locally. The
// password goes through stdin, never argv.
func bDockerLogin(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	host, err := optionalHost(args, kwargs, b.Name())
	if err != nil {
		return nil, err
	}
	reg := rt.Config.Registry
	if reg.Local() {
		return starlark.None, nil // no registry to log in to
	}
	if reg.Username.IsZero() {
		rt.noteOnce("login-skip", "", "registry: no username configured; skipping docker login")
		return starlark.None, nil
	}
	if _, err := rt.run(t, rt.loginCmd(host)); err != nil {
		return nil, fmt.Errorf("registry login: %w", err)
	}
	rt.progress(host, "logged in to "+cmp.Or(reg.Server, "Docker Hub"))
	return starlark.None, nil
}

// loginCmd logs in to the registry: the password on stdin, the username
// (also a credential) redacted from what is printed.
func (rt *Runtime) loginCmd(host string) executor.Command {
	reg := rt.Config.Registry
	line, display := rt.engine(host).Login(reg.Server, reg.Username.Reveal())
	return executor.Command{Host: host, Line: line, Display: display, Stdin: []byte(reg.Password.Reveal()), StdinNote: "[REDACTED]"}
}

// docker_logout(host="").
func bDockerLogout(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	host, err := optionalHost(args, kwargs, b.Name())
	if err != nil {
		return nil, err
	}
	if rt.Config.Registry.Local() {
		return starlark.None, nil
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).Logout(rt.Config.Registry.Server)}); err != nil {
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
func bDockerBuild(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	bc := rt.Config.Builder
	dockerfile, contextDir, err := rt.buildFiles()
	if err != nil {
		return nil, err
	}
	multi := rt.multiarch()
	engine := rt.buildEngine()
	if err := rt.checkBuilder(); err != nil {
		return nil, err
	}
	if engine != "" {
		// One arch, on that engine: plain docker build there, then push.
		multi = false
	}
	if multi && rt.Config.Registry.Local() {
		// buildx pushes a multi-arch image as it builds: there is no
		// registry to push to, and the local engine holds one arch.
		if bc.Multiarch != nil {
			rt.noteOnce("buildx", "local", "registry.server local: building for this machine's architecture only")
		}
		multi = false
	}
	if multi && !rt.hasBuildx() {
		if rt.remoteMultiarch() {
			return nil, fmt.Errorf("build: builder.local with builder.remote (in %s) builds each arch on its engine with docker buildx, which this machine lacks: install the buildx plugin, or keep only builder.remote", rt.Config.File)
		}
		rt.noteOnce("buildx", "local", "no docker buildx plugin: building for this machine's architecture only (builder.multiarch: false silences this)")
		multi = false
	}
	build := container.Build{Runtime: rt.engine(""), Image: rt.ImageRef(rt.Opts.Version), Service: rt.Config.Service, Dockerfile: dockerfile, Context: contextDir,
		Buildx: multi, Cache: rt.buildCache(), Repository: rt.Repository(), Args: bc.Args, Secrets: bc.Secrets, Target: bc.Target, SSH: bc.SSH}
	if bc.Local != nil {
		build.Arch = bc.Local.Arch
	}
	if multi && rt.remoteMultiarch() {
		build.Nodes = []container.BuildNode{{Arch: bc.Local.Arch, Host: bc.Local.Host}, {Arch: bc.Remote.Arch, Host: bc.Remote.Host}}
	}
	env, err := rt.buildSecretEnv()
	if err != nil {
		return nil, err
	}
	if !multi && engine == "" {
		rt.archWarning(t, "")
	}
	if bc.SSH != "" && len(env) == 0 {
		env = append(env, "DOCKER_BUILDKIT=1") // --ssh needs BuildKit
	}
	c := executor.Command{Line: build.Line(), Stream: true, Dir: rt.Opts.ProjectRoot, Env: env}
	if err := rt.onBuildEngine(t, &c); err != nil {
		return nil, err
	}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return starlark.Bool(multi), nil
}

// hasBuildx reports whether the local docker has the buildx plugin. It is a
// read-only look at this machine, so plans ask it too.
func (rt *Runtime) hasBuildx() bool {
	if rt.engine("") != container.Docker {
		return false // buildx is docker's plugin
	}
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
	dockerfile = cmp.Or(bc.Dockerfile, "Dockerfile")
	contextDir = cmp.Or(bc.Context, ".")
	if _, err := os.Stat(filepath.Join(rt.Opts.ProjectRoot, dockerfile)); err != nil {
		return "", "", fmt.Errorf("build: missing Dockerfile: no %s in %s (builder.dockerfile in %s names another)", dockerfile, rt.Opts.ProjectRoot, rt.Config.File)
	}
	return dockerfile, contextDir, nil
}

// build_check() fails when the build cannot start (no Dockerfile, a build
// secret that is not set), so a deploy stops before it touches any host.
func bBuildCheck(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if _, _, err := rt.buildFiles(); err != nil {
		return nil, err
	}
	if _, err := rt.buildSecretEnv(); err != nil {
		return nil, err
	}
	if err := rt.checkBuilder(); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// docker_push() pushes the image of ctx.version from this machine (with
// registry.server local: puts it into mrsk's image cache).
func bDockerPush(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if rt.Config.Registry.Local() {
		if err := rt.pushLocal(t); err != nil {
			return nil, err
		}
		return starlark.None, nil
	}
	c := executor.Command{Line: rt.engine("").Words("push", rt.ImageRef(rt.Opts.Version)), Stream: true}
	if err := rt.onBuildEngine(t, &c); err != nil {
		return nil, err
	}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return starlark.None, nil
}

// docker_pull(host, image="", if_absent=False) pulls the deployed image
// (or image) on host (with registry.server local: from this machine,
// through SSH). With if_absent (a deploy of an image pushed before,
// --skip-push) a host that has the image already does not pull it again:
// no command when the lock's round trip found it there (reads.go), else
// the check in the pull's own command.
func bDockerPull(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, image string
	login, ifAbsent := true, false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "image?", &image, "login?", &login, "if_absent?", &ifAbsent); err != nil {
		return nil, err
	}
	deployed := image == "" || image == rt.ImageRef(rt.Opts.Version)
	if ifAbsent && deployed && rt.hasImage(host) {
		rt.progress(host, rt.ImageRef(rt.Opts.Version)+" is there already")
		return starlark.None, nil
	}
	if rt.Config.Registry.Local() && deployed {
		if err := rt.pullLocal(t, host); err != nil {
			return nil, err
		}
		return starlark.None, nil
	}
	if image == "" {
		image = rt.ImageRef(rt.Opts.Version)
	}
	// Log in on the same round trip: one command per host, not two.
	pull := rt.engine(host).Pull(image)
	c := executor.Command{Host: host, Line: pull}
	if login && !rt.Config.Registry.Username.IsZero() {
		l := rt.loginCmd(host)
		c.Line = l.Line + " >/dev/null && " + pull
		c.Display = l.Display + " >/dev/null && " + pull
		c.Stdin, c.StdinNote = l.Stdin, l.StdinNote
	}
	if ifAbsent {
		c.Line = rt.engine(host).IfAbsent(image, c.Line)
		if c.Display != "" {
			c.Display = rt.engine(host).IfAbsent(image, c.Display)
		}
	}
	res, err := rt.run(t, c)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if ifAbsent && !res.Planned && strings.TrimSpace(res.Stdout) == "" {
		// docker pull --quiet prints what it pulled: nothing was.
		rt.progress(host, image+" is there already")
		return starlark.None, nil
	}
	rt.progress(host, "pulled "+image)
	return starlark.None, nil
}
