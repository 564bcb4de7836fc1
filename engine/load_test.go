package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

const simpleStock = `
print("stock loaded")

def deploy():
    return "stock deploy"

def boot():
    return "stock boot"

VERSION = "1"
`

func TestStockModuleLoads(t *testing.T) {
	sink := &printSink{}
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), Print: sink.print})
	for _, name := range []string{"deploy", "boot", "VERSION"} {
		if e.Lookup(name) == nil {
			t.Errorf("Lookup(%q) = nil, want the stock global", name)
		}
		if e.Project(name) != nil {
			t.Errorf("Project(%q) = %v, want nil without a project file", name, e.Project(name))
		}
	}
	if v := e.Lookup("nope"); v != nil {
		t.Errorf("Lookup(nope) = %v, want nil", v)
	}
	v, err := e.Call(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starlark.AsString(v); s != "stock deploy" {
		t.Errorf("Call(deploy) = %v", v)
	}
	if got := sink.get(); !reflect.DeepEqual(got, []string{"stock loaded"}) {
		t.Errorf("prints = %q", got)
	}
}

func TestStockModuleErrors(t *testing.T) {
	tests := []struct {
		name    string
		stdlib  func() engine.Options
		wantErr string
	}{
		{
			name:    "nil stdlib",
			stdlib:  func() engine.Options { return engine.Options{} },
			wantErr: "no stock modules",
		},
		{
			name:    "missing deploy.star",
			stdlib:  func() engine.Options { return engine.Options{Stdlib: stockFS("other.star", "")} },
			wantErr: "deploy.star",
		},
		{
			name:    "syntax error",
			stdlib:  func() engine.Options { return engine.Options{Stdlib: stockFS("deploy.star", "x = 1\ndef (:\n")} },
			wantErr: "@mrsk//deploy.star:2:",
		},
		{
			name: "runtime error",
			stdlib: func() engine.Options {
				return engine.Options{Stdlib: stockFS("deploy.star", "x = 1\nfail('stock broke')\n")}
			},
			wantErr: "stock broke",
		},
		{
			name: "stock error stops the project from loading",
			stdlib: func() engine.Options {
				return engine.Options{
					Stdlib:      stockFS("deploy.star", "fail('stock broke')\n"),
					ProjectFile: writeProject(t, map[string]string{"deploy.star": "fail('project must not run')\n"}),
				}
			},
			wantErr: "stock broke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := engine.New(context.Background(), tt.stdlib())
			if err == nil {
				t.Fatalf("New succeeded (%v), want error containing %q", e, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestProjectLoadsAfterStock(t *testing.T) {
	sink := &printSink{}
	proj := writeProject(t, map[string]string{"deploy.star": `
print("project loaded")

def boot():
    return "project boot"

def pre_deploy():
    pass
`})
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), ProjectFile: proj, Print: sink.print})
	if got, want := sink.get(), []string{"stock loaded", "project loaded"}; !reflect.DeepEqual(got, want) {
		t.Errorf("load order = %q, want %q", got, want)
	}
	if e.Project("boot") == nil || e.Project("pre_deploy") == nil {
		t.Error("project globals missing")
	}
	if e.Project("deploy") != nil {
		t.Error("Project(deploy) should not see stock globals")
	}
	if e.Lookup("deploy") == nil {
		t.Error("Lookup(deploy) should fall back to the stock flow")
	}
}

func TestMissingProjectFileIsFine(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"empty", func(t *testing.T) string { return "" }},
		{"missing file", func(t *testing.T) string { return writeProject(t, nil) }},
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope", "config", "deploy.star") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), ProjectFile: tt.path(t), Print: func(string) {}})
			v, err := e.Call(context.Background(), "boot")
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := starlark.AsString(v); s != "stock boot" {
				t.Errorf("Call(boot) = %v, want stock boot", v)
			}
			if e.Project("boot") != nil {
				t.Error("Project(boot) != nil without a project file")
			}
		})
	}
}

func TestProjectLoadsStockModule(t *testing.T) {
	sink := &printSink{}
	proj := writeProject(t, map[string]string{"deploy.star": `
load("@mrsk//deploy.star", stock_deploy = "deploy", "VERSION")

def deploy():
    return "before " + stock_deploy() + " after " + VERSION
`})
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), ProjectFile: proj, Print: sink.print})
	v, err := e.Call(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starlark.AsString(v); s != "before stock deploy after 1" {
		t.Errorf("Call(deploy) = %v", v)
	}
	// The stock module is executed once: the load reuses the cached module.
	if got := sink.get(); !reflect.DeepEqual(got, []string{"stock loaded"}) {
		t.Errorf("prints = %q, want the stock module to run exactly once", got)
	}
	// load() bindings are file-local: they are not project globals.
	if e.Project("stock_deploy") != nil {
		t.Error("loaded name stock_deploy leaked into the project's globals")
	}
}

func TestProjectRelativeLoad(t *testing.T) {
	proj := writeProject(t, map[string]string{
		"deploy.star": `
load("helpers.star", "greet")
load("lib/more.star", "more")

def deploy():
    return greet("x") + " " + more()
`,
		"helpers.star":     "def greet(n):\n    return 'hello ' + n\n",
		"lib/more.star":    "load('../helpers.star', 'greet')\nload('sibling.star', 'sib')\ndef more():\n    return greet('more') + sib\n",
		"lib/sibling.star": "sib = '!'\n",
	})
	e := mustNew(t, engine.Options{Stdlib: stockFS("deploy.star", simpleStock), ProjectFile: proj, Print: func(string) {}})
	v, err := e.Call(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starlark.AsString(v); s != "hello x hello more!" {
		t.Errorf("Call(deploy) = %v", v)
	}
}

func TestProjectRelativePathFromWorkingDir(t *testing.T) {
	// The CLI may pass a relative path such as config/deploy.star.
	proj := writeProject(t, map[string]string{
		"deploy.star":  "load('helpers.star', 'boom')\n\ndef pre_deploy():\n    boom()\n",
		"helpers.star": "def boom():\n    fail('helper failed')\n",
	})
	t.Chdir(filepath.Dir(filepath.Dir(proj)))
	e := mustNew(t, engine.Options{
		Stdlib:      stockFS("deploy.star", "def deploy():\n    if defined('pre_deploy'):\n        invoke('pre_deploy')\n"),
		ProjectFile: filepath.Join("config", "deploy.star"),
	})
	_, err := e.Call(context.Background(), "deploy")
	if err == nil {
		t.Fatal("want error")
	}
	bt := engine.Backtrace(err)
	for _, want := range []string{"config/deploy.star:4:", "config/helpers.star:2:", "helper failed"} {
		if !strings.Contains(bt, want) {
			t.Errorf("backtrace missing %q:\n%s", want, bt)
		}
	}
}

func TestStockRelativeLoad(t *testing.T) {
	fsys := stockFS(
		"deploy.star", "load('lib.star', 'a')\nload('sub/b.star', 'b')\ndef deploy():\n    return a + b\n",
		"lib.star", "a = 'A'\n",
		"sub/b.star", "load('c.star', 'c')\nb = 'B' + c\n",
		"sub/c.star", "c = 'C'\n",
	)
	e := mustNew(t, engine.Options{Stdlib: fsys})
	v, err := e.Call(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starlark.AsString(v); s != "ABC" {
		t.Errorf("Call(deploy) = %v, want ABC", v)
	}
	// A project can load stock helper modules by label too.
	proj := writeProject(t, map[string]string{"deploy.star": "load('@mrsk//sub/b.star', 'b')\ndef deploy():\n    return 'p' + b\n"})
	e = mustNew(t, engine.Options{Stdlib: fsys, ProjectFile: proj})
	v, err = e.Call(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starlark.AsString(v); s != "pBC" {
		t.Errorf("Call(deploy) = %v, want pBC", v)
	}
}

func TestLoadCycles(t *testing.T) {
	tests := []struct {
		name    string
		stock   []string
		project map[string]string
	}{
		{
			name:    "project loads itself",
			stock:   []string{"deploy.star", ""},
			project: map[string]string{"deploy.star": "load('deploy.star', 'x')\ny = 1\n"},
		},
		{
			name:  "project a -> b -> a",
			stock: []string{"deploy.star", ""},
			project: map[string]string{
				"deploy.star": "load('a.star', 'a')\n",
				"a.star":      "load('b.star', 'b')\na = 1\n",
				"b.star":      "load('a.star', 'a')\nb = 1\n",
			},
		},
		{
			name:  "helper loads the project file",
			stock: []string{"deploy.star", ""},
			project: map[string]string{
				"deploy.star": "load('a.star', 'a')\nx = 1\n",
				"a.star":      "load('deploy.star', 'x')\na = 1\n",
			},
		},
		{
			name:  "stock cycle",
			stock: []string{"deploy.star", "load('x.star', 'x')\n", "x.star", "load('deploy.star', 'y')\nx = 1\n"},
		},
		{
			name:  "stock cycle through label",
			stock: []string{"deploy.star", "load('@mrsk//x.star', 'x')\n", "x.star", "load('@mrsk//deploy.star', 'y')\nx = 1\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := engine.Options{Stdlib: stockFS(tt.stock...)}
			if tt.project != nil {
				opts.ProjectFile = writeProject(t, tt.project)
			}
			done := make(chan error, 1)
			go func() {
				_, err := engine.New(context.Background(), opts)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "cycle in load graph") {
					t.Errorf("New error = %v, want a load cycle error", err)
				}
			case <-time.After(waitLimit):
				t.Fatal("New did not return on a load cycle")
			}
		})
	}
}

func TestProjectSyntaxErrorNamesFileAndLine(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		wantFile string
		wantLine string
		// btOnly: a runtime error's message is just the error; only the
		// backtrace carries the position.
		btOnly bool
	}{
		{
			name:     "syntax error",
			files:    map[string]string{"deploy.star": "def ok():\n    pass\n\ndef broken(:\n    pass\n"},
			wantFile: "deploy.star",
			wantLine: ":4:",
		},
		{
			name:     "undefined name",
			files:    map[string]string{"deploy.star": "x = 1\ny = nope\n"},
			wantFile: "deploy.star",
			wantLine: ":2:",
		},
		{
			name:     "runtime error at top level",
			files:    map[string]string{"deploy.star": "x = 1\n\nfail('bad config')\n"},
			wantFile: "deploy.star",
			wantLine: ":3:",
			btOnly:   true,
		},
		{
			name: "syntax error in a loaded helper",
			files: map[string]string{
				"deploy.star":  "load('helpers.star', 'h')\n",
				"helpers.star": "h = 1\nh2 = )\n",
			},
			wantFile: "helpers.star",
			wantLine: ":2:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proj := writeProject(t, tt.files)
			_, err := engine.New(context.Background(), engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj})
			if err == nil {
				t.Fatal("New succeeded, want error")
			}
			want := filepath.Join(filepath.Dir(proj), tt.wantFile) + tt.wantLine
			// Both the plain message and the user-facing backtrace name the
			// file and line.
			msgs := []string{err.Error(), engine.Backtrace(err)}
			if tt.btOnly {
				msgs = msgs[1:]
			}
			for _, msg := range msgs {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
		})
	}
}

func TestProjectLoadMissingHelper(t *testing.T) {
	proj := writeProject(t, map[string]string{"deploy.star": "load('nope.star', 'x')\n"})
	_, err := engine.New(context.Background(), engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj})
	if err == nil || !strings.Contains(err.Error(), "nope.star") {
		t.Fatalf("New error = %v, want it to name nope.star", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v should wrap os.ErrNotExist", err)
	}
}

func TestProjectFileIsADirectory(t *testing.T) {
	proj := writeProject(t, map[string]string{"deploy.star/x": ""})
	if _, err := engine.New(context.Background(), engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj}); err == nil {
		t.Fatal("New succeeded with a directory as project file, want error")
	}
}

func TestUnreadableProjectFileIsAnError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	proj := writeProject(t, map[string]string{"deploy.star": "def pre_deploy():\n    pass\n"})
	dir := filepath.Dir(proj)
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err := engine.New(context.Background(), engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj})
	if err == nil {
		t.Fatal("New ignored an unreadable project file")
	}
}

func TestNewHonoursContextWhileLoading(t *testing.T) {
	proj := writeProject(t, map[string]string{"deploy.star": "while True:\n    pass\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := engine.New(ctx, engine.Options{Stdlib: stockFS("deploy.star", ""), ProjectFile: proj})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cancelled") {
			t.Errorf("New error = %v, want a cancellation error", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("New did not return after ctx was cancelled")
	}
}
