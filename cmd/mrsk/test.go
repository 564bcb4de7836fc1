package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/startest"
	"github.com/mrsk-go/mrsk/stdlib"
)

// TestCmd is `mrsk test [-run REGEX] [-v]`.
type TestCmd struct {
	Pattern string `name:"run" placeholder:"REGEX" help:"Run only the test_* functions whose name matches REGEX (go test's -run works too; -v prints every test)."`
	NoStock bool   `name:"no-stock" help:"Skip the stock flows' own tests."`
}

// Run runs config/*_test.star (beside the config file) and the stock
// flows' tests. -v (the global --verbose) prints every test.
func (c *TestCmd) Run(app *App, g *Globals) error {
	var match *regexp.Regexp
	if c.Pattern != "" {
		var err error
		if match, err = regexp.Compile(c.Pattern); err != nil {
			return fmt.Errorf("-run: %w", err)
		}
	}
	sum, err := startest.Run(app.Ctx, startest.Options{
		ConfigDir: filepath.Dir(g.ConfigFile),
		Stock:     !c.NoStock,
		Match:     match,
		Verbose:   g.Verbose,
		Out:       app.Stdout,
		Plan:      planner(app),
	})
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return reported{fmt.Errorf("%d tests failed", sum.Failed)}
	}
	return nil
}

// goTestFlags lets `mrsk test` take go test's spelling, -run REGEX: kong
// reads "-run" as -r (roles) with the value "un".
func goTestFlags(args []string) []string {
	if len(args) == 0 || args[0] != "test" {
		return args
	}
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "-run" || strings.HasPrefix(a, "-run=") {
			out[i] = "-" + a
		}
	}
	return out
}

// planTime is the clock of every plan, so audit lines and lock details
// read the same in every run.
var planTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// notPlanned are the commands that run no flow (and may write files, as
// init does): plan() refuses them.
var notPlanned = map[string]bool{"init": true, "test": true, "version": true, "config": true}

// planner resolves plan()'s command line exactly as the CLI does (kong:
// the same command table, flags and flow names) and, where the command
// would run its flow, plans it instead.
func planner(app *App) startest.Planner {
	return func(ctx context.Context, req startest.PlanRequest) (*startest.Plan, error) {
		words := strings.Fields(req.Command)
		if len(words) == 0 {
			return nil, fmt.Errorf("empty command")
		}
		if notPlanned[words[0]] {
			return nil, fmt.Errorf("mrsk %s runs no flow: nothing to plan", words[0])
		}
		// --dry-run: what a plan is (and, as with --dry-run, remove
		// needs no -y).
		argv := append(append(words, req.Args...), req.Flags...)
		argv = append(argv, "--dry-run", "--config-file="+filepath.Join(req.ConfigDir, "deploy.yml"))
		var cli CLI
		parser, err := kong.New(&cli, kong.Name("mrsk"), kong.Writers(io.Discard, io.Discard), kong.Exit(func(int) {}))
		if err != nil {
			return nil, err
		}
		kctx, err := parser.Parse(argv)
		if err != nil {
			return nil, fmt.Errorf("mrsk %s: %w", strings.Join(argv, " "), err)
		}
		var plan *startest.Plan
		papp := &App{Stdout: io.Discard, Stderr: io.Discard, Ctx: ctx, LookupEnv: func(k string) (string, bool) {
			if v, ok := req.Env[k]; ok {
				return v, true
			}
			return app.LookupEnv(k)
		}}
		papp.planFlow = func(g *Globals, flow string, opts flowOpts, args []starlark.Value) error {
			var err error
			plan, err = planFlow(papp, g, flow, opts, args, req)
			return err
		}
		if err := kctx.Run(papp, &cli.Globals); err != nil {
			return nil, err
		}
		if plan == nil {
			return nil, fmt.Errorf("mrsk %s runs no flow: nothing to plan", req.Command)
		}
		return plan, nil
	}
}

// planFlow runs flow as runFlow does, over a recording executor, and
// reports what it did. A failing flow is a result (Plan.Err), not an error.
func planFlow(app *App, g *Globals, flow string, opts flowOpts, args []starlark.Value, req startest.PlanRequest) (*startest.Plan, error) {
	cfg, err := loadConfig(app, g)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	out := output.New(&buf, false)
	rec := &executor.Recording{Responses: req.Responses, Out: out}
	hosts := splitList(g.Hosts)
	if g.Primary {
		hosts = []string{cfg.PrimaryHost()}
	}
	rt := builtins.NewRuntime(cfg, rec, out, builtins.Options{
		SkipHooks:   g.SkipHooks,
		Version:     g.Version,
		Performer:   "test",
		Hosts:       hosts,
		Roles:       splitList(g.Roles),
		Verbose:     g.Verbose,
		Args:        opts.values(),
		Command:     strings.Join(append([]string{req.Command}, req.Args...), " "),
		HooksDir:    cfg.HooksDir(),
		ProjectRoot: cfg.Root,
	})
	rt.Now = func() time.Time { return planTime }
	ctxVal, err := rt.NewContext()
	if err != nil {
		return nil, err
	}
	trace := &startest.Trace{}
	projectFile := req.Script
	if projectFile == "" {
		projectFile = filepath.Join(filepath.Dir(cfg.File), "deploy.star")
	}
	eng, err := engine.New(app.Ctx, engine.Options{
		Stdlib:      stdlib.FS,
		ProjectFile: projectFile,
		Builtins:    trace.Wrap(builtins.Module(), g.SkipHooks),
		Locals:      map[string]any{builtins.LocalRuntime: rt, engine.LocalSequential: true},
		Print:       func(msg string) { out.Always("", msg) },
		OnOverride:  trace.Called,
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %s", projectFile, engine.Backtrace(err))
	}
	if eng.Project(flow) != nil {
		trace.Called(flow)
	}
	_, flowErr := eng.Call(app.Ctx, flow, append([]starlark.Value{ctxVal}, args...)...)
	// The flow's exit undo (the deploy lock's release...) is part of the
	// plan, as it is of a run.
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cleanErr := rt.RunCleanups(cctx)
	p := &startest.Plan{Rec: rec, Steps: trace.Steps(), Calls: trace.Calls()}
	switch {
	case flowErr != nil:
		p.Err = engine.CaughtError{Err: flowErr}.String()
	case cleanErr != nil:
		p.Err = cleanErr.Error()
	}
	p.Output = buf.String()
	return p, nil
}
