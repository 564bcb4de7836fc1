package engine

import (
	"context"
	"fmt"
	"sync"

	"go.starlark.net/starlark"
	"golang.org/x/sync/errgroup"
)

// parallel(fn, items, limit=0) calls fn(item) for each item, each on its own
// thread, at most limit at once (0: all). Results come back in input order.
// The first error cancels the others and is returned naming its item.
// fn and items are frozen first so threads cannot race on shared values.
// In dry-run plans items run one after another, so the plan reads in order.
func (e *Engine) parallel(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var items starlark.Iterable
	limit := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "items", &items, "limit?", &limit); err != nil {
		return nil, err
	}
	e.mu.Lock()
	ready := e.ready
	e.mu.Unlock()
	if !ready {
		return nil, fmt.Errorf("%s: cannot run at module top level (globals are not frozen yet); call it from a flow", b.Name())
	}
	if limit < 0 {
		return nil, fmt.Errorf("%s: limit must be >= 0, got %d", b.Name(), limit)
	}
	fn.Freeze()
	var list []starlark.Value
	it := items.Iterate()
	var x starlark.Value
	for it.Next(&x) {
		x.Freeze()
		list = append(list, x)
	}
	it.Done()
	if limit == 0 || limit > len(list) {
		limit = len(list)
	}
	if sequential, _ := t.Local(LocalSequential).(bool); sequential {
		limit = 1
	}
	results := make([]starlark.Value, len(list))
	if len(list) == 0 {
		return starlark.NewList(nil), nil
	}

	parent := ContextOf(t)
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// A plain Group, not errgroup.WithContext: the siblings are told which
	// item failed ("cancelled: web1 failed"), not handed its whole error.
	var g errgroup.Group
	g.SetLimit(limit)
	// The error returned is the one that cancelled the others, recorded
	// before the cancel: errgroup keeps whichever returns first, which can
	// be a sibling's "context canceled" racing the real failure.
	var first error
	var once sync.Once
	for i, item := range list {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			// Go may have waited for a slot while another item failed.
			if ctx.Err() != nil {
				return nil
			}
			th := e.newThread(ctx, fmt.Sprintf("%s[%d]", t.Name, i))
			for _, k := range []string{LocalSequential} {
				th.SetLocal(k, t.Local(k))
			}
			stop := watch(ctx, th)
			defer stop()
			v, err := starlark.Call(th, fn, starlark.Tuple{item}, nil)
			if err != nil {
				ie := &ItemError{Item: itemLabel(item), Err: err, Caller: t.CallStack()}
				once.Do(func() {
					first = ie
					cancel(fmt.Errorf("cancelled: %s failed", itemLabel(item)))
				})
				return ie
			}
			results[i] = v
			return nil
		})
	}
	err := g.Wait()
	// A cancelled flow is reported as such, not as the failure of whichever
	// item noticed first.
	if parent.Err() != nil {
		return nil, context.Cause(parent)
	}
	if err != nil {
		return nil, first
	}
	return starlark.NewList(results), nil
}

// LocalSequential, when true on a thread, makes parallel() run items one at
// a time (dry-run plans, so they print in order).
const LocalSequential = "mrsk.sequential"

// ItemError is the failure of one item of parallel().
type ItemError struct {
	Item string
	Err  error
	// Caller is the stack of the thread that called parallel(): the
	// item's own thread starts fresh, and a backtrace needs both.
	Caller starlark.CallStack
}

func (e *ItemError) Error() string { return fmt.Sprintf("%s: %v", e.Item, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

func itemLabel(v starlark.Value) string {
	if s, ok := starlark.AsString(v); ok {
		return s
	}
	if h, ok := v.(starlark.HasAttrs); ok {
		if hv, err := h.Attr("host"); err == nil && hv != nil {
			if s, ok := starlark.AsString(hv); ok {
				return s
			}
		}
	}
	return v.String()
}
