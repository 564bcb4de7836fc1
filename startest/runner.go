// Package startest runs Starlark tests of deploy flows (`mrsk test`):
// every top-level test_* function of a project's config/*_test.star and of
// the stock flows' own *_test.star. Tests assert with go.starlark.net's
// starlarktest module and plan commands with plan(), which runs a flow over
// a recording executor: nothing is contacted. The CLI supplies the
// planner, so a plan resolves commands and config exactly as mrsk does.
package startest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/stdlib"
)

// Options configure Run.
type Options struct {
	// ConfigDir is the project's config directory: its *_test.star run
	// against its deploy.yml and deploy.star. Without test files there,
	// only the stock tests run.
	ConfigDir string
	// Stock also runs the stock flows' own tests, against the fixture
	// project embedded in stdlib.
	Stock bool
	// Match selects tests by function name; nil runs them all.
	Match *regexp.Regexp
	// Verbose prints every test as it runs and passes, with its output.
	Verbose bool
	Out     io.Writer
	Plan    Planner
}

// Summary is what a run found.
type Summary struct {
	Files, Passed, Failed int
}

// Runner runs test files one after another.
type Runner struct {
	opts Options
	tmp  string // per run: the stock fixture, plan(script=...) files
}

// Run runs the tests and prints a go test-like report to opts.Out. The
// error is for what kept tests from running at all; failing tests are
// counted in the Summary.
func Run(ctx context.Context, opts Options) (Summary, error) {
	var sum Summary
	if opts.Plan == nil {
		return sum, errors.New("startest: no planner")
	}
	tmp, err := os.MkdirTemp("", "mrsk-test-")
	if err != nil {
		return sum, fmt.Errorf("mrsk test: %w", err)
	}
	defer os.RemoveAll(tmp)
	r := &Runner{opts: opts, tmp: tmp}

	type file struct {
		name      string // as positions and reports show it
		read      func() ([]byte, error)
		configDir string
		loadDir   string // where relative load()s resolve
	}
	var files []file
	if opts.ConfigDir != "" {
		names, err := filepath.Glob(filepath.Join(opts.ConfigDir, "*_test.star"))
		if err != nil {
			return sum, fmt.Errorf("mrsk test: %w", err)
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, file{name: n, read: func() ([]byte, error) { return os.ReadFile(n) }, configDir: opts.ConfigDir, loadDir: filepath.Dir(n)})
		}
	}
	if opts.Stock {
		names, err := fs.Glob(stdlib.FS, "*_test.star")
		if err != nil {
			return sum, fmt.Errorf("mrsk test: %w", err)
		}
		if len(names) > 0 {
			fixture, err := writeFixture(filepath.Join(tmp, "fixture"))
			if err != nil {
				return sum, fmt.Errorf("mrsk test: stock fixture: %w", err)
			}
			sort.Strings(names)
			for _, n := range names {
				files = append(files, file{name: engine.StdlibPrefix + n, read: func() ([]byte, error) { return fs.ReadFile(stdlib.FS, n) }, configDir: fixture})
			}
		}
	}
	for _, f := range files {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		src, err := f.read()
		if err != nil {
			return sum, fmt.Errorf("mrsk test: %w", err)
		}
		fr := &fileRun{runner: r, name: f.name, configDir: f.configDir, loadDir: f.loadDir}
		start := time.Now()
		passed, failed := fr.run(ctx, src)
		sum.Files++
		sum.Passed += passed
		sum.Failed += failed
		status, note := "ok  ", ""
		if failed > 0 {
			status = "FAIL"
		} else if passed == 0 {
			note = " [no tests to run]"
		}
		fmt.Fprintf(opts.Out, "%s\t%s\t%.3fs%s\n", status, f.name, time.Since(start).Seconds(), note)
	}
	total := sum.Passed + sum.Failed
	switch {
	case sum.Failed > 0:
		fmt.Fprintf(opts.Out, "FAIL: %d of %d tests failed\n", sum.Failed, total)
	case sum.Files == 0:
		fmt.Fprintf(opts.Out, "no test files (config/*_test.star)\n")
	default:
		fmt.Fprintf(opts.Out, "PASS: %d tests in %d files\n", total, sum.Files)
	}
	return sum, nil
}

// writeFixture copies stdlib's fixture project to dir and returns its
// config directory: config.Load reads files, not an fs.FS.
func writeFixture(dir string) (string, error) {
	const root = "testdata/fixture"
	err := fs.WalkDir(stdlib.Fixture, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dest := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, root)))
		if d.IsDir() {
			return os.MkdirAll(dest, 0o755)
		}
		b, err := fs.ReadFile(stdlib.Fixture, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dest, b, 0o600)
	})
	return filepath.Join(dir, "config"), err
}

// fileRun is one test file being run.
type fileRun struct {
	runner    *Runner
	name      string
	configDir string
	loadDir   string
}

// fileOptions are the engine's: test files read like deploy.star.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true}

const localContext = "mrsk.test.context"

func contextOf(t *starlark.Thread) context.Context {
	if c, ok := t.Local(localContext).(context.Context); ok {
		return c
	}
	return context.Background()
}

func (fr *fileRun) predeclared() (starlark.StringDict, error) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		return nil, fmt.Errorf("assert module: %w", err)
	}
	return starlark.StringDict{
		"assert": assert["assert"],
		"plan":   starlark.NewBuiltin("plan", fr.plan),
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
	}, nil
}

// run loads the file and runs its tests; it returns how many passed and
// failed (a file that does not load counts as one failure).
func (fr *fileRun) run(ctx context.Context, src []byte) (passed, failed int) {
	out := fr.runner.opts.Out
	pre, err := fr.predeclared()
	if err != nil {
		fmt.Fprintf(out, "--- FAIL: %s\n    %v\n", fr.name, err)
		return 0, 1
	}
	loads := map[string]starlark.StringDict{}
	var load func(t *starlark.Thread, module string) (starlark.StringDict, error)
	load = func(t *starlark.Thread, module string) (starlark.StringDict, error) {
		if g, ok := loads[module]; ok {
			return g, nil
		}
		var b []byte
		var err error
		if rel, ok := strings.CutPrefix(module, engine.StdlibPrefix); ok {
			b, err = fs.ReadFile(stdlib.FS, path.Clean(rel))
		} else if fr.loadDir != "" {
			module = filepath.Join(fr.loadDir, module)
			b, err = os.ReadFile(module)
		} else {
			err = fmt.Errorf("stock tests load only %s modules", engine.StdlibPrefix)
		}
		if err != nil {
			return nil, err
		}
		// Helpers see what tests see; the stock flows need a runtime and
		// are reached through plan().
		g, err := starlark.ExecFileOptions(fileOptions, &starlark.Thread{Name: module, Load: load}, module, b, pre)
		loads[module] = g
		return g, err
	}
	thread := &starlark.Thread{Name: fr.name, Load: load}
	thread.SetLocal(localContext, ctx)
	globals, err := starlark.ExecFileOptions(fileOptions, thread, fr.name, src, pre)
	if err != nil {
		fmt.Fprintf(out, "--- FAIL: %s (load)\n    %s\n", fr.name, indent(fr.failure(err)))
		return 0, 1
	}
	for _, fn := range testFunctions(globals) {
		if m := fr.runner.opts.Match; m != nil && !m.MatchString(fn.Name()) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if fr.runTest(ctx, fn, load) {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// testFunctions are the file's top-level test_* functions, in source order.
func testFunctions(globals starlark.StringDict) []*starlark.Function {
	var fns []*starlark.Function
	for name, v := range globals {
		if fn, ok := v.(*starlark.Function); ok && strings.HasPrefix(name, "test_") && fn.Name() == name {
			fns = append(fns, fn)
		}
	}
	sort.Slice(fns, func(i, j int) bool {
		a, b := fns[i].Position(), fns[j].Position()
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return fns[i].Name() < fns[j].Name()
	})
	return fns
}

// reporter receives assert failures (starlarktest's error()), which do not
// stop the test, like t.Errorf.
type reporter struct {
	fr     *fileRun
	thread *starlark.Thread
	lines  []string
}

// Error is called on the test's thread while the failing assert is on its
// stack: the location is the deepest frame in the test file.
func (r *reporter) Error(args ...any) {
	msg := fmt.Sprint(args...)
	// starlarktest writes the whole stack, then "Error: " and the message.
	if i := strings.Index(msg, "\nError: "); i >= 0 {
		msg = msg[i+len("\nError: "):]
	} else {
		msg = strings.TrimPrefix(msg, "Error: ")
	}
	r.lines = append(r.lines, located(r.fr.location(r.thread.CallStack()), msg))
}

// location is file:line of the innermost frame of stk in this test file
// and, when that is a helper's line, the test's own line after it.
func (fr *fileRun) location(stk starlark.CallStack) string {
	var inner, test string
	for i := len(stk) - 1; i >= 0; i-- {
		pos := stk[i].Pos
		if pos.Filename() != fr.name {
			continue
		}
		at := fmt.Sprintf("%s:%d", pos.Filename(), pos.Line)
		if inner == "" {
			inner = at
		}
		if strings.HasPrefix(stk[i].Name, "test_") {
			test = at
			break
		}
	}
	if test != "" && test != inner {
		return inner + " (from " + test + ")"
	}
	return inner
}

func located(loc, msg string) string {
	if loc == "" {
		return msg
	}
	return loc + ": " + msg
}

func (fr *fileRun) runTest(ctx context.Context, fn *starlark.Function, load func(*starlark.Thread, string) (starlark.StringDict, error)) bool {
	out := fr.runner.opts.Out
	verbose := fr.runner.opts.Verbose
	if verbose {
		fmt.Fprintf(out, "=== RUN   %s\n", fn.Name())
	}
	th := &starlark.Thread{Name: fn.Name(), Load: load}
	rep := &reporter{fr: fr, thread: th}
	var printed []string
	th.Print = func(_ *starlark.Thread, msg string) { printed = append(printed, msg) }
	starlarktest.SetReporter(th, rep)
	th.SetLocal(localContext, ctx)
	stop := context.AfterFunc(ctx, func() { th.Cancel("interrupted") })
	start := time.Now()
	var err error
	if fn.NumParams() > 0 {
		err = fmt.Errorf("%s: test functions take no arguments", fn.Name())
	} else {
		_, err = starlark.Call(th, fn, nil, nil)
	}
	stop()
	elapsed := time.Since(start).Seconds()
	failures := rep.lines
	if err != nil {
		failures = append(failures, fr.failure(err))
	}
	ok := len(failures) == 0
	if ok && !verbose {
		return true
	}
	status := "PASS"
	if !ok {
		status = "FAIL"
	}
	fmt.Fprintf(out, "--- %s: %s (%.2fs)\n", status, fn.Name(), elapsed)
	for _, l := range printed {
		fmt.Fprintf(out, "    %s\n", indent(l))
	}
	for _, l := range failures {
		fmt.Fprintf(out, "    %s\n", indent(l))
	}
	return ok
}

// failure is "file:line: message" for an error that stopped a test: the
// line is the deepest frame of the test file (where the test called what
// failed).
func (fr *fileRun) failure(err error) string {
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return err.Error()
	}
	return located(fr.location(ee.CallStack), strings.TrimPrefix(ee.Msg, "fail: "))
}

// scriptFile writes the source of plan(script=...) to a file of its own,
// which the plan loads instead of the project's deploy.star.
func (fr *fileRun) scriptFile(src string) (string, error) {
	dir, err := os.MkdirTemp(fr.runner.tmp, "script-")
	if err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	p := filepath.Join(dir, "deploy.star")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	return p, nil
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
