package builtins

// Where the image is built: builder.remote and builder.local. A builder
// with a host builds on that Docker engine: the docker CLI here talks to
// it through DOCKER_HOST. For an ssh:// host mrsk forwards the engine's
// socket through its own SSH connection to that host (the same keys, known
// hosts, user and proxy as deploys; nothing listens on a network), so the
// docker CLI needs no ssh setup of its own; tcp:// and unix:// hosts are
// handed to docker as they are.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
)

// engineDocker is where the build runs: "" for this machine's engine,
// else the Docker host URL (builder.remote.host, or builder.local.host).
func (rt *Runtime) buildEngine() string {
	bc := rt.Config.Builder
	if bc.Remote != nil && bc.Remote.Host != "" && !(bc.Local != nil && rt.multiarch()) {
		return bc.Remote.Host
	}
	if bc.Local != nil && bc.Local.Host != "" && bc.Remote == nil {
		return bc.Local.Host
	}
	return ""
}

// multiarch is builder.multiarch: true unless set false, as in Kamal 1.
func (rt *Runtime) multiarch() bool {
	m := rt.Config.Builder.Multiarch
	return m == nil || *m
}

// remoteMultiarch is Kamal 1's multiarch remote builder: builder.local and
// builder.remote both set, multiarch: one buildx builder with a node per
// engine, each building its own arch.
func (rt *Runtime) remoteMultiarch() bool {
	bc := rt.Config.Builder
	return bc.Remote != nil && bc.Local != nil && rt.multiarch()
}

// engineForward serves this machine's end of a forwarded engine socket.
type engineForward struct {
	dir string
	ln  net.Listener
}

// onBuildEngine points c (a local docker command of the build: build,
// push, save) at the build engine: DOCKER_HOST in its environment, and the
// configured host in what is printed.
func (rt *Runtime) onBuildEngine(t *starlark.Thread, c *executor.Command) error {
	host := rt.buildEngine()
	if host == "" {
		return nil
	}
	shown := c.Display
	if shown == "" {
		shown = c.Line
	}
	c.Display = "DOCKER_HOST=" + quote(host) + " " + shown
	url, err := rt.engineURL(t, host)
	if err != nil {
		return err
	}
	c.Env = append(c.Env, "DOCKER_HOST="+url)
	return nil
}

// engineURL is what DOCKER_HOST is set to for host: for ssh://, a unix
// socket here forwarded to the host's /var/run/docker.sock (made once per
// run, closed when the flow ends).
func (rt *Runtime) engineURL(t *starlark.Thread, host string) (string, error) {
	spec, ok := sshEngine(host)
	if !ok || rt.Exec.DryRun() {
		return host, nil
	}
	d, ok := rt.Exec.(interface {
		DialUnix(ctx context.Context, host, path string) (net.Conn, error)
	})
	if !ok {
		return host, nil // a plan: nothing is dialled
	}
	rt.engineMu.Lock() // one forward per engine, made once
	defer rt.engineMu.Unlock()
	if rt.engines == nil {
		rt.engines = map[string]*engineForward{}
	}
	if f := rt.engines[host]; f != nil {
		return "unix://" + filepath.Join(f.dir, "docker.sock"), nil
	}
	ctx := engineCtx(t)
	// Check the engine answers before docker tries: a clear error names
	// the host and why (no sshd, no docker, no permission).
	probe, err := d.DialUnix(ctx, spec, "/var/run/docker.sock")
	if err != nil {
		return "", fmt.Errorf("build on %s: cannot reach its Docker engine through SSH: %w", host, err)
	}
	probe.Close()
	dir, err := os.MkdirTemp("", "mrsk-engine-")
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "docker.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	f := &engineForward{dir: dir, ln: ln}
	rt.engines[host] = f
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				remote, err := d.DialUnix(fctx, spec, "/var/run/docker.sock")
				if err != nil {
					return
				}
				defer remote.Close()
				pipe(conn, remote)
			})
		}
	})
	rt.onExit("engine:"+host, func(context.Context) error {
		cancel()
		ln.Close()
		os.RemoveAll(dir)
		return nil
	})
	return "unix://" + filepath.Join(dir, "docker.sock"), nil
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// sshEngine turns ssh://[user@]host[:port] into the host spec mrsk's SSH
// pool dials.
func sshEngine(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, "ssh://")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(rest, "/"), rest != ""
}

// goArch maps `uname -m` to Docker's arch names.
func goArch(uname string) string {
	u := strings.TrimSpace(uname)
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		u = u[i+1:] // podman's OsArch: linux/amd64
	}
	switch u {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "armv8l":
		return "arm64"
	case "armv7l", "armv6l":
		return "arm"
	default:
		return u
	}
}

// localArch is the arch this machine's engine builds for: Docker's answer,
// else mrsk's own.
func (rt *Runtime) localArch() string {
	format := "{{.Server.Arch}}"
	if rt.engine("") == container.Podman {
		format = "{{.Client.OsArch}}" // linux/amd64: goArch takes the arch
	}
	res, err := rt.Exec.Run(context.Background(), executor.Command{Line: rt.engine("").Words("version", "--format", format), Query: true})
	if err == nil && !res.Planned && strings.TrimSpace(res.Stdout) != "" {
		return goArch(res.Stdout)
	}
	return runtime.GOARCH
}

// archWarning says, before a single-arch build on this machine, when the
// hosts run another arch (a Mac with Apple silicon deploying to amd64
// servers): the image would not start there. It asks the primary host
// (`uname -m`) while it asks the local engine. Plans ask nothing.
func (rt *Runtime) archWarning(t *starlark.Thread, buildArch string) {
	host := rt.Config.PrimaryHost()
	if rt.Exec.DryRun() || host == "" {
		return
	}
	var local string
	var wg sync.WaitGroup
	if buildArch == "" {
		wg.Go(func() { local = rt.localArch() })
	} else {
		local = buildArch
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: "uname -m"})
	wg.Wait()
	if err != nil || res.Planned {
		return
	}
	remote := goArch(res.Stdout)
	if remote == "" || remote == local {
		return
	}
	rt.Out.Line("local", fmt.Sprintf("warning: building for %s, but %s runs %s: the image will not start there. "+
		"Set builder.remote {arch: %s, host: ssh://...} to build on an engine of that arch, or use docker buildx (builder.multiarch)",
		local, host, remote, remote))
}

// checkBuilder refuses, before anything runs, the builder settings that
// cannot build.
func (rt *Runtime) checkBuilder() error {
	bc := rt.Config.Builder
	if rt.engine("") == container.Podman {
		// Podman builds here for this machine's arch: buildx's engines,
		// arches and cache have nothing to run on.
		keys := []struct {
			name string
			set  bool
		}{{"builder.remote", bc.Remote != nil}, {"builder.local", bc.Local != nil}, {"builder.cache", len(bc.Cache) > 0}}
		for _, k := range keys {
			if k.set {
				return fmt.Errorf("build: %s (in %s) needs docker buildx, and this machine builds with podman (builder.runtime): remove it, or build with docker", k.name, rt.Config.File)
			}
		}
	}
	if bc.Remote != nil && bc.Remote.Host == "" {
		return fmt.Errorf("build: builder.remote in %s has no host: set host to the Docker engine to build on (ssh://user@host)", rt.Config.File)
	}
	if bc.Remote != nil && bc.Local != nil && !rt.multiarch() {
		return fmt.Errorf("build: builder.local with builder.remote (in %s) builds each arch on its engine (multiarch); with multiarch: false keep only one of them", rt.Config.File)
	}
	if rt.remoteMultiarch() && rt.Config.Registry.Local() {
		return fmt.Errorf("build: builder.local with builder.remote (in %s) pushes a multi-arch image as it builds, which registry.server local cannot hold: keep only builder.remote", rt.Config.File)
	}
	return nil
}

// buildCache is builder.cache with its image on the registry, as Kamal 1
// names it (server/image; the default is the app image's "-build-cache").
func (rt *Runtime) buildCache() map[string]any {
	c := rt.Config.Builder.Cache
	server := rt.Config.Registry.Server
	img, _ := c["image"].(string)
	if img == "" || server == "" || rt.Config.Registry.Local() || strings.HasPrefix(img, server+"/") {
		return c
	}
	c = maps.Clone(c)
	c["image"] = server + "/" + img
	return c
}
