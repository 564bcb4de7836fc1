package startest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mrsk-go/mrsk/executor"
)

func dict(kv ...starlark.Value) *starlark.Dict {
	d := starlark.NewDict(len(kv) / 2)
	for i := 0; i < len(kv); i += 2 {
		d.SetKey(kv[i], kv[i+1])
	}
	return d
}

func TestOptionFlags(t *testing.T) {
	for _, tc := range []struct {
		in   *starlark.Dict
		want []string
		err  string
	}{
		{nil, nil, ""},
		{dict(starlark.String("skip_push"), starlark.True), []string{"--skip-push"}, ""},
		{dict(starlark.String("skip_hooks"), starlark.False, starlark.String("lines"), starlark.MakeInt(5)), []string{"--lines=5"}, ""},
		{dict(starlark.String("y"), starlark.True, starlark.String("m"), starlark.String("db work")), []string{"-mdb work", "-y"}, ""},
		{dict(starlark.String("message"), starlark.String("a=b")), []string{"--message=a=b"}, ""},
		{dict(starlark.String("x"), starlark.NewList(nil)), nil, "want a bool, string or int"},
		{dict(starlark.MakeInt(1), starlark.True), nil, "non-empty strings"},
	} {
		got, err := optionFlags(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("optionFlags(%v) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("optionFlags(%v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseResponses(t *testing.T) {
	st := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"stdout": starlark.String("LOCKED"), "exit": starlark.MakeInt(3),
	})
	for _, tc := range []struct {
		in   *starlark.Dict
		want []executor.Response // Pattern compared by its text
		err  string
	}{
		{dict(starlark.String("^docker ps"), starlark.String("abc\n")), []executor.Response{{Pattern: regexp.MustCompile("^docker ps"), Stdout: "abc\n"}}, ""},
		{dict(starlark.String("mkdir"), st), []executor.Response{{Pattern: regexp.MustCompile("mkdir"), Stdout: "LOCKED", Exit: 3}}, ""},
		{dict(starlark.String("pull"), dict(starlark.String("stderr"), starlark.String("no"), starlark.String("exit"), starlark.MakeInt(1))),
			[]executor.Response{{Pattern: regexp.MustCompile("pull"), Stderr: "no", Exit: 1}}, ""},
		// Order is kept: the first match answers.
		{dict(starlark.String("b"), starlark.String("1"), starlark.String("a"), starlark.String("2")),
			[]executor.Response{{Pattern: regexp.MustCompile("b"), Stdout: "1"}, {Pattern: regexp.MustCompile("a"), Stdout: "2"}}, ""},
		{dict(starlark.String("("), starlark.String("")), nil, "missing closing )"},
		{dict(starlark.String("x"), starlark.MakeInt(1)), nil, "want a string (stdout) or struct"},
		{dict(starlark.String("x"), dict(starlark.String("code"), starlark.MakeInt(1))), nil, `unknown field "code"`},
	} {
		got, err := parseResponses(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseResponses(%v) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("parseResponses(%v) = %v, %v", tc.in, got, err)
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.Pattern.String() != w.Pattern.String() || g.Stdout != w.Stdout || g.Stderr != w.Stderr || g.Exit != w.Exit {
				t.Errorf("response %d = %+v, want %+v", i, g, w)
			}
		}
	}
}

func TestStringList(t *testing.T) {
	for _, tc := range []struct {
		in   starlark.Value
		want []string
	}{
		{starlark.None, nil},
		{starlark.String("a, b,,c"), []string{"a", "b", "c"}},
		{starlark.NewList([]starlark.Value{starlark.String("x"), starlark.String("y")}), []string{"x", "y"}},
	} {
		if got, err := stringList(tc.in); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("stringList(%v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := stringList(starlark.MakeInt(1)); err == nil {
		t.Error("stringList(1) did not fail")
	}
}

// TestRunReports runs a test file against a planner that records one
// command, and checks what a user sees: file:line of failures, -run, the
// summary.
func TestRunReports(t *testing.T) {
	dir := t.TempDir()
	src := `def test_ok():
    p = plan("deploy", "x", hosts = ["h1"], options = {"skip_push": True})
    assert.eq(p.commands("h1"), ["deploy x --version=test --hosts=h1 --skip-push"])
    assert.eq(p.error, None)

def test_bad():
    assert.eq(1, 2)
    assert.contains("abc", "z")

def test_error():
    p = plan("deploy", responses = {"fail": "x"})
    assert.eq(p.error, "boom")
    fail("stop here")

def helper(x):
    return x
`
	if err := os.WriteFile(filepath.Join(dir, "deploy_test.star"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := func(ctx context.Context, req PlanRequest) (*Plan, error) {
		rec := &executor.Recording{}
		line := strings.Join(append(append([]string{req.Command}, req.Args...), req.Flags...), " ")
		rec.Run(ctx, executor.Command{Host: "h1", Line: line})
		p := &Plan{Rec: rec}
		if len(req.Responses) > 0 {
			p.Err = "boom"
		}
		return p, nil
	}
	for _, tc := range []struct {
		name    string
		match   string
		verbose bool
		want    []string
		failed  int
	}{
		{"all", "", false, []string{
			"--- FAIL: test_bad (",
			"    " + dir + "/deploy_test.star:7: 1 != 2\n",
			"    " + dir + "/deploy_test.star:8: abc does not contain z\n",
			"--- FAIL: test_error (",
			"    " + dir + "/deploy_test.star:13: stop here\n",
			"FAIL\t" + dir + "/deploy_test.star\t",
			"FAIL: 2 of 3 tests failed\n",
		}, 2},
		{"run", "ok", true, []string{"=== RUN   test_ok\n", "--- PASS: test_ok (", "ok  \t", "PASS: 1 tests in 1 files\n"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			opts := Options{ConfigDir: dir, Out: &out, Plan: plan, Verbose: tc.verbose}
			if tc.match != "" {
				opts.Match = regexp.MustCompile(tc.match)
			}
			sum, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != tc.failed {
				t.Errorf("failed = %d, want %d", sum.Failed, tc.failed)
			}
			at := 0
			for _, w := range tc.want {
				i := strings.Index(out.String()[at:], w)
				if i < 0 {
					t.Fatalf("output lacks %q after offset %d:\n%s", w, at, out.String())
				}
				at += i + len(w)
			}
		})
	}
}
