package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

const parallelStock = `
def run(items, limit):
    return parallel(lambda x: track(x), items, limit = limit)

def run_default(items):
    return parallel(track, items)

def ordered(delays):
    # Later items finish first; results still come back in input order.
    return parallel(lambda d: "r%d" % sleep_ms(d), delays)

def first_error():
    return parallel(first_error_item, ["a", "b", "c", "d"])

def first_error_item(x):
    if x == "c":
        await_waiting(3)
        fail("c broke")
    return wait_cancel()

def wait_all(items, limit = 0):
    return parallel(lambda x: wait_cancel(), items, limit = limit)

def struct_error():
    items = [struct(host = "web1", role = "web"), struct(host = "web2", role = "web")]
    return parallel(struct_error_item, items)

def struct_error_item(s):
    if s.host == "web2":
        fail("cannot reach " + s.host)
    return s.host

def seq_error():
    return parallel(seq_error_item, ["a", "b", "c", "d"])

def seq_error_item(x):
    track(x)
    if x == "b":
        fail("b broke")
    return x

def empty(limit):
    return parallel(track, [], limit = limit)

def shared_append():
    acc = []
    def w(x):
        acc.append(x)
    parallel(w, [1, 2, 3])
    return acc

def item_append():
    return parallel(lambda l: l.append(1), [[], []])

def dict_item_set():
    return parallel(lambda d: d.update(x = 1), [{}])

def default_append():
    acc = []
    def w(x, acc = acc):
        acc.append(x)
    return parallel(w, [1])

def method_fn():
    acc = []
    return parallel(acc.append, [1, 2])

def after_parallel():
    acc = []
    def w(x):
        return len(acc) + x
    out = parallel(w, [1, 2])
    acc.append(3)   # acc was frozen by parallel()
    return out

def read_shared():
    table = {"a": 1, "b": 2}
    return parallel(lambda k: table[k], ["a", "b", "a"])

def iterables():
    return [
        parallel(lambda x: x * 2, (1, 2, 3)),
        parallel(lambda x: x, {"k1": 1, "k2": 2}),
        parallel(lambda x: x, range(3)),
        parallel(lambda x: x, "ab".elems()),
    ]

def nested():
    return parallel(lambda x: parallel(lambda y: x * 10 + y, [1, 2, 3], limit = 2), [1, 2, 3], limit = 2)
`

func newParallelEngine(t *testing.T, p *probe, locals map[string]any) *engine.Engine {
	t.Helper()
	return mustNew(t, engine.Options{
		Stdlib:   stockFS("deploy.star", parallelStock),
		Builtins: p.builtins(nil),
		Locals:   locals,
	})
}

func strList(xs ...string) *starlark.List {
	l := make([]starlark.Value, len(xs))
	for i, x := range xs {
		l[i] = starlark.String(x)
	}
	return starlark.NewList(l)
}

func itemNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("i%02d", i)
	}
	return out
}

func TestParallelLimit(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		limit   int
		wantMax int // the most that may run at once
	}{
		{"limit 1", 5, 1, 1},
		{"limit 2", 6, 2, 2},
		{"limit 3", 10, 3, 3},
		{"limit equals items", 4, 4, 4},
		{"limit above items", 3, 10, 3},
		{"limit 0 means all", 5, 0, 5},
		{"single item", 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe()
			p.sleepFor = 30 * time.Millisecond
			e := newParallelEngine(t, p, nil)
			names := itemNames(tt.n)
			v, err := e.Call(context.Background(), "run", strList(names...), starlark.MakeInt(tt.limit))
			if err != nil {
				t.Fatal(engine.Backtrace(err))
			}
			if got := listStrings(t, v); !reflect.DeepEqual(got, names) {
				t.Errorf("results = %q, want %q", got, names)
			}
			maxRunning, order, _ := p.snapshot()
			if maxRunning > tt.wantMax {
				t.Errorf("%d ran at once, limit allows %d", maxRunning, tt.wantMax)
			}
			if tt.wantMax >= 2 && maxRunning < 2 {
				t.Errorf("only %d ran at once, want real parallelism (up to %d)", maxRunning, tt.wantMax)
			}
			if len(order) != tt.n {
				t.Errorf("%d items ran, want %d", len(order), tt.n)
			}
			if tt.wantMax == 1 && !reflect.DeepEqual(order, names) {
				t.Errorf("limit 1 ran %q, want input order", order)
			}
		})
	}
}

func TestParallelDefaultLimitIsAll(t *testing.T) {
	p := newProbe()
	p.sleepFor = 50 * time.Millisecond
	e := newParallelEngine(t, p, nil)
	names := itemNames(6)
	if _, err := e.Call(context.Background(), "run_default", strList(names...)); err != nil {
		t.Fatal(err)
	}
	if maxRunning, _, _ := p.snapshot(); maxRunning < 2 || maxRunning > 6 {
		t.Errorf("%d ran at once, want 2..6", maxRunning)
	}
}

func TestParallelResultsInInputOrder(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	delays := []starlark.Value{starlark.MakeInt(60), starlark.MakeInt(40), starlark.MakeInt(20), starlark.MakeInt(0)}
	v, err := e.Call(context.Background(), "ordered", starlark.NewList(delays))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listStrings(t, v), []string{"r60", "r40", "r20", "r0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("results = %q, want %q", got, want)
	}
}

func TestParallelFirstErrorCancelsOthers(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	_, err := callWithin(t, context.Background(), e, "first_error")
	if err == nil {
		t.Fatal("want error")
	}
	var ie *engine.ItemError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v is not an *engine.ItemError", err, err)
	}
	if ie.Item != "c" {
		t.Errorf("ItemError.Item = %q, want c", ie.Item)
	}
	if !strings.Contains(ie.Err.Error(), "c broke") || !strings.Contains(err.Error(), "c: ") {
		t.Errorf("error = %q, item error = %q", err, ie.Err)
	}
	_, _, causes := p.snapshot()
	if len(causes) != 3 {
		t.Fatalf("%d siblings observed cancellation, want 3 (a, b, d)", len(causes))
	}
	for _, c := range causes {
		if !strings.Contains(c, "c failed") {
			t.Errorf("sibling saw cause %q, want it to name c", c)
		}
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("a failing item is not a cancellation of the flow: %v", err)
	}
}

func TestParallelItemErrorNamesHost(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	_, err := e.Call(context.Background(), "struct_error")
	var ie *engine.ItemError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v is not an *engine.ItemError", err, err)
	}
	if ie.Item != "web2" {
		t.Errorf("ItemError.Item = %q, want web2", ie.Item)
	}
	if !strings.Contains(err.Error(), "web2: ") || !strings.Contains(err.Error(), "cannot reach web2") {
		t.Errorf("error = %q", err)
	}
}

func TestParallelSequential(t *testing.T) {
	p := newProbe()
	p.sleepFor = 10 * time.Millisecond
	e := newParallelEngine(t, p, map[string]any{engine.LocalSequential: true})
	names := itemNames(8)
	for _, limit := range []int{0, 1, 3, 100} {
		p.mu.Lock()
		p.order, p.maxRunning = nil, 0
		p.mu.Unlock()
		v, err := e.Call(context.Background(), "run", strList(names...), starlark.MakeInt(limit))
		if err != nil {
			t.Fatal(err)
		}
		if got := listStrings(t, v); !reflect.DeepEqual(got, names) {
			t.Errorf("limit %d: results = %q", limit, got)
		}
		maxRunning, order, _ := p.snapshot()
		if maxRunning != 1 {
			t.Errorf("limit %d: %d ran at once in sequential mode, want 1", limit, maxRunning)
		}
		if !reflect.DeepEqual(order, names) {
			t.Errorf("limit %d: ran in order %q, want %q", limit, order, names)
		}
	}
}

func TestParallelSequentialStopsAtFirstError(t *testing.T) {
	p := newProbe()
	p.sleepFor = time.Millisecond
	e := newParallelEngine(t, p, map[string]any{engine.LocalSequential: true})
	_, err := e.Call(context.Background(), "seq_error")
	var ie *engine.ItemError
	if !errors.As(err, &ie) || ie.Item != "b" {
		t.Fatalf("error = %v, want an ItemError for b", err)
	}
	if _, order, _ := p.snapshot(); !reflect.DeepEqual(order, []string{"a", "b"}) {
		t.Errorf("ran %q, want [a b]: items after a failure must not start", order)
	}
}

func TestParallelSequentialFalse(t *testing.T) {
	// A false (or non-bool) local means parallel as usual.
	for _, v := range []any{false, "yes", 1} {
		p := newProbe()
		p.sleepFor = 30 * time.Millisecond
		e := newParallelEngine(t, p, map[string]any{engine.LocalSequential: v})
		if _, err := e.Call(context.Background(), "run", strList(itemNames(4)...), starlark.MakeInt(0)); err != nil {
			t.Fatal(err)
		}
		if maxRunning, _, _ := p.snapshot(); maxRunning < 2 {
			t.Errorf("LocalSequential=%#v: %d ran at once, want parallelism", v, maxRunning)
		}
	}
}

func TestParallelEmptyItems(t *testing.T) {
	for _, limit := range []int{0, 1, 5} {
		for _, seq := range []bool{false, true} {
			p := newProbe()
			e := newParallelEngine(t, p, map[string]any{engine.LocalSequential: seq})
			v, err := e.Call(context.Background(), "empty", starlark.MakeInt(limit))
			if err != nil {
				t.Fatalf("limit %d seq %v: %v", limit, seq, err)
			}
			l, ok := v.(*starlark.List)
			if !ok || l.Len() != 0 {
				t.Errorf("limit %d seq %v: parallel(fn, []) = %s %v, want []", limit, seq, v.Type(), v)
			}
		}
	}
}

func TestParallelNegativeLimit(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	for _, limit := range []int{-1, -100} {
		_, err := e.Call(context.Background(), "run", strList("a"), starlark.MakeInt(limit))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("limit must be >= 0, got %d", limit)) {
			t.Errorf("limit %d: error = %v", limit, err)
		}
		if _, order, _ := p.snapshot(); len(order) != 0 {
			t.Errorf("limit %d: items ran: %q", limit, order)
		}
	}
}

func TestParallelRefusedAtTopLevel(t *testing.T) {
	tests := []struct {
		name    string
		stock   string
		project string
	}{
		{"stock top level", "x = parallel(lambda x: x, [1])\n", ""},
		{"project top level", "", "x = parallel(lambda x: x, [1])\n"},
		{"project top level via a flow", "def f():\n    return parallel(lambda x: x, [1])\n",
			"load('@mrsk//deploy.star', 'f')\nx = f()\n"},
		{"project top level, empty items", "", "x = parallel(lambda x: x, [])\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := engine.Options{Stdlib: stockFS("deploy.star", tt.stock)}
			if tt.project != "" {
				opts.ProjectFile = writeProject(t, map[string]string{"deploy.star": tt.project})
			}
			_, err := engine.New(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), "cannot run at module top level") {
				t.Errorf("New error = %v, want parallel refused at top level", err)
			}
		})
	}
}

func TestParallelFreezes(t *testing.T) {
	tests := []struct {
		flow string
		want string // "" = success
	}{
		{"shared_append", "cannot append to frozen list"},
		{"item_append", "cannot append to frozen list"},
		{"dict_item_set", "frozen"},
		{"default_append", "cannot append to frozen list"},
		{"method_fn", "cannot append to frozen list"},
		{"after_parallel", "cannot append to frozen list"},
		{"read_shared", ""},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			p := newProbe()
			e := newParallelEngine(t, p, nil)
			v, err := e.Call(context.Background(), tt.flow)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s = %v, want a frozen error", tt.flow, v)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParallelIterables(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	v, err := e.Call(context.Background(), "iterables")
	if err != nil {
		t.Fatal(err)
	}
	want := `[[2, 4, 6], ["k1", "k2"], [0, 1, 2], ["a", "b"]]`
	if v.String() != want {
		t.Errorf("iterables = %s, want %s", v, want)
	}
}

func TestParallelNested(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	v, err := e.Call(context.Background(), "nested")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[[11, 12, 13], [21, 22, 23], [31, 32, 33]]"; v.String() != want {
		t.Errorf("nested = %s, want %s", v, want)
	}
}

func TestParallelCancelledByCallContext(t *testing.T) {
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		p.waitStarted(t, 4)
		cancel(errors.New("shutting down"))
	}()
	items := strList("a", "b", "c", "d")
	_, err := callWithin(t, ctx, e, "wait_all", items)
	if err == nil {
		t.Fatal("want error")
	}
	if !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("error %q does not give the cause", err)
	}
	_, _, causes := p.snapshot()
	if len(causes) != 4 {
		t.Errorf("%d workers observed cancellation, want 4", len(causes))
	}
	for _, c := range causes {
		if c != "shutting down" {
			t.Errorf("worker saw cause %q, want the Call context's", c)
		}
	}
}

func TestParallelCancelledBeforeAllStart(t *testing.T) {
	// limit 1: cancel while the first item runs; the rest never start.
	p := newProbe()
	e := newParallelEngine(t, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		p.waitStarted(t, 1)
		cancel()
	}()
	_, err := callWithin(t, ctx, e, "wait_all", strList("a", "b", "c"), starlark.MakeInt(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
	if got := p.waiting.Load(); got != 1 {
		t.Errorf("%d items started after cancellation, want only the first", got)
	}
}
