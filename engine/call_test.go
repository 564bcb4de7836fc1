package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

// hookStock is a stock module whose flows call steps through invoke() and
// hooks through defined().
const hookStock = `
def boot(host):
    return "stock boot " + host

def restart(host):
    return "stock restart " + host

def deploy(host):
    out = []
    if defined("pre_deploy"):
        out.append(invoke("pre_deploy"))
    out.append(invoke("boot", host))
    out.append(invoke("restart", host = host))
    return out

def has(name):
    return defined(name)

# A stock definition of a hook name must not make defined() true.
def post_deploy():
    return "stock post_deploy"
`

func TestOverrides(t *testing.T) {
	tests := []struct {
		name       string
		project    string // "" = no project file
		wantDeploy []string
		wantBoot   string
	}{
		{
			name:       "no project",
			wantDeploy: []string{"stock boot web1", "stock restart web1"},
			wantBoot:   "stock boot web1",
		},
		{
			name:       "project replaces a step",
			project:    "def boot(host):\n    return 'project boot ' + host\n",
			wantDeploy: []string{"project boot web1", "stock restart web1"},
			wantBoot:   "project boot web1",
		},
		{
			name:       "project adds a hook",
			project:    "def pre_deploy():\n    return 'hook'\n",
			wantDeploy: []string{"hook", "stock boot web1", "stock restart web1"},
			wantBoot:   "stock boot web1",
		},
		{
			name: "project wraps the stock step",
			project: `load("@mrsk//deploy.star", stock_boot = "boot")
def boot(host):
    return "wrapped(" + stock_boot(host) + ")"
`,
			wantDeploy: []string{"wrapped(stock boot web1)", "stock restart web1"},
			wantBoot:   "wrapped(stock boot web1)",
		},
		{
			name: "project replaces the flow itself",
			project: `load("@mrsk//deploy.star", stock_deploy = "deploy")
def deploy(host):
    return ["mine"] + stock_deploy(host)
`,
			wantDeploy: []string{"mine", "stock boot web1", "stock restart web1"},
			wantBoot:   "stock boot web1",
		},
		{
			name:       "project replaces a step called with kwargs",
			project:    "def restart(host):\n    return 'project restart ' + host\n",
			wantDeploy: []string{"stock boot web1", "project restart web1"},
			wantBoot:   "stock boot web1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := engine.Options{Stdlib: stockFS("deploy.star", hookStock)}
			if tt.project != "" {
				opts.ProjectFile = writeProject(t, map[string]string{"deploy.star": tt.project})
			}
			e := mustNew(t, opts)
			v, err := e.Call(context.Background(), "deploy", starlark.String("web1"))
			if err != nil {
				t.Fatal(engine.Backtrace(err))
			}
			if got := listStrings(t, v); !reflect.DeepEqual(got, tt.wantDeploy) {
				t.Errorf("deploy = %q, want %q", got, tt.wantDeploy)
			}
			v, err = e.Call(context.Background(), "boot", starlark.String("web1"))
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := starlark.AsString(v); s != tt.wantBoot {
				t.Errorf("boot = %q, want %q", s, tt.wantBoot)
			}
		})
	}
}

func TestDefined(t *testing.T) {
	proj := writeProject(t, map[string]string{"deploy.star": `
def pre_deploy():
    pass

post_boot = None
_private = 1
`})
	tests := []struct {
		name    string
		project string
		want    bool
	}{
		{"pre_deploy", proj, true},
		{"post_boot", proj, true},    // any project global counts
		{"_private", proj, true},     // so do private ones
		{"post_deploy", proj, false}, // stock definitions do not count
		{"boot", proj, false},        // neither do stock steps
		{"nothing", proj, false},     // nor unknown names
		{"pre_deploy", "", false},    // no project file
		{"post_deploy", "", false},   // stock only
	}
	engines := map[string]*engine.Engine{}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/project=%v", tt.name, tt.project != ""), func(t *testing.T) {
			e := engines[tt.project]
			if e == nil {
				e = mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", hookStock), ProjectFile: tt.project})
				engines[tt.project] = e
			}
			v, err := e.Call(context.Background(), "has", starlark.String(tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if v != starlark.Bool(tt.want) {
				t.Errorf("defined(%q) = %v, want %v", tt.name, v, tt.want)
			}
		})
	}
}

func TestBuiltinArgumentErrors(t *testing.T) {
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", `
def boot(host):
    return host

def run(kind):
    if kind == "invoke none":
        return invoke()
    if kind == "invoke int":
        return invoke(1)
    if kind == "invoke unknown":
        return invoke("nope")
    if kind == "invoke non-callable":
        return invoke("VALUE")
    if kind == "invoke bad args":
        return invoke("boot")
    if kind == "defined none":
        return defined()
    if kind == "defined int":
        return defined(1)
    if kind == "parallel no fn":
        return parallel()
    if kind == "parallel not callable":
        return parallel(1, [1])
    if kind == "parallel not iterable":
        return parallel(boot, 1)
    if kind == "parallel bad limit":
        return parallel(boot, [1], limit = "x")
    if kind == "parallel negative limit":
        return parallel(boot, [1], limit = -1)
    if kind == "parallel unknown kwarg":
        return parallel(boot, [1], lmit = 1)

VALUE = 1
`)})
	tests := []struct {
		kind, want string
	}{
		{"invoke none", "invoke: missing step name"},
		{"invoke int", "invoke: step name must be a string, not int"},
		{"invoke unknown", `invoke: no step named "nope"`},
		{"invoke non-callable", `invoke: no step named "VALUE"`},
		{"invoke bad args", "function boot missing 1 argument (host)"},
		{"defined none", "defined: got 0 arguments, want 1"},
		{"defined int", "defined: for parameter 1: got int, want string"},
		{"parallel no fn", "parallel: missing argument for fn"},
		{"parallel not callable", "parallel: for parameter fn: got int, want callable"},
		{"parallel not iterable", "parallel: for parameter items: got int, want iterable"},
		{"parallel bad limit", "got string, want int"},
		{"parallel negative limit", "parallel: limit must be >= 0, got -1"},
		{"parallel unknown kwarg", "parallel: unexpected keyword argument"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			_, err := e.Call(context.Background(), "run", starlark.String(tt.kind))
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCallUnknownFlow(t *testing.T) {
	proj := writeProject(t, map[string]string{"deploy.star": "SETTING = 1\n"})
	tests := []struct {
		name    string
		project string
		flow    string
		want    []string
	}{
		{"unknown, no project", "", "nope", []string{`"nope"`, "@mrsk//deploy.star", "the project"}},
		{"unknown, project", proj, "app_boot", []string{`"app_boot"`, "@mrsk//deploy.star", proj}},
		{"stock non-callable", proj, "VERSION", []string{`"VERSION"`}},
		{"project non-callable", proj, "SETTING", []string{`"SETTING"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), ProjectFile: tt.project, Print: func(string) {}})
			v, err := e.Call(context.Background(), tt.flow)
			if err == nil {
				t.Fatalf("Call(%q) = %v, want error", tt.flow, v)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCallPassesArgsAndReturns(t *testing.T) {
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", "def add(a, b):\n    return a + b\n")})
	v, err := e.Call(context.Background(), "add", starlark.MakeInt(2), starlark.MakeInt(40))
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != "42" {
		t.Errorf("add(2, 40) = %v", v)
	}
	if _, err := e.Call(context.Background(), "add", starlark.MakeInt(2)); err == nil || !strings.Contains(err.Error(), "missing 1 argument (b)") {
		t.Errorf("add(2) error = %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	p := newProbe()
	p.sleepFor = time.Millisecond
	proj := writeProject(t, map[string]string{"deploy.star": `
load("@mrsk//deploy.star", stock_work = "work")
def work(n):
    return stock_work(n) + 1
`})
	e := mustNew(t, engine.Options{
		Stdlib: stockFS("deploy.star", `
def work(n):
    return sum(parallel(lambda x: track(x), list(range(n))))

def sum(l):
    t = 0
    for x in l:
        t += x
    return t
`),
		ProjectFile: proj,
		Builtins:    p.builtins(nil),
	})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := e.Call(context.Background(), "work", starlark.MakeInt(i))
			if err == nil && v.String() != fmt.Sprint(i*(i-1)/2+1) {
				err = fmt.Errorf("work(%d) = %v", i, v)
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// --- Backtrace ---------------------------------------------------------------

func TestBacktraceNamesProjectLine(t *testing.T) {
	stock := "def deploy():\n" + // 1
		"    if defined('pre_deploy'):\n" + // 2
		"        invoke('pre_deploy')\n" // 3
	project := "# hooks\n" + // 1
		"def pre_deploy():\n" + // 2
		"    check()\n" + // 3
		"\n" + // 4
		"def check():\n" + // 5
		"    fail('hook failed')\n" // 6
	proj := writeProject(t, map[string]string{"deploy.star": project})
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", stock), ProjectFile: proj})
	_, err := e.Call(context.Background(), "deploy")
	if err == nil {
		t.Fatal("want error")
	}
	bt := engine.Backtrace(err)
	wants := []string{
		"@mrsk//deploy.star:3:",
		filepath.ToSlash(filepath.Join("config", "deploy.star")) + ":3:",
		"in pre_deploy",
		"config/deploy.star:6:",
		"in check",
		"Error in fail: fail: hook failed",
	}
	for _, w := range wants {
		if !strings.Contains(bt, w) {
			t.Errorf("backtrace missing %q:\n%s", w, bt)
		}
	}
	// Most recent call last: the stock frame comes before the hook's.
	if strings.Index(bt, "@mrsk//deploy.star:3:") > strings.Index(bt, "config/deploy.star:6:") {
		t.Errorf("backtrace frames out of order:\n%s", bt)
	}
}

func TestBacktraceAcrossLoad(t *testing.T) {
	proj := writeProject(t, map[string]string{
		"deploy.star": "x = 1\n" +
			"load('helpers.star', 'h')\n",
		"helpers.star": "load('deeper.star', 'd')\n" +
			"h = d\n",
		"deeper.star": "\n" +
			"\n" +
			"def f():\n" +
			"    fail('deep failure')\n" +
			"d = f()\n",
	})
	_, err := engine.New(context.Background(), engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj})
	if err == nil {
		t.Fatal("want error")
	}
	// The message is the chain of loads...
	for _, w := range []string{"cannot load", "helpers.star", "deeper.star", "deep failure"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	// ...the backtrace is the deepest evaluation error's stack.
	bt := engine.Backtrace(err)
	for _, w := range []string{"deeper.star:5:", "in <toplevel>", "deeper.star:4:", "in f", "Error in fail: fail: deep failure"} {
		if !strings.Contains(bt, w) {
			t.Errorf("backtrace missing %q:\n%s", w, bt)
		}
	}
	// The loading thread's stack spans the load() statements, so the
	// deepest error shows every file on the way, outermost first.
	for _, w := range []string{"config/deploy.star:2:", "config/helpers.star:1:"} {
		if !strings.Contains(bt, w) {
			t.Errorf("backtrace missing %q:\n%s", w, bt)
		}
	}
	if strings.Contains(bt, "cannot load") {
		t.Errorf("backtrace should be the deepest error, got:\n%s", bt)
	}
}

func TestBacktraceParallelWorker(t *testing.T) {
	stock := "def deploy(hosts):\n" + // 1
		"    return parallel(invoke_boot, hosts)\n" + // 2
		"\n" + // 3
		"def invoke_boot(h):\n" + // 4
		"    return invoke('boot', h)\n" // 5
	project := "def boot(h):\n" + // 1
		"    if h == 'web2':\n" + // 2
		"        fail('cannot boot ' + h)\n" + // 3
		"    return h\n" // 4
	proj := writeProject(t, map[string]string{"deploy.star": project})
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", stock), ProjectFile: proj})
	_, err := e.Call(context.Background(), "deploy", starlark.NewList([]starlark.Value{starlark.String("web1"), starlark.String("web2")}))
	if err == nil {
		t.Fatal("want error")
	}
	bt := engine.Backtrace(err)
	for _, w := range []string{"@mrsk//deploy.star:5:", "config/deploy.star:3:", "in boot", "cannot boot web2"} {
		if !strings.Contains(bt, w) {
			t.Errorf("backtrace missing %q:\n%s", w, bt)
		}
	}
	// The worker's frames follow those of the flow that called parallel(),
	// once each, outermost first.
	caller, worker := strings.Index(bt, "@mrsk//deploy.star:2:"), strings.Index(bt, "@mrsk//deploy.star:5:")
	if caller < 0 || worker < caller || strings.Count(bt, "Traceback") != 1 {
		t.Errorf("backtrace should show deploy (line 2) calling parallel, then the worker (line 5):\n%s", bt)
	}
	var ie *engine.ItemError
	if !errors.As(err, &ie) || ie.Item != "web2" {
		t.Errorf("error %v: want an ItemError for web2, got %#v", err, ie)
	}
}

func TestBacktracePlainErrors(t *testing.T) {
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", "def f():\n    fail('x')\n")})
	_, evalErr := e.Call(context.Background(), "f")
	if evalErr == nil {
		t.Fatal("want error")
	}
	var ee *starlark.EvalError
	if !errors.As(evalErr, &ee) {
		t.Fatalf("Call error %T is not an EvalError", evalErr)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("ssh: connection refused"), "ssh: connection refused"},
		{"wrapped plain", fmt.Errorf("boot web1: %w", errors.New("exit 1")), "boot web1: exit 1"},
		{"eval", evalErr, ee.Backtrace()},
		{"wrapped eval", fmt.Errorf("deploy: %w", evalErr), ee.Backtrace()},
		{"joined eval", errors.Join(errors.New("other"), evalErr), ee.Backtrace()},
		{"item error", &engine.ItemError{Item: "web1", Err: evalErr}, ee.Backtrace()},
		{"item error plain", &engine.ItemError{Item: "web1", Err: errors.New("boom")}, "web1: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engine.Backtrace(tt.err); got != tt.want {
				t.Errorf("Backtrace = %q, want %q", got, tt.want)
			}
		})
	}
	if !strings.Contains(ee.Backtrace(), "@mrsk//deploy.star:2:") {
		t.Errorf("backtrace %q does not name the line", ee.Backtrace())
	}
}

// --- Cancellation --------------------------------------------------------------

const cancelStock = `
def spin():
    signal()
    while True:
        pass

def block():
    wait_cancel()

def spin_item(x):
    signal()
    while True:
        pass

def par_spin(n):
    return parallel(spin_item, list(range(n)))

def par_block(n):
    return parallel(lambda x: wait_cancel(), list(range(n)))

def par_nested(n):
    return parallel(lambda x: parallel(lambda y: wait_cancel(), list(range(n))), list(range(n)))
`

// cancelFlows are the flows of cancelStock: args to call them with and how
// many threads signal they are running once the flow is under way.
var cancelFlows = []struct {
	flow    string
	args    []starlark.Value
	n       int
	cancels bool // a builtin observes the cancellation through ContextOf
}{
	{"spin", nil, 1, false},
	{"block", nil, 1, true},
	{"par_spin", []starlark.Value{starlark.MakeInt(3)}, 3, false},
	{"par_block", []starlark.Value{starlark.MakeInt(3)}, 3, true},
	{"par_nested", []starlark.Value{starlark.MakeInt(2)}, 4, true},
}

func TestCallCancellation(t *testing.T) {
	for _, tt := range cancelFlows {
		t.Run(tt.flow, func(t *testing.T) {
			p := newProbe()
			e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", cancelStock), Builtins: p.builtins(nil)})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			go func() {
				p.waitStarted(t, tt.n)
				cancelled = time.Now()
				cancel()
			}()
			_, err := callWithin(t, ctx, e, tt.flow, tt.args...)
			if err == nil {
				t.Fatal("want error")
			}
			if d := time.Since(cancelled); d > 5*time.Second {
				t.Errorf("Call took %v after cancel", d)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
			if !strings.Contains(err.Error(), "cancel") {
				t.Errorf("error %q does not mention the cancellation", err)
			}
			if !strings.HasPrefix(err.Error(), tt.flow+": ") {
				t.Errorf("error %q does not name the flow", err)
			}
			if _, _, causes := p.snapshot(); tt.cancels && len(causes) != tt.n {
				t.Errorf("%d builtins observed the cancellation, want %d", len(causes), tt.n)
			}
		})
	}
}

func TestCallCancellationCause(t *testing.T) {
	for _, tt := range cancelFlows {
		t.Run(tt.flow, func(t *testing.T) {
			p := newProbe()
			e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", cancelStock), Builtins: p.builtins(nil)})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			cause := errors.New("user pressed ctrl-c")
			go func() {
				p.waitStarted(t, tt.n)
				cancel(cause)
			}()
			_, err := callWithin(t, ctx, e, tt.flow, tt.args...)
			if !errors.Is(err, cause) {
				t.Errorf("error %v does not wrap the cause", err)
			}
			// Starlark threads are cancelled with the cause as reason.
			if !tt.cancels && !strings.Contains(engine.Backtrace(err), "user pressed ctrl-c") {
				t.Errorf("backtrace %q does not give the cause", engine.Backtrace(err))
			}
			_, _, causes := p.snapshot()
			for _, c := range causes {
				if c != cause.Error() {
					t.Errorf("builtin saw cause %q, want %q", c, cause)
				}
			}
		})
	}
}

func TestCallDeadline(t *testing.T) {
	p := newProbe()
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", cancelStock), Builtins: p.builtins(nil)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := callWithin(t, ctx, e, "spin")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if !strings.Contains(engine.Backtrace(err), "cancelled: context deadline exceeded") {
		t.Errorf("backtrace %q does not give the reason", engine.Backtrace(err))
	}
}

func TestCallAlreadyCancelled(t *testing.T) {
	for _, tt := range cancelFlows {
		t.Run(tt.flow, func(t *testing.T) {
			p := newProbe()
			e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", cancelStock), Builtins: p.builtins(nil)})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := callWithin(t, ctx, e, tt.flow, tt.args...)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
		})
	}
}

func TestCallErrorWithoutCancellationIsUnwrapped(t *testing.T) {
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", "def f():\n    fail('plain')\n")})
	_, err := e.Call(context.Background(), "f")
	var ee *starlark.EvalError
	if !errors.As(err, &ee) || err != error(ee) {
		t.Errorf("error %T %v: want the EvalError itself", err, err)
	}
}

// --- Locals and print ------------------------------------------------------------

func TestLocalsOnEveryThread(t *testing.T) {
	p := newProbe()
	sink := &printSink{}
	stock := `
def flow():
    print("main " + local("rt"))
    out = [local("rt")]
    out += parallel(worker, ["a", "b", "c"])
    out += parallel(lambda x: parallel(worker, [x + "1", x + "2"]), ["n"])[0]
    return out

def worker(x):
    print("worker " + x)
    return local("rt")
`
	e := mustNew(t, engine.Options{
		Stdlib:   stockFS("deploy.star", stock),
		Builtins: p.builtins(nil),
		Locals:   map[string]any{"rt": "runtime-1"},
		Print:    sink.print,
	})
	v, err := e.Call(context.Background(), "flow")
	if err != nil {
		t.Fatal(engine.Backtrace(err))
	}
	got := listStrings(t, v)
	want := []string{"runtime-1", "runtime-1", "runtime-1", "runtime-1", "runtime-1", "runtime-1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("locals seen = %q, want %q", got, want)
	}
	p.mu.Lock()
	for i, eng := range p.engines {
		if eng != e {
			t.Errorf("FromThread on call %d = %p, want %p", i, eng, e)
		}
	}
	p.mu.Unlock()
	wantPrints := []string{"main runtime-1", "worker a", "worker b", "worker c", "worker n1", "worker n2"}
	if got := sink.sorted(); !reflect.DeepEqual(got, wantPrints) {
		t.Errorf("prints = %q, want %q", got, wantPrints)
	}
}

func TestLocalsDuringLoad(t *testing.T) {
	p := newProbe()
	proj := writeProject(t, map[string]string{"deploy.star": "x = local('rt')\n"})
	e := mustNew(t, engine.Options{
		Stdlib:      stockFS("deploy.star", "y = local('rt')\n"),
		ProjectFile: proj,
		Builtins:    p.builtins(nil),
		Locals:      map[string]any{"rt": 7},
	})
	if got := e.Project("x"); got != starlark.String("7") {
		t.Errorf("project x = %v", got)
	}
	if got := e.Lookup("y"); got != starlark.String("7") {
		t.Errorf("stock y = %v", got)
	}
}

func TestContextOfDuringLoadAndCall(t *testing.T) {
	type key struct{}
	var seen []any
	var mu sync.Mutex
	see := starlark.NewBuiltin("see", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		mu.Lock()
		seen = append(seen, engine.ContextOf(t).Value(key{}))
		mu.Unlock()
		return starlark.None, nil
	})
	e, err := engine.New(context.WithValue(context.Background(), key{}, "load"), engine.Options{
		Stdlib:   stockFS("deploy.star", "see()\ndef f():\n    see()\n    parallel(lambda x: see(), [1, 2])\n"),
		Builtins: starlark.StringDict{"see": see},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Call(context.WithValue(context.Background(), key{}, "call"), "f"); err != nil {
		t.Fatal(err)
	}
	want := []any{"load", "call", "call", "call"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("contexts seen = %v, want %v", seen, want)
	}
}

func TestPrintReceivesOutput(t *testing.T) {
	sink := &printSink{}
	proj := writeProject(t, map[string]string{"deploy.star": "print('project top')\ndef hook():\n    print('hook', 1, [2])\n"})
	e := mustNew(t, engine.Options{
		Stdlib:      stockFS("deploy.star", "print('stock top')\ndef flow():\n    print('flow')\n    invoke('hook')\n"),
		ProjectFile: proj,
		Print:       sink.print,
	})
	if _, err := e.Call(context.Background(), "flow"); err != nil {
		t.Fatal(err)
	}
	want := []string{"stock top", "project top", "flow", "hook 1 [2]"}
	if got := sink.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("prints = %q, want %q", got, want)
	}
}

func TestFromThreadAndContextOfOnForeignThread(t *testing.T) {
	th := &starlark.Thread{}
	if e := engine.FromThread(th); e != nil {
		t.Errorf("FromThread(foreign) = %v, want nil", e)
	}
	if ctx := engine.ContextOf(th); ctx != context.Background() {
		t.Errorf("ContextOf(foreign) = %v, want Background", ctx)
	}
}
