package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.yaml.in/yaml/v3"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/sshpool"
	"github.com/mrsk-go/mrsk/stdlib"
)

// flowOpts are the command options a flow sees as ctx.options.
type flowOpts struct {
	needVersion   bool
	actsOnVersion bool   // the version is what the command puts in service (deploy, rollback...)
	output        string // "json" with --output json: read-only flows return data

	skipPush bool
	// deploy --canary, --canary-for, --canary-hosts: nil when not given.
	canary      *int
	canaryFor   *time.Duration
	canaryHosts *int
	lines       int
	follow      bool
	reuse       bool
}

func (o flowOpts) values() map[string]starlark.Value {
	lines := o.lines
	if lines == 0 {
		lines = 100
	}
	v := map[string]starlark.Value{
		"skip_push":    starlark.Bool(o.skipPush),
		"lines":        starlark.MakeInt(lines),
		"follow":       starlark.Bool(o.follow),
		"reuse":        starlark.Bool(o.reuse),
		"output":       starlark.String(cmpOr(o.output, "text")),
		"canary":       optInt(o.canary),
		"canary_for":   starlark.None,
		"canary_hosts": optInt(o.canaryHosts),
	}
	if o.canaryFor != nil {
		v["canary_for"] = starlark.Float(o.canaryFor.Seconds())
	}
	return v
}

func optInt(p *int) starlark.Value {
	if p == nil {
		return starlark.None
	}
	return starlark.MakeInt(*p)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func loadConfig(app *App, g *Globals) (*config.Config, error) {
	cfg, err := config.Load(config.LoadOptions{File: g.ConfigFile, Destination: g.Destination, LookupEnv: app.LookupEnv})
	if err != nil {
		return nil, err
	}
	if m := cfg.MinimumVersion; m != "" && compareVersions(kamalVersion, m) < 0 {
		return nil, &configError{fmt.Errorf("%s: minimum_version: the config needs Kamal %s or newer; mrsk %s reads the configuration of Kamal %s", cfg.File, m, version, kamalVersion)}
	}
	return cfg, nil
}

// compareVersions compares dotted numeric versions ("1.2.10" > "1.2.9");
// a suffix such as "-dev" is ignored.
func compareVersions(a, b string) int {
	parse := func(v string) []int {
		v = strings.TrimPrefix(v, "v")
		if i := strings.IndexAny(v, "-+"); i >= 0 {
			v = v[:i]
		}
		var out []int
		for _, p := range strings.Split(v, ".") {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
		return out
	}
	pa, pb := parse(a), parse(b)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// runFlow loads the config and the scripts, then runs flow with ctx and args.
func runFlow(app *App, g *Globals, flow string, opts flowOpts, args ...starlark.Value) error {
	if app.planFlow != nil {
		return app.planFlow(g, flow, opts, args)
	}
	cfg, err := loadConfig(app, g)
	if err != nil {
		return err
	}
	if app.Events != nil {
		opts.output = "json"
	}
	out := output.NewWith(app.Stdout, output.Options{
		Quiet:  g.Quiet,
		Events: app.Events,
		GitHub: truthy(app.LookupEnv, "GITHUB_ACTIONS"),
		Live:   liveView(app, g),
		Width:  termWidth(app.Stdout),
	})
	defer out.Close()
	ver := g.Version
	if ver == "" {
		// As Kamal: VERSION in the environment, then git.
		ver, _ = app.LookupEnv("VERSION")
		ver = strings.TrimSpace(ver)
		if err := checkVersion("VERSION", ver); ver != "" && err != nil {
			return err
		}
	}
	if ver == "" {
		ver, err = gitVersion(cfg.Root)
		if err != nil && opts.needVersion {
			return fmt.Errorf("%s needs a version: %w (or pass --version)", flow, err)
		}
	}
	limit, err := commandTimeout(g.CommandTimeout, cfg.CommandTimeout)
	if err != nil {
		return err
	}
	var ex executor.Executor
	if g.DryRun {
		ex = &executor.DryRunner{Out: out}
	} else {
		pool := sshpool.New(sshpool.Options{
			User:   cfg.SSH.User,
			Port:   cfg.SSH.Port,
			Keys:   cfg.SSH.Keys,
			Proxy:  cfg.SSH.Proxy,
			Notice: func(host, msg string) { out.Line(host, msg) },

			KeyData:        keyData(cfg, app.LookupEnv),
			KnownHostsData: knownHostsData(app.LookupEnv),

			KeysOnly:      cfg.SSH.KeysOnly,
			ProxyCommand:  cfg.SSH.ProxyCommand,
			MaxHandshakes: cfg.SSHKit.MaxConcurrentStarts,
			Debug:         sshDebug(cfg, out),
		})
		ex = &executor.Live{Remote: pool, Out: out, Verbose: g.Verbose, CommandTimeout: limit}
	}
	defer ex.Close()

	hosts := splitList(g.Hosts)
	if g.Primary {
		hosts = []string{cfg.PrimaryHost()}
	}
	rt := builtins.NewRuntime(cfg, ex, out, builtins.Options{
		SkipHooks:   g.SkipHooks,
		Version:     ver,
		Performer:   performer(cfg.Root, app.LookupEnv),
		Hosts:       hosts,
		Roles:       splitList(g.Roles),
		Verbose:     g.Verbose,
		Args:        opts.values(),
		Command:     strings.Join(os.Args[1:], " "),
		HooksDir:    cfg.HooksDir(),
		ProjectRoot: cfg.Root,
		Interrupt:   app.Ctx,
	})
	ctxVal, err := rt.NewContext()
	if err != nil {
		return err
	}
	locals := map[string]any{builtins.LocalRuntime: rt}
	if g.DryRun {
		locals[engine.LocalSequential] = true
	}
	projectFile := filepath.Join(filepath.Dir(cfg.File), "deploy.star")
	eng, err := engine.New(app.Ctx, engine.Options{
		Stdlib:      stdlib.FS,
		ProjectFile: projectFile,
		Builtins:    builtins.Module(),
		Locals:      locals,
		Print:       func(msg string) { out.Always("", msg) },
	})
	if err != nil {
		out.Close()
		return &configError{report(app, "load "+projectFile, err)}
	}
	start := time.Now()
	data, flowErr := eng.Call(app.Ctx, flow, append([]starlark.Value{ctxVal}, args...)...)
	if g.Timings || g.TimingsSVG != "" {
		// Deferred, so the lock's release and the undos are in it too.
		flowEnd := time.Now()
		defer func() {
			if err := writeTimings(out, g, "mrsk "+displayName(flow), ctxVal, start, flowEnd, rt, ex); err != nil {
				fmt.Fprintln(app.Stderr, "mrsk:", err)
			}
		}()
	}

	// Undo what the flow asked to undo on exit (the deploy lock), with a
	// fresh context: the flow's may be cancelled by Ctrl-C.
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cleanErr := rt.RunCleanups(cctx)
	// The live view and an open ::group:: end before the final word.
	out.Close()
	if app.Result != nil {
		hostsV, _ := ctxVal.Attr("hosts")
		hosts, _ := toStringList(hostsV)
		r := app.Result
		r.hosts = hosts
		if opts.actsOnVersion {
			r.version = ver
		}
		r.hostResults = hostResults(hosts, rt.Events(), flowErr == nil && cleanErr == nil, ver, opts.actsOnVersion)
		if flowErr == nil {
			r.data = jsonValue(data)
		}
	}
	if flowErr != nil {
		if app.Ctx.Err() != nil {
			at := ""
			if step := rt.Step(); step != "" {
				at = fmt.Sprintf(" during %q", step)
			}
			if cleanErr != nil {
				fmt.Fprintf(app.Stderr, "mrsk: %s interrupted%s; %v\n", displayName(flow), at, cleanErr)
			} else {
				fmt.Fprintf(app.Stderr, "mrsk: %s interrupted%s; every host was put back as it was (see above), nothing was left half-done\n", displayName(flow), at)
			}
			return reported{&interruptedError{flowErr}}
		}
		err := report(app, flow, flowErr)
		if cleanErr != nil {
			fmt.Fprintf(app.Stderr, "mrsk: %v\n", cleanErr)
		}
		return err
	}
	return cleanErr
}

// commandTimeout is the executor's timeout for an ordinary command: the
// flag, else the config key, else executor's default; 0 in either means no
// timeout at all.
func commandTimeout(flag, key *time.Duration) (time.Duration, error) {
	d := key
	if flag != nil {
		if *flag < 0 {
			return 0, fmt.Errorf("--command-timeout must not be negative (0 means no limit)")
		}
		d = flag
	}
	switch {
	case d == nil:
		return 0, nil // executor.DefaultCommandTimeout
	case *d == 0:
		return executor.NoTimeout, nil
	}
	return *d, nil
}

// report prints a flow error with the Starlark backtrace of the user's
// script, and the chain of Go errors under it.
func report(app *App, what string, err error) error {
	// The backtrace helps when the user's own script is involved; for a
	// failure inside the stock flows the message says it all.
	if bt := engine.Backtrace(err); strings.Contains(bt, ".star:") && hasUserFrame(bt) {
		fmt.Fprintln(app.Stderr, bt)
	}
	msg := engine.CaughtError{Err: err}.String()
	fmt.Fprintf(app.Stderr, "mrsk: %s failed: %s\n", displayName(what), strings.TrimPrefix(lastLine(msg), "fail: "))
	return reported{err}
}

// displayName turns a flow name back into the command: app_boot -> app boot.
func displayName(flow string) string {
	return strings.ReplaceAll(strings.TrimSuffix(flow, "_flow"), "_", " ")
}

// hasUserFrame reports whether a backtrace passes through a file of the
// project (anything but the stock @mrsk// modules).
func hasUserFrame(bt string) bool {
	for _, line := range strings.Split(bt, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, ".star:") && !strings.HasPrefix(line, engine.StdlibPrefix) {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\nTraceback"); i >= 0 {
		s = s[:i]
	}
	return s
}

// gitVersion is the HEAD sha, with a suffix when the work tree has changes
// (so an uncommitted build never reuses a committed tag).
func gitVersion(root string) (string, error) {
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", fmt.Errorf("no git HEAD in %s", root)
	}
	sha := strings.TrimSpace(string(out))
	status, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		sha += "_uncommitted_" + hex.EncodeToString(b)
	}
	return sha, nil
}

// performer names who runs mrsk: git user, else $USER.
func performer(root string, lookup func(string) (string, bool)) string {
	if out, err := exec.Command("git", "-C", root, "config", "user.name").Output(); err == nil {
		if s := strings.TrimSpace(string(out)); s != "" {
			return s
		}
	}
	if u, ok := lookup("USER"); ok && u != "" {
		return u
	}
	return "unknown"
}

// ConfigCmd is `mrsk config`.
type ConfigCmd struct{}

func (c *ConfigCmd) Run(app *App, g *Globals) error {
	cfg, err := loadConfig(app, g)
	if err != nil {
		return err
	}
	b, err := cfg.YAML()
	if err != nil {
		return err
	}
	if app.Result != nil {
		// The result's data is the same document, secrets [REDACTED].
		var data any
		if err := yaml.Unmarshal(b, &data); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		app.Result.data = data
	}
	_, err = app.Stdout.Write(b)
	return err
}

// sshDebug prints connection steps with ssh.log_level debug.
func sshDebug(cfg *config.Config, out *output.Printer) func(host, msg string) {
	if cfg.SSH.LogLevel != "debug" {
		return nil
	}
	return func(host, msg string) { out.Always(host, "ssh: "+msg) }
}
