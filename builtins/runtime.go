// Package builtins holds the Go functions that Starlark flows call: running
// commands on hosts, the Docker and Traefik steps, health checks, the deploy
// lock and the audit log. Every remote value is shell-quoted here; secrets
// travel only through stdin.
package builtins

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/localregistry"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/timeline"
)

// LocalRuntime is the thread-local key under which builtins find their Runtime.
const LocalRuntime = "mrsk.runtime"

// Options are what the command line adds to the config for one run.
type Options struct {
	Version     string   // image tag to deploy
	Performer   string   // who runs mrsk (git user or $USER)
	Hosts       []string // -H filter (patterns with *), empty: all
	Roles       []string // -r filter (patterns with *), empty: all
	Verbose     bool
	Args        map[string]starlark.Value // command options exposed as ctx.options
	Command     string                    // the mrsk command line, for the audit log
	HooksDir    string                    // .mrsk/hooks of the project
	SkipHooks   bool                      // --skip-hooks
	ProjectRoot string
	// Interrupt ends with the run (Ctrl-C), not with a step: what a step
	// leaves running in the background (docker_stop(wait=False)) stops
	// with it, not when a sibling host fails.
	Interrupt context.Context
}

// Runtime is shared by every builtin of one mrsk run.
type Runtime struct {
	Config *config.Config
	Exec   executor.Executor
	Out    *output.Printer
	Opts   Options
	Now    func() time.Time

	started time.Time

	mu          sync.Mutex
	cleanups    []cleanup
	traefikIPs  map[string]string
	notes       map[string]bool
	lockDepth   int                    // nesting of lock("acquire") in this run
	switches    map[string]*hostSwitch // containers on their way into service, by newKey
	unconfirmed []string               // hosts left with both containers running (switch.go)
	runID       string                 // names this run's files on hosts (route backups)
	marks       int                    // restore marks written by this run (markGen)
	step        string                 // the title of the step running now
	events      []Event
	spans       []timeline.Span       // phases, for --timings (phases.go)
	buildx      *bool                 // whether docker buildx exists here, once known
	imgCache    *localregistry.Cache  // registry.server local: the image cache,
	imgServer   *localregistry.Server // and the registry over it, while a flow pulls
	localOnce   sync.Once
	localRT     container.Runtime // this machine's runtime for builds (localEngine)
	engineMu    sync.Mutex
	engines     map[string]*engineForward // build engines reached through SSH (builder.go)
	lockDone    bool                      // audit(unlock=True) released the lock this run held
	stops       sync.WaitGroup            // background stops (docker_stop(wait=False))
	stopErrs    []error                   // their failures, until waitStops reports them
	reads       map[string]*hostReads     // answers read in the lock's round trip (reads.go)
}

type cleanup struct {
	key string
	fn  func(context.Context) error
}

// NewRuntime wires a Runtime.
func NewRuntime(cfg *config.Config, ex executor.Executor, out *output.Printer, opts Options) *Runtime {
	return &Runtime{Config: cfg, Exec: ex, Out: out, Opts: opts, Now: time.Now, started: time.Now(),
		traefikIPs: map[string]string{}, notes: map[string]bool{}, switches: map[string]*hostSwitch{}, runID: newRunID()}
}

// onExit registers fn to run when the flow ends, however it ends (success,
// error, Ctrl-C). A later registration with the same key replaces it.
func (rt *Runtime) onExit(key string, fn func(context.Context) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.dropLocked(key)
	rt.cleanups = append(rt.cleanups, cleanup{key, fn})
}

func (rt *Runtime) dropExit(key string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.dropLocked(key)
}

func (rt *Runtime) dropLocked(key string) {
	kept := rt.cleanups[:0]
	for _, c := range rt.cleanups {
		if c.key != key {
			kept = append(kept, c)
		}
	}
	rt.cleanups = kept
}

// RunCleanups runs what flows registered to undo on exit: first every
// host's switch undo, side by side (each restores routes before it removes
// anything, on a context of its own), then the rest (the deploy lock), last
// registered first. ctx must not be the cancelled flow context.
func (rt *Runtime) RunCleanups(ctx context.Context) error {
	// A stop still running in the background ends first (Ctrl-C cuts it):
	// the lock is not released while this run still changes a host.
	first := rt.waitStops()
	if err := rt.runExitsWithPrefix(ctx, "new:"); err != nil && first == nil {
		first = err
	}
	// The undos may have used up ctx's time: the lock release gets its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	rt.mu.Lock()
	cs := rt.cleanups
	rt.cleanups = nil
	rt.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(ctx); err != nil && first == nil {
			first = err
		}
	}
	if hosts := rt.Unconfirmed(); len(hosts) > 0 && first == nil {
		first = fmt.Errorf("the switch on %s could not be confirmed: the old and the new container both run there (see above)", strings.Join(hosts, ", "))
	}
	return first
}

// runExitsWithPrefix runs now (and forgets) the exit cleanups whose key
// starts with prefix, side by side: one slow host must not hold up the
// others' undo. Every undo runs to its end whatever the others do (so no
// errgroup, which would cancel them), and the first error in the order
// the cleanups were registered is returned, the same on every run.
func (rt *Runtime) runExitsWithPrefix(ctx context.Context, prefix string) error {
	rt.mu.Lock()
	var run, kept []cleanup
	for _, c := range rt.cleanups {
		if strings.HasPrefix(c.key, prefix) {
			run = append(run, c)
		} else {
			kept = append(kept, c)
		}
	}
	rt.cleanups = kept
	rt.mu.Unlock()
	errs := make([]error, len(run))
	var wg sync.WaitGroup
	for i, c := range run {
		wg.Go(func() { errs[i] = c.fn(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// newRunID names one run's files on the hosts.
func newRunID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

// noteOnce prints a line the first time key is seen.
func (rt *Runtime) noteOnce(key, host, msg string) {
	rt.mu.Lock()
	seen := rt.notes[key]
	rt.notes[key] = true
	rt.mu.Unlock()
	if !seen {
		rt.Out.Line(host, msg)
	}
}

// run executes a command and turns a failure into an error naming host and command.
func (rt *Runtime) run(t *starlark.Thread, c executor.Command) (executor.Result, error) {
	rt.dropReads(c.Host) // it may change what they read
	return rt.Exec.Run(engine.ContextOf(t), c)
}

// Names -----------------------------------------------------------------

// Repository is the image name without tag, with the registry server.
// With registry.server local it is localhost/<image>: the name hosts keep
// whatever port the image came through, and one no engine can pull from
// elsewhere (a registry on the host's own port 443, never Docker Hub).
func (rt *Runtime) Repository() string {
	c := rt.Config
	if c.Registry.Local() {
		return "localhost/" + c.Image
	}
	if c.Registry.Server != "" && !strings.HasPrefix(c.Image, c.Registry.Server+"/") {
		return c.Registry.Server + "/" + c.Image
	}
	return c.Image
}

// ImageRef is the image of the version being deployed.
func (rt *Runtime) ImageRef(version string) string { return rt.Repository() + ":" + version }

// ContainerName is <service>-<role>-<version>, or with the destination:
// <service>-<role>-<destination>-<version>, so two destinations on one host
// never collide.
func (rt *Runtime) ContainerName(role, version string) string {
	parts := []string{rt.Config.Service, role}
	if rt.Config.Destination != "" {
		parts = append(parts, rt.Config.Destination)
	}
	return strings.Join(append(parts, version), "-")
}

// roleKey names per-role files: the route file and env file.
func (rt *Runtime) roleKey(role string) string {
	if rt.Config.Destination != "" {
		return rt.Config.Service + "-" + role + "-" + rt.Config.Destination
	}
	return rt.Config.Service + "-" + role
}

const stateDir = ".mrsk"

func (rt *Runtime) envFile(role string) string {
	return path.Join(stateDir, "env", "roles", rt.roleKey(role)+".env")
}

// Context ---------------------------------------------------------------

// NewContext builds the frozen ctx struct handed to every flow.
func (rt *Runtime) NewContext() (*starlarkstruct.Struct, error) {
	c, o := rt.Config, rt.Opts
	roles, hosts, err := rt.selectRoles()
	if err != nil {
		return nil, err
	}
	var roleVals []starlark.Value
	for _, r := range roles {
		roleVals = append(roleVals, rt.roleStruct(r, r.Name == c.PrimaryRole))
	}
	var accs []starlark.Value
	for _, a := range c.Accessories {
		accs = append(accs, mkstruct(starlark.StringDict{
			"name":  starlark.String(a.Name),
			"image": starlark.String(a.Image),
			"hosts": strList(a.Hosts),
			"port":  starlark.String(a.Port),
			// The container's name, also its "service" label.
			"container": starlark.String(rt.accessoryContainer(a)),
		}))
	}
	options := starlark.StringDict{}
	for k, v := range o.Args {
		options[k] = v
	}
	primaryHost := c.PrimaryHost()
	canary, err := rt.canaryValue() // canary.go
	if err != nil {
		return nil, err
	}
	ctx := mkstruct(starlark.StringDict{
		"canary":       canary,
		"service":      starlark.String(c.Service),
		"image":        starlark.String(rt.Repository()),
		"image_ref":    starlark.String(rt.ImageRef(o.Version)),
		"version":      starlark.String(o.Version),
		"destination":  starlark.String(c.Destination),
		"performer":    starlark.String(o.Performer),
		"hosts":        strList(hosts),
		"primary_host": starlark.String(primaryHost),
		"primary_role": starlark.String(c.PrimaryRole),
		"roles":        starlark.NewList(roleVals),
		"accessories":  starlark.NewList(accs),
		"registry": mkstruct(starlark.StringDict{
			"server":   starlark.String(c.Registry.Server),
			"username": secretValue{c.Registry.Username},
			"password": secretValue{c.Registry.Password},
		}),
		"traefik": mkstruct(starlark.StringDict{
			"image":     starlark.String(c.Traefik.Image),
			"host_port": starlark.MakeInt(c.Traefik.HostPort),
			// HTTPS through traefik.tls (tls_sync installs its certificate).
			"tls": starlark.Bool(c.Traefik.TLS != nil),
		}),
		"healthcheck": mkstruct(starlark.StringDict{
			"path":         starlark.String(c.Healthcheck.Path),
			"port":         starlark.MakeInt(c.Healthcheck.Port),
			"interval":     starlark.Float(c.Healthcheck.Interval.Seconds()),
			"max_attempts": starlark.MakeInt(c.Healthcheck.MaxAttempts),
			"cmd":          starlark.String(c.Healthcheck.Cmd),
		}),
		"boot": mkstruct(starlark.StringDict{
			"limit": starlark.String(c.Boot.Limit),
			"wait":  starlark.Float(c.Boot.Wait.Seconds()),
		}),
		// docker ps filters for this service's app containers.
		"service_filters": strList(rt.appFilters()),
		// The buildx builder `mrsk build create` makes.
		"builder":           starlark.String("mrsk-" + c.Service),
		"retain_containers": starlark.MakeInt(c.RetainContainers),
		"stop_wait_time":    starlark.Float(c.StopWaitTime.Seconds()),
		"dry_run":           starlark.Bool(rt.Exec.DryRun()),
		"verbose":           starlark.Bool(o.Verbose),
		"options":           mkstruct(options),
	})
	ctx.Freeze()
	return ctx, nil
}

func (rt *Runtime) roleStruct(r *config.Role, primary bool) starlark.Value {
	return mkstruct(starlark.StringDict{
		"name":    starlark.String(r.Name),
		"hosts":   strList(r.Hosts),
		"cmd":     starlark.String(r.Cmd),
		"traefik": starlark.Bool(r.Traefik),
		// Whether a new container must pass the health check (else it
		// must keep running for readiness_delay).
		"healthcheck": starlark.Bool(r.HealthcheckHTTP),
		"primary":     starlark.Bool(primary),
		// Names on the hosts: the route and env files' key, and the files.
		"key":        starlark.String(rt.roleKey(r.Name)),
		"route_file": starlark.String(rt.routeFile(r.Name)),
		"env_file":   starlark.String(rt.envFile(r.Name)),
	})
}

// appFilters select this service's app containers (of this destination,
// when there is one) in docker ps.
func (rt *Runtime) appFilters() []string {
	f := []string{"--filter", "label=service=" + rt.Config.Service}
	if d := rt.Config.Destination; d != "" {
		f = append(f, "--filter", "label=destination="+d)
	}
	return f
}

// selectRoles applies the -r and -H filters; the primary role comes first
// so other roles boot only after it is healthy.
func (rt *Runtime) selectRoles() ([]*config.Role, []string, error) {
	c, o := rt.Config, rt.Opts
	var roles []*config.Role
	seen := map[string]bool{}
	var hosts []string
	ordered := append([]*config.Role(nil), c.Roles...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return ordered[i].Name == c.PrimaryRole && ordered[j].Name != c.PrimaryRole
	})
	for _, r := range ordered {
		if len(o.Roles) > 0 && !matchAny(o.Roles, r.Name) {
			continue
		}
		var hs []string
		for _, h := range r.Hosts {
			if len(o.Hosts) == 0 || matchAny(o.Hosts, h) {
				hs = append(hs, h)
			}
		}
		if len(hs) == 0 {
			continue
		}
		cp := *r
		cp.Hosts = hs
		roles = append(roles, &cp)
		for _, h := range hs {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	if len(roles) == 0 {
		var filters []string
		if len(o.Roles) > 0 {
			filters = append(filters, "--roles "+strings.Join(o.Roles, ","))
		}
		if len(o.Hosts) > 0 {
			filters = append(filters, "--hosts "+strings.Join(o.Hosts, ","))
		}
		return nil, nil, fmt.Errorf("no hosts match %s", strings.Join(filters, " "))
	}
	return roles, hosts, nil
}

// matchAny reports whether s matches one of the patterns (with * wildcards).
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
	}
	return false
}

// Starlark values -------------------------------------------------------

func mkstruct(d starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, d)
}

func strList(ss []string) *starlark.List {
	vs := make([]starlark.Value, len(ss))
	for i, s := range ss {
		vs[i] = starlark.String(s)
	}
	return starlark.NewList(vs)
}

// secretValue exposes a secret to Starlark without any way to read it: it
// prints as [REDACTED], so a hook that logs ctx cannot leak it.
type secretValue struct{ s config.Secret }

func (v secretValue) String() string {
	if v.s.IsZero() {
		return `""`
	}
	return "[REDACTED]"
}
func (v secretValue) Type() string          { return "secret" }
func (v secretValue) Freeze()               {}
func (v secretValue) Truth() starlark.Bool  { return starlark.Bool(!v.s.IsZero()) }
func (v secretValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: secret") }

// strings turns a Starlark string or list of strings into Go strings.
func toStrings(v starlark.Value) ([]string, error) {
	if s, ok := starlark.AsString(v); ok {
		return []string{s}, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("want a string or a list of strings, got %s", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, got an element of type %s", x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

func engineCtx(t *starlark.Thread) context.Context { return engine.ContextOf(t) }

// progress reports a finished step on host. Plans print their commands
// instead, so it is silent in dry-run.
func (rt *Runtime) progress(host, msg string) {
	if !rt.Exec.DryRun() {
		if host == "" {
			host = "local"
		}
		rt.Out.Line(host, msg)
	}
}

// Event is a moment of a host's switch, kept for --timings and the JSON
// host_result: started (the new container), previous (Detail: a version
// that served before it), healthy, routed (Traefik confirmed), serving (a
// role without a route), stopped (the old one).
type Event struct {
	Host, Name string
	Detail     string
	At         time.Time
}

func (rt *Runtime) record(host, name string) { rt.recordDetail(host, name, "") }

func (rt *Runtime) recordDetail(host, name, detail string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.events = append(rt.events, Event{Host: host, Name: name, Detail: detail, At: time.Now()})
}

// Events returns what record saw, in order.
func (rt *Runtime) Events() []Event {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]Event(nil), rt.events...)
}

// engine is host's container runtime (config runtime keys); "" is this
// machine, which builds with builder.runtime.
func (rt *Runtime) engine(host string) container.Runtime {
	if host == "" {
		return rt.localEngine()
	}
	return container.Runtime(rt.Config.HostRuntime(host))
}

// localEngine is the runtime that builds and pushes on this machine:
// builder.runtime, else docker when installed, else podman.
func (rt *Runtime) localEngine() container.Runtime {
	if r := rt.Config.Builder.Runtime; r != "" {
		return container.Runtime(r)
	}
	rt.localOnce.Do(func() {
		rt.localRT = container.Docker
		if _, err := exec.LookPath("docker"); err != nil {
			if _, err := exec.LookPath("podman"); err == nil {
				rt.localRT = container.Podman
			}
		}
	})
	return rt.localRT
}
