package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

// waitLimit bounds every wait in these tests so a bug shows up as a failure,
// not a hung test binary.
const waitLimit = 10 * time.Second

// stockFS builds a Stdlib FS from name/content pairs.
func stockFS(pairs ...string) fstest.MapFS {
	if len(pairs)%2 != 0 {
		panic("stockFS: odd number of arguments")
	}
	fsys := fstest.MapFS{}
	for i := 0; i < len(pairs); i += 2 {
		fsys[pairs[i]] = &fstest.MapFile{Data: []byte(pairs[i+1])}
	}
	return fsys
}

// writeProject writes files (paths relative to <tmp>/config) and returns the
// absolute path of <tmp>/config/deploy.star (which may not exist if files
// does not contain "deploy.star").
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "deploy.star")
}

func mustNew(t *testing.T, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	return e
}

type builtinFunc = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// probe provides Go builtins that record what Starlark threads do.
type probe struct {
	mu         sync.Mutex
	running    int
	maxRunning int
	order      []string // labels passed to track(), in start order
	causes     []string // context.Cause seen by wait_cancel
	locals     []string // local() results
	engines    []*engine.Engine

	waiting  atomic.Int32 // threads blocked in wait_cancel
	started  chan struct{}
	sleepFor time.Duration
}

func newProbe() *probe {
	return &probe{started: make(chan struct{}, 100), sleepFor: 20 * time.Millisecond}
}

func label(v starlark.Value) string {
	if s, ok := starlark.AsString(v); ok {
		return s
	}
	return v.String()
}

func (p *probe) builtins(extra starlark.StringDict) starlark.StringDict {
	d := starlark.StringDict{
		// track(x) counts how many threads run it at once, records the order
		// items start in, sleeps a little and returns x.
		"track": starlark.NewBuiltin("track", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var x starlark.Value
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &x); err != nil {
				return nil, err
			}
			p.mu.Lock()
			p.running++
			if p.running > p.maxRunning {
				p.maxRunning = p.running
			}
			p.order = append(p.order, label(x))
			p.mu.Unlock()
			time.Sleep(p.sleepFor)
			p.mu.Lock()
			p.running--
			p.mu.Unlock()
			return x, nil
		}),
		// wait_cancel() blocks until the thread's context is done and
		// returns its cause as an error.
		"wait_cancel": starlark.NewBuiltin("wait_cancel", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			ctx := engine.ContextOf(t)
			p.waiting.Add(1)
			p.started <- struct{}{}
			select {
			case <-ctx.Done():
				cause := context.Cause(ctx)
				p.mu.Lock()
				p.causes = append(p.causes, cause.Error())
				p.mu.Unlock()
				return nil, fmt.Errorf("wait_cancel: %w", cause)
			case <-time.After(waitLimit):
				return nil, fmt.Errorf("wait_cancel: context not cancelled within %v", waitLimit)
			}
		}),
		// await_waiting(n) blocks until n threads are in wait_cancel.
		"await_waiting": starlark.NewBuiltin("await_waiting", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var n int
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &n); err != nil {
				return nil, err
			}
			deadline := time.Now().Add(waitLimit)
			for int(p.waiting.Load()) < n {
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("await_waiting: only %d of %d threads waiting", p.waiting.Load(), n)
				}
				time.Sleep(time.Millisecond)
			}
			return starlark.None, nil
		}),
		// signal() tells the test the flow is running.
		"signal": starlark.NewBuiltin("signal", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			p.started <- struct{}{}
			return starlark.None, nil
		}),
		// sleep_ms(n) sleeps n milliseconds, returns n.
		"sleep_ms": starlark.NewBuiltin("sleep_ms", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var n int
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &n); err != nil {
				return nil, err
			}
			time.Sleep(time.Duration(n) * time.Millisecond)
			return starlark.MakeInt(n), nil
		}),
		// local(key) returns fmt.Sprint of the thread-local value of key,
		// recording it, and records the engine FromThread finds.
		"local": starlark.NewBuiltin("local", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var key string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key); err != nil {
				return nil, err
			}
			v := fmt.Sprint(t.Local(key))
			p.mu.Lock()
			p.locals = append(p.locals, v)
			p.engines = append(p.engines, engine.FromThread(t))
			p.mu.Unlock()
			return starlark.String(v), nil
		}),
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func (p *probe) snapshot() (maxRunning int, order, causes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxRunning, append([]string(nil), p.order...), append([]string(nil), p.causes...)
}

// printSink collects print() output; Print may be called from several
// threads at once (parallel workers).
type printSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *printSink) print(msg string) {
	s.mu.Lock()
	s.msgs = append(s.msgs, msg)
	s.mu.Unlock()
}

func (s *printSink) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func (s *printSink) sorted() []string {
	m := s.get()
	sort.Strings(m)
	return m
}

// listStrings converts a Starlark list of strings/ints to Go strings.
func listStrings(t *testing.T, v starlark.Value) []string {
	t.Helper()
	l, ok := v.(*starlark.List)
	if !ok {
		t.Fatalf("got %s %v, want list", v.Type(), v)
	}
	var out []string
	for i := 0; i < l.Len(); i++ {
		out = append(out, label(l.Index(i)))
	}
	return out
}

// callWithin runs e.Call in a goroutine and fails the test if it does not
// return within waitLimit.
func callWithin(t *testing.T, ctx context.Context, e *engine.Engine, name string, args ...starlark.Value) (starlark.Value, error) {
	t.Helper()
	type result struct {
		v   starlark.Value
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := e.Call(ctx, name, args...)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(waitLimit):
		t.Fatalf("Call(%q) did not return within %v", name, waitLimit)
		return nil, nil
	}
}

// waitStarted waits for n signals on p.started.
func (p *probe) waitStarted(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-p.started:
		case <-time.After(waitLimit):
			t.Fatalf("only %d of %d threads started within %v", i, n, waitLimit)
		}
	}
}
