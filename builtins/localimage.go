package builtins

// registry.server: local. docker_push puts the built image into mrsk's
// image cache on this machine (package localregistry); docker_pull serves
// it to a host through a port that host's SSH connection forwards for the
// length of the pull, so no registry is involved and the host's engine
// fetches only the blobs it lacks.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/localregistry"
)

// localCacheKeep is how many images of the service the cache keeps: what
// a `--skip-push` deploy of a recent build needs, and the layers the next
// build most likely shares. Rollbacks need none: hosts keep their images.
const localCacheKeep = 5

// progressEvery is how often a pull in progress says how much was sent.
const progressEvery = 3 * time.Second

// localRepo is the image's name in the local registry: hosts pull
// 127.0.0.1:<port>/<localRepo>:<version>.
func (rt *Runtime) localRepo() string { return rt.Config.Image }

// imageCache opens mrsk's image cache.
func (rt *Runtime) imageCache() (*localregistry.Cache, error) {
	dir, err := localregistry.DefaultDir(os.Getenv)
	if err != nil {
		return nil, err
	}
	return localregistry.OpenCache(dir)
}

// pushLocal puts the image of ctx.version, built by the local engine, into
// the image cache: `docker save` to a file there, then only the layers the
// cache lacks are compressed and kept.
func (rt *Runtime) pushLocal(t *starlark.Thread) error {
	ref := rt.ImageRef(rt.Opts.Version)
	var tmp string
	var cache *localregistry.Cache
	if !rt.Exec.DryRun() {
		var err error
		if cache, err = rt.imageCache(); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(cache.Dir(), "tmp"), 0o700); err != nil {
			return fmt.Errorf("push: image cache: %w", err)
		}
		tmp = filepath.Join(cache.Dir(), "tmp", fmt.Sprintf("%s-%s-%s.tar", rt.Config.Service, rt.Opts.Version, rt.runID))
		defer os.Remove(tmp)
	}
	c := executor.Command{Line: rt.engine("").Words("save", "-o", tmp, ref),
		Display: rt.engine("").Words("save", ref) + " > mrsk's image cache", Stream: true}
	if err := rt.onBuildEngine(t, &c); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	res, err := rt.run(t, c)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if res.Planned {
		return nil
	}
	im, err := cache.Import(tmp, rt.localRepo(), rt.Opts.Version)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	rt.progress("", fmt.Sprintf("%s is in the image cache (%s): %d of %d layers new, %s", ref, cache.Dir(), im.NewLayers, len(im.Layers), humanBytes(im.NewBytes)))
	// Best effort: a cache that grows is no reason to fail a deploy.
	if _, err := cache.Prune(rt.localRepo(), localCacheKeep); err != nil {
		rt.Out.Line("local", "warning: pruning the image cache: "+err.Error())
	}
	return nil
}

// localServer starts the registry over the image cache on 127.0.0.1, once
// per run; it stops when the flow ends.
func (rt *Runtime) localServer() (*localregistry.Cache, *localregistry.Server, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.imgServer != nil {
		return rt.imgCache, rt.imgServer, nil
	}
	cache, err := rt.imageCache()
	if err != nil {
		return nil, nil, err
	}
	srv, err := localregistry.Serve(cache)
	if err != nil {
		return nil, nil, err
	}
	rt.imgCache, rt.imgServer = cache, srv
	rt.dropLocked("localregistry")
	rt.cleanups = append(rt.cleanups, cleanup{"localregistry", func(context.Context) error {
		rt.mu.Lock()
		s := rt.imgServer
		rt.imgServer, rt.imgCache = nil, nil
		rt.mu.Unlock()
		if s != nil {
			return s.Close()
		}
		return nil
	}})
	return cache, srv, nil
}

// pullLocal sends the image of ctx.version to host: the host's sshd
// listens on a free port of its 127.0.0.1 for the length of the pull, and
// its engine pulls from there (engines trust loopback registries without
// TLS), then names the image as every other command expects it.
func (rt *Runtime) pullLocal(t *starlark.Thread, host string) error {
	ref := rt.ImageRef(rt.Opts.Version)
	from := func(port string) string { return "127.0.0.1:" + port + "/" + rt.localRepo() + ":" + rt.Opts.Version }
	fwd, ok := rt.Exec.(executor.Forwarder)
	if rt.Exec.DryRun() || !ok {
		// A plan: no port yet; the pull shows where it would come from.
		if _, err := rt.run(t, executor.Command{Host: host, Line: rt.engine(host).PullAs(from("PORT"), ref)}); err != nil {
			return fmt.Errorf("pull on %s: %w", host, err)
		}
		return nil
	}
	cache, srv, err := rt.localServer()
	if err != nil {
		return fmt.Errorf("pull on %s: %w", host, err)
	}
	im, err := cache.Lookup(rt.localRepo(), rt.Opts.Version)
	if err != nil {
		return fmt.Errorf("pull on %s: %w (build it first: mrsk build push, or deploy without --skip-push)", host, err)
	}
	ctx := engine.ContextOf(t)
	ln, err := fwd.Listen(ctx, host, "127.0.0.1:0")
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pull on %s: interrupted before it started: %w", host, err)
		}
		return fmt.Errorf("pull on %s: the host would not open a port for mrsk's image cache (its sshd must allow TCP forwarding: AllowTcpForwarding): %w", host, err)
	}
	f := localregistry.NewForward(ln, srv.Dial)
	defer f.Close()
	port := strconv.Itoa(f.Port())

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if n := f.Sent(); n != last {
					last = n
					rt.progress(host, fmt.Sprintf("sent %s (the whole image is %s)", humanBytes(n), humanBytes(im.Size())))
				}
			}
		}
	}()
	_, err = rt.run(t, executor.Command{Host: host, Line: rt.engine(host).PullAs(from(port), ref)})
	close(stop)
	<-done
	f.Close() // nothing more reaches the host: the count is final
	if err != nil {
		return pullLocalError(ctx, host, port, f, err)
	}
	rt.progress(host, fmt.Sprintf("pulled %s: sent %s (%d bytes; the whole image is %s)", ref, humanBytes(f.Sent()), f.Sent(), humanBytes(im.Size())))
	return nil
}

// pullLocalError says why a pull through the forward failed, naming the
// host. In every case the host has no new name for the image: PullAs tags
// only after a complete pull.
func pullLocalError(ctx context.Context, host, port string, f *localregistry.Forward, err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("pull on %s interrupted after %s sent; no image was tagged there: %w", host, humanBytes(f.Sent()), err)
	case strings.Contains(msg, "no space left on device"):
		return fmt.Errorf("pull on %s: the host's disk is full (no space left on device); no image was tagged there: %w", host, err)
	case f.Accepted() == 0 && (strings.Contains(msg, "connection refused") || strings.Contains(msg, "dial tcp") ||
		strings.Contains(msg, "timeout") || strings.Contains(msg, "no route")):
		return fmt.Errorf("pull on %s: the host's container engine could not reach mrsk's image cache at 127.0.0.1:%s "+
			"(forwarded by the host's sshd; an engine in another network namespace, rootless or in a VM, cannot): %w", host, port, err)
	}
	return fmt.Errorf("pull on %s (%s sent): %w", host, humanBytes(f.Sent()), err)
}

// humanBytes is n in B, kB, MB or GB (powers of 1000, as docker prints).
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
