// Package engine runs deploy flows written in Starlark: it loads the stock
// flows (stdlib), then the project's config/deploy.star, resolves names
// project-first so a project can replace any flow or step, and runs flows on
// cancellable threads. It knows nothing about Docker or SSH: those arrive as
// predeclared builtins.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// StdlibPrefix is how scripts load stock modules: load("@mrsk//deploy.star", ...).
const StdlibPrefix = "@mrsk//"

// StdlibMain is the stock module whose globals are the default flows.
const StdlibMain = "deploy.star"

const (
	localEngine  = "mrsk.engine"
	localContext = "mrsk.context"
)

// Options configure an Engine.
type Options struct {
	// Stdlib holds the stock modules, with StdlibMain at its root.
	Stdlib fs.FS
	// ProjectFile is the project's script (config/deploy.star). Empty or a
	// missing file means the stock flows run unchanged.
	ProjectFile string
	// Builtins are predeclared in every module.
	Builtins starlark.StringDict
	// Locals are set on every thread the engine makes (builtins find their
	// runtime there).
	Locals map[string]any
	// Print receives Starlark print() output.
	Print func(msg string)
	// OnOverride, when set, is told the name of each step that invoke()
	// runs from the project's script instead of the stock one, as it
	// starts: `mrsk test` plans report them.
	OnOverride func(name string)
}

// Engine holds the loaded modules. It is safe for concurrent Calls.
type Engine struct {
	opts        Options
	predeclared starlark.StringDict
	fileOpts    *syntax.FileOptions

	mu      sync.Mutex
	modules map[string]*module

	stdlib  starlark.StringDict
	project starlark.StringDict
	ready   bool
}

type module struct {
	globals starlark.StringDict
	err     error
	loading bool
}

// New loads the stock flows and then the project's script.
func New(ctx context.Context, opts Options) (*Engine, error) {
	e := &Engine{
		opts:     opts,
		modules:  map[string]*module{},
		fileOpts: &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: false, Recursion: false},
	}
	e.predeclared = starlark.StringDict{
		"struct":   starlark.NewBuiltin("struct", starlarkstruct.Make),
		"parallel": starlark.NewBuiltin("parallel", e.parallel),
		"invoke":   starlark.NewBuiltin("invoke", e.invoke),
		"defined":  starlark.NewBuiltin("defined", e.defined),
		"catch":    starlark.NewBuiltin("catch", e.catch),
		"reraise":  starlark.NewBuiltin("reraise", e.reraise),
	}
	for k, v := range opts.Builtins {
		e.predeclared[k] = v
	}
	thread := e.newThread(ctx, "load")
	stop := watch(ctx, thread)
	defer stop()
	loadErr := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("load: %w (%w)", context.Cause(ctx), err)
		}
		return err
	}
	std, err := e.load(thread, StdlibPrefix+StdlibMain)
	if err != nil {
		return nil, loadErr(err)
	}
	e.stdlib = std
	if opts.ProjectFile != "" {
		_, statErr := os.Stat(opts.ProjectFile)
		switch {
		case statErr == nil:
			proj, err := e.load(thread, opts.ProjectFile)
			if err != nil {
				return nil, loadErr(err)
			}
			e.project = proj
		case !errors.Is(statErr, fs.ErrNotExist):
			// An unreadable script must not silently skip its hooks.
			return nil, statErr
		}
	}
	e.mu.Lock()
	e.ready = true
	e.mu.Unlock()
	return e, nil
}

// FromThread returns the engine that made thread.
func FromThread(t *starlark.Thread) *Engine {
	e, _ := t.Local(localEngine).(*Engine)
	return e
}

// ContextOf returns the Go context of a thread: cancelled on Ctrl-C or when
// a sibling in parallel() fails. Builtins pass it to every remote command.
func ContextOf(t *starlark.Thread) context.Context {
	if c, ok := t.Local(localContext).(context.Context); ok {
		return c
	}
	return context.Background()
}

func (e *Engine) newThread(ctx context.Context, name string) *starlark.Thread {
	t := &starlark.Thread{
		Name: name,
		Load: e.loadFromThread,
		Print: func(_ *starlark.Thread, msg string) {
			if e.opts.Print != nil {
				e.opts.Print(msg)
			} else {
				fmt.Fprintln(os.Stderr, msg)
			}
		},
	}
	for k, v := range e.opts.Locals {
		t.SetLocal(k, v)
	}
	t.SetLocal(localEngine, e)
	t.SetLocal(localContext, ctx)
	return t
}

// watch cancels t when ctx ends; call the returned func when t is done.
func watch(ctx context.Context, t *starlark.Thread) func() bool {
	return context.AfterFunc(ctx, func() { t.Cancel(cancelReason(ctx)) })
}

func cancelReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	return "interrupted"
}

func (e *Engine) loadFromThread(t *starlark.Thread, name string) (starlark.StringDict, error) {
	if !strings.HasPrefix(name, StdlibPrefix) {
		// Relative to the loading file, like a Bazel label within a package.
		from := t.CallFrame(0).Pos.Filename()
		if strings.HasPrefix(from, StdlibPrefix) {
			name = StdlibPrefix + path.Join(path.Dir(strings.TrimPrefix(from, StdlibPrefix)), name)
		} else if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(from), name)
		}
	}
	return e.load(t, name)
}

func (e *Engine) load(t *starlark.Thread, name string) (starlark.StringDict, error) {
	e.mu.Lock()
	if m, ok := e.modules[name]; ok {
		e.mu.Unlock()
		if m.loading {
			return nil, fmt.Errorf("cycle in load graph at %s", name)
		}
		return m.globals, m.err
	}
	m := &module{loading: true}
	e.modules[name] = m
	e.mu.Unlock()

	var src []byte
	var err error
	if rel, ok := strings.CutPrefix(name, StdlibPrefix); ok {
		if e.opts.Stdlib == nil {
			err = fmt.Errorf("no stock modules")
		} else {
			src, err = fs.ReadFile(e.opts.Stdlib, rel)
		}
	} else {
		src, err = os.ReadFile(name)
	}
	var g starlark.StringDict
	if err == nil {
		g, err = starlark.ExecFileOptions(e.fileOpts, t, name, src, e.predeclared)
	}
	e.mu.Lock()
	m.globals, m.err, m.loading = g, err, false
	e.mu.Unlock()
	return g, err
}

// Lookup finds name in the project's script first, then in the stock flows.
func (e *Engine) Lookup(name string) starlark.Value {
	if v, ok := e.project[name]; ok {
		return v
	}
	if v, ok := e.stdlib[name]; ok {
		return v
	}
	return nil
}

// Stock returns a global of the stock flows only (a project cannot change
// what the CLI reads there, such as the command table).
func (e *Engine) Stock(name string) starlark.Value {
	return e.stdlib[name]
}

// Project returns a global of the project's script only (hooks live there).
func (e *Engine) Project(name string) starlark.Value {
	return e.project[name]
}

// Call runs the flow or step called name on a new thread. Cancelling ctx
// cancels the thread and, through ContextOf, every command it started.
func (e *Engine) Call(ctx context.Context, name string, args ...starlark.Value) (starlark.Value, error) {
	fn, ok := e.Lookup(name).(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("no flow named %q in %s or %s", name, StdlibPrefix+StdlibMain, e.projectName())
	}
	t := e.newThread(ctx, name)
	stop := watch(ctx, t)
	defer stop()
	v, err := starlark.Call(t, fn, starlark.Tuple(args), nil)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w (%w)", name, context.Cause(ctx), err)
	}
	return v, err
}

func (e *Engine) projectName() string {
	if e.opts.ProjectFile == "" {
		return "the project"
	}
	return e.opts.ProjectFile
}

// invoke(name, *args, **kwargs) calls a step by name, so a project's
// definition of that name replaces the stock one everywhere it is used.
func (e *Engine) invoke(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing step name", b.Name())
	}
	name, ok := starlark.AsString(args[0])
	if !ok {
		return nil, fmt.Errorf("%s: step name must be a string, not %s", b.Name(), args[0].Type())
	}
	fn, ok := e.Lookup(name).(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s: no step named %q", b.Name(), name)
	}
	if e.opts.OnOverride != nil && e.Project(name) != nil {
		e.opts.OnOverride(name)
	}
	return starlark.Call(t, fn, args[1:], kwargs)
}

// defined(name) reports whether the project's script defines name: stock
// flows use it to call optional hooks.
func (e *Engine) defined(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name); err != nil {
		return nil, err
	}
	return starlark.Bool(e.Project(name) != nil), nil
}

// catch(fn, *args, **kwargs) calls fn and returns struct(value, error):
// error is None on success, else the failure's message. Starlark has no
// try; flows use this to report state before failing. Cancellation (Ctrl-C)
// is never caught.
func (e *Engine) catch(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing function", b.Name())
	}
	fn, ok := args[0].(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s: want a function, got %s", b.Name(), args[0].Type())
	}
	v, err := starlark.Call(t, fn, args[1:], kwargs)
	if err != nil {
		if ContextOf(t).Err() != nil {
			return nil, err
		}
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"value": starlark.None, "error": CaughtError{err}}), nil
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"value": v, "error": starlark.None}), nil
}

// CaughtError is the error catch() returns: it prints as its message, and
// reraise() raises it again with its original backtrace (the user's
// file:line), which a fail() with the message would lose.
type CaughtError struct{ Err error }

func (c CaughtError) String() string {
	// The outermost of a reraise (its prefix says where the flow stopped)
	// or an item of parallel() (its host) gives the message.
	for cur := c.Err; cur != nil; cur = errors.Unwrap(cur) {
		switch x := cur.(type) {
		case *reraised:
			return x.Error()
		case *ItemError:
			return x.Item + ": " + lastMessage(x.Err)
		}
	}
	return lastMessage(c.Err)
}

func lastMessage(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "fail: ")
}

func (c CaughtError) Type() string          { return "error" }
func (c CaughtError) Freeze()               {}
func (c CaughtError) Truth() starlark.Bool  { return true }
func (c CaughtError) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: error") }

// reraise(error, prefix="") raises an error from catch() again, its message
// prefixed, keeping where it came from.
func (e *Engine) reraise(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	var prefix string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "error", &v, "prefix?", &prefix); err != nil {
		return nil, err
	}
	c, ok := v.(CaughtError)
	if !ok {
		return nil, fmt.Errorf("%s: want an error from catch(), got %s", b.Name(), v.Type())
	}
	return nil, &reraised{prefix: prefix, err: c.Err}
}

type reraised struct {
	prefix string
	err    error
}

func (r *reraised) Error() string { return r.prefix + CaughtError{r.err}.String() }
func (r *reraised) Unwrap() error { return r.err }

// Backtrace renders err for a user: the Starlark call stack (file:line of
// their script) of the deepest evaluation error, across load() boundaries.
func Backtrace(err error) string {
	if err == nil {
		return ""
	}
	var deepest *starlark.EvalError
	var callers []starlark.CallStack // of the parallel() calls the error crossed, outermost first
	for cur := err; cur != nil; {
		var ee *starlark.EvalError
		if !errors.As(cur, &ee) {
			break
		}
		deepest = ee
		cur = ee.Unwrap()
		var ie *ItemError
		if errors.As(cur, &ie) {
			callers = append(callers, ie.Caller)
			cur = ie.Err
		}
	}
	if deepest == nil {
		return err.Error()
	}
	bt := deepest.Backtrace()
	const head = "Traceback (most recent call last):\n"
	if len(callers) == 0 || !strings.HasPrefix(bt, head) {
		return bt
	}
	// An item of parallel() failed on its own thread: its frames follow
	// those of the flow that called parallel().
	var b strings.Builder
	b.WriteString(head)
	for _, c := range callers {
		b.WriteString(strings.TrimPrefix(c.String(), head))
	}
	b.WriteString(strings.TrimPrefix(bt, head))
	return b.String()
}
