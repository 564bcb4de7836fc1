package startest

import (
	"sync"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

// Trace collects, for plan(), what a flow did besides running commands:
// the step titles it announced and the project functions it ran (hooks,
// overridden steps and flows). Safe for the threads of parallel().
type Trace struct {
	mu    sync.Mutex
	steps []string
	calls []string
}

// Steps returns the step titles in the order announced.
func (tr *Trace) Steps() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.steps...)
}

// Calls returns the hooks and overrides that ran, in order.
func (tr *Trace) Calls() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.calls...)
}

// Called records a project function that ran: engine.Options.OnOverride.
func (tr *Trace) Called(name string) {
	tr.mu.Lock()
	tr.calls = append(tr.calls, name)
	tr.mu.Unlock()
}

func (tr *Trace) stepped(title string) {
	tr.mu.Lock()
	tr.steps = append(tr.steps, title)
	tr.mu.Unlock()
}

// Wrap returns a copy of mod whose step and hook builtins also report to
// tr; the builtins themselves still do all the work, so a plan prints and
// runs exactly what a dry run does. skipHooks is --skip-hooks: hooks that
// it skips are not reported.
func (tr *Trace) Wrap(mod starlark.StringDict, skipHooks bool) starlark.StringDict {
	out := make(starlark.StringDict, len(mod))
	for k, v := range mod {
		out[k] = v
	}
	if step, ok := mod["step"].(starlark.Callable); ok {
		out["step"] = starlark.NewBuiltin("step", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			v, err := starlark.Call(t, step, args, kwargs)
			if err == nil && len(args) > 0 {
				if s, ok := starlark.AsString(args[0]); ok {
					tr.stepped(s)
				}
			}
			return v, err
		})
	}
	if hook, ok := mod["hook"].(starlark.Callable); ok {
		out["hook"] = starlark.NewBuiltin("hook", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if !skipHooks && len(args) > 0 {
				name, _ := starlark.AsString(args[0])
				if e := engine.FromThread(t); e != nil && e.Project(name) != nil {
					tr.Called(name) // before it runs: calls it makes come after
				}
			}
			return starlark.Call(t, hook, args, kwargs)
		})
	}
	return out
}
