package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/fleetsim"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/sshpool"
)

// event is what the tests read back from the JSON stream.
type event map[string]any

// parseStream checks that every line of out is one JSON event with
// schema, time (RFC 3339 with nanoseconds) and type, that exactly one is
// a result and that it comes last; it returns the events.
func parseStream(t reporter, out string) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is no JSON: %v\n%s", n, err, sc.Text())
		}
		if e["schema"] != float64(output.Schema) {
			t.Errorf("line %d: schema %v", n, e["schema"])
		}
		ts, _ := e["time"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !regexp.MustCompile(`\.\d{9}`).MatchString(ts) {
			t.Errorf("line %d: time %q is not RFC 3339 with nanoseconds", n, ts)
		}
		if e["type"] == nil {
			t.Errorf("line %d: no type", n)
		}
		evs = append(evs, e)
	}
	results := 0
	for i, e := range evs {
		if e["type"] == "result" {
			results++
			if i != len(evs)-1 {
				t.Errorf("the result is event %d of %d, not the last", i+1, len(evs))
			}
		}
	}
	if results != 1 {
		t.Fatalf("%d result events, want 1:\n%s", results, out)
	}
	return evs
}

func ofType(evs []event, typ string) []event {
	var out []event
	for _, e := range evs {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestJSONDeploy deploys to two simulated hosts with --output json -v: the
// stream has steps, commands, a host_result per host with the switch's
// timings and one result; a secret is nowhere (the sandbox scenario checks
// the registry password).
func TestJSONDeploy(t *testing.T) {
	const password = "s3cret-app-value"
	t.Setenv("APP_SECRET", password)
	simFleetWith(t, 2, "env:\n  secret: [APP_SECRET]\n")
	out, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1", "--output", "json", "-v")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if strings.Contains(out+errOut, password) {
		t.Fatal("the registry password is in the output")
	}
	if !strings.Contains(errOut, "== Boot v1") {
		t.Errorf("the text for people is not on stderr:\n%s", errOut)
	}
	evs := parseStream(t, out)
	if len(ofType(evs, "step")) == 0 || ofType(evs, "step")[0]["title"] == "" {
		t.Error("no step event with a title")
	}
	cmds := ofType(evs, "command")
	if len(cmds) == 0 {
		t.Fatal("no command events with -v")
	}
	for _, c := range cmds {
		if c["host"] == nil || c["cmd"] == "" || c["exit"] == nil || c["duration_ms"] == nil {
			t.Errorf("command event lacks a field: %v", c)
		}
	}
	hrs := ofType(evs, "host_result")
	if len(hrs) != 2 {
		t.Fatalf("%d host_result events, want 2", len(hrs))
	}
	for _, h := range hrs {
		if h["ok"] != true || h["version"] != "v1" || h["healthy_ms"] == nil || h["routed_ms"] == nil {
			t.Errorf("host_result %v: want ok, v1, healthy_ms and routed_ms", h)
		}
	}
	r := ofType(evs, "result")[0]
	if r["ok"] != true || r["command"] != "deploy" || r["version"] != "v1" || r["exit_code"] != float64(0) || len(r["hosts"].([]any)) != 2 || r["duration_ms"] == nil {
		t.Errorf("result %v", r)
	}
	if _, ok := r["error"]; ok {
		t.Errorf("a successful result has an error: %v", r)
	}
}

// TestJSONReadOnlyData: read-only commands put structured data in the
// result, not text.
func TestJSONReadOnlyData(t *testing.T) {
	fleet := simFleetWith(t, 2, "")
	if _, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1"); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, errOut)
	}
	if _, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v2"); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, errOut)
	}
	h1 := fleet.Addrs()[0]
	data := func(args ...string) any {
		t.Helper()
		out, errOut, code := mrskRun(append(args, "--output", "json")...)
		if code != 0 {
			t.Fatalf("mrsk %v: exit %d\n%s", args, code, errOut)
		}
		evs := parseStream(t, out)
		return ofType(evs, "result")[0]["data"]
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	containers := data("app", "containers").(map[string]any)[h1].([]any)
	if len(containers) != 2 || containers[0].(map[string]any)["version"] != "v2" || containers[1].(map[string]any)["state"] == "running" {
		t.Errorf("app containers: %s", js(containers))
	}
	if v := data("app", "version"); js(v) != fmt.Sprintf(`{%q:["v2"],%q:["v2"]}`, fleet.Addrs()[0], fleet.Addrs()[1]) {
		t.Errorf("app version: %s", js(v))
	}
	info := data("info").(map[string]any)
	if app := info["app"].(map[string]any)[h1].([]any); len(app) != 1 || app[0].(map[string]any)["name"] != "sim-web-v2" {
		t.Errorf("info app: %s", js(info))
	}
	if _, ok := info["traefik"].(map[string]any)[h1]; !ok {
		t.Errorf("info has no traefik for %s: %s", h1, js(info))
	}
	if v := data("lock", "status"); js(v) != `{"locked":false}` {
		t.Errorf("lock status: %s", js(v))
	}
	if _, errOut, code := mrskRun("lock", "acquire", "-m", "maintenance"); code != 0 {
		t.Fatalf("lock acquire: %s", errOut)
	}
	lock := data("lock", "status").(map[string]any)
	if lock["locked"] != true || lock["message"] != "maintenance" || lock["locked_by"] == nil || lock["at"] == nil {
		t.Errorf("lock status: %s", js(lock))
	}
	audit := data("audit").(map[string]any)[h1].([]any)
	if len(audit) < 2 || !strings.Contains(audit[len(audit)-1].(string), "deployed v2") {
		t.Errorf("audit: %s", js(audit))
	}
	cfg := data("config").(map[string]any)
	if cfg["service"] != "sim" || cfg["servers"] == nil && cfg["roles"] == nil {
		t.Errorf("config: %s", js(cfg))
	}
}

// simFleetWith is simFleet with extra deploy.yml lines (fleet_test.go).
func simFleetWith(t *testing.T, n int, extra string) *fleetsim.Fleet {
	t.Helper()
	fleet, proj := simFleet(t, fleetsim.Options{Hosts: n})
	if extra != "" {
		f, err := os.OpenFile(filepath.Join(proj.Dir, "config", "deploy.yml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(extra)
		f.Close()
	}
	return fleet
}

// TestExitCodes runs one command per documented exit code, on simulated
// hosts, and checks the code and the JSON result's exit_code agree.
func TestExitCodes(t *testing.T) {
	fleet := simFleetWith(t, 2, "")
	t.Setenv("CI", "true") // no terminal to ask on, whatever runs the test
	if _, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1"); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, errOut)
	}
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base, err := os.ReadFile("config/deploy.yml")
	if err != nil {
		t.Fatal(err)
	}
	write("config/unhealthy.yml", string(base)+"env:\n  clear:\n    UNHEALTHY: \"1\"\n")
	write("config/typo.yml", string(base)+"helthcheck: {}\n")
	write("config/unreachable.yml", strings.Replace(string(base), fleet.Addrs()[1], "127.0.0.1:1", 1))
	os.MkdirAll(".mrsk/hooks", 0o755)

	for _, tc := range []struct {
		name  string
		setup func()
		args  []string
		want  int
		check func(r event, evs []event)
	}{
		{name: "ok", args: []string{"app", "version"}, want: exitOK},
		{name: "usage: unknown flag", args: []string{"deploy", "--no-such-flag"}, want: exitUsage},
		{name: "usage: remove needs -y without a terminal", args: []string{"remove"}, want: exitUsage,
			check: func(r event, _ []event) {
				if !strings.Contains(r["error"].(string), "-y") {
					t.Errorf("error %q does not name -y", r["error"])
				}
			}},
		{name: "config", args: []string{"deploy", "--skip-push", "--version", "v2", "-c", "config/typo.yml"}, want: exitConfig},
		{name: "connect", args: []string{"deploy", "--skip-push", "--version", "v2", "-c", "config/unreachable.yml"}, want: exitConnect},
		{name: "lock held",
			setup: func() { mrskRun("lock", "acquire", "-m", "hold on") },
			args:  []string{"deploy", "--skip-push", "--version", "v2"}, want: exitLocked,
			check: func(r event, _ []event) {
				if !strings.Contains(r["error"].(string), "deploy lock found") {
					t.Errorf("error %q", r["error"])
				}
				mrskRun("lock", "release")
			}},
		{name: "unhealthy: the old version still serves", args: []string{"deploy", "--skip-push", "--version", "v3", "-c", "config/unhealthy.yml"}, want: exitUnhealthy,
			check: func(r event, evs []event) {
				for _, h := range ofType(evs, "host_result") {
					if h["ok"] != false || h["version"] != "v1" {
						t.Errorf("host_result %v: want ok false, still v1", h)
					}
				}
				if !strings.Contains(r["error"].(string), "did not become healthy") {
					t.Errorf("error %q", r["error"])
				}
			}},
		{name: "other failure: a hook fails",
			setup: func() { write(".mrsk/hooks/pre-deploy", "#!/bin/sh\nexit 7\n") },
			args:  []string{"deploy", "--skip-push", "--version", "v2"}, want: exitFailed,
			check: func(event, []event) { os.Remove(".mrsk/hooks/pre-deploy") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			out, errOut, code := mrskRun(append(tc.args, "--output", "json")...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, errOut)
			}
			evs := parseStream(t, out)
			r := ofType(evs, "result")[0]
			if r["exit_code"] != float64(tc.want) || (r["ok"] == true) != (tc.want == 0) {
				t.Errorf("result %v", r)
			}
			if tc.want != 0 && r["error"] == "" {
				t.Errorf("a failed result has no error: %v", r)
			}
			if tc.check != nil {
				tc.check(r, evs)
			}
		})
	}
	for _, h := range fleet.Hosts() {
		if got := running(h); strings.Join(got, " ") != "sim-web-v1 traefik" {
			t.Errorf("%s runs %v after the failures, want v1 still", h.Addr(), got)
		}
	}
}

// TestExitCodeInterrupted: Ctrl-C (SIGINT) exits 130 after undoing.
func TestExitCodeInterrupted(t *testing.T) {
	simFleetWith(t, 1, "")
	os.MkdirAll(".mrsk/hooks", 0o755)
	os.WriteFile(".mrsk/hooks/pre-connect", []byte("#!/bin/sh\necho waiting\nsleep 20\n"), 0o755)
	cmd := exec.Command("mrsk", "deploy", "--skip-push", "--version", "v1", "--output", "json")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "waiting") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("got %v, want exit %d\n%s", err, exitInterrupted, errOut.String())
	}
	r := ofType(parseStream(t, out.String()), "result")[0]
	if r["exit_code"] != float64(exitInterrupted) {
		t.Errorf("result %v", r)
	}
}

// TestExitCodeOf classifies typed errors, however deeply wrapped.
func TestExitCodeOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("flow: %w", reported{fmt.Errorf("step: %w", err)}) }
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("anything"), exitFailed},
		{wrap(&usageError{"x"}), exitUsage},
		{wrap(&config.Error{File: "f", Msg: "m"}), exitConfig},
		{wrap(&configError{errors.New("deploy.star")}), exitConfig},
		{wrap(&sshpool.ConnectError{Host: "h", Err: errors.New("refused")}), exitConnect},
		{wrap(&builtins.UnreachableError{Errs: []error{errors.New("x")}}), exitConnect},
		{wrap(&builtins.LockHeldError{Host: "h"}), exitLocked},
		{wrap(&builtins.UnhealthyError{Host: "h", Cause: errors.New("503")}), exitUnhealthy},
		{wrap(&interruptedError{errors.New("context canceled")}), exitInterrupted},
		// Ctrl-C wins over what it caused.
		{&interruptedError{&builtins.UnhealthyError{Host: "h", Cause: errors.New("x")}}, exitInterrupted},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestLiveViewOnATerminal deploys in a pty: the live view draws and erases
// its status lines (batch 1 of 2 with boot.limit 1); the same deploy
// through a pipe, or with --no-progress, prints no escape sequence.
func TestLiveViewOnATerminal(t *testing.T) {
	simFleetWith(t, 2, "boot:\n  limit: 1\n  wait: 1\n")
	cmd := exec.Command("mrsk", "deploy", "--skip-push", "--version", "v1")
	cmd.Env = append(os.Environ(), "TERM=xterm", "CI=", "GITHUB_ACTIONS=")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() { screen.ReadFrom(f); close(done) }()
	err = cmd.Wait()
	<-done
	f.Close()
	if err != nil {
		t.Fatalf("deploy in a pty: %v\n%s", err, screen.String())
	}
	s := screen.String()
	for _, want := range []string{"\x1b[J", "batch 1 of 2", "batch 2 of 2", "== Boot v1", "deployed v1"} {
		if !strings.Contains(s, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, s)
		}
	}

	for _, args := range [][]string{
		{"deploy", "--skip-push", "--version", "v2"},
		{"deploy", "--skip-push", "--version", "v3", "--no-progress"},
	} {
		cmd := exec.Command("mrsk", args...)
		cmd.Env = append(os.Environ(), "TERM=xterm")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, b)
		}
		if bytes.Contains(b, []byte("\x1b")) || bytes.Contains(b, []byte("batch 1 of 2")) {
			t.Errorf("%v through a pipe printed the live view:\n%q", args, b)
		}
	}
}

// TestGitHubActionsGroups: each step is a ::group::, closed before the
// next and at the end.
func TestGitHubActionsGroups(t *testing.T) {
	simFleetWith(t, 1, "")
	t.Setenv("GITHUB_ACTIONS", "true")
	out, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	opened := strings.Count(out, "::group::")
	if opened < 3 || opened != strings.Count(out, "::endgroup::") {
		t.Errorf("%d groups opened, %d closed:\n%s", opened, strings.Count(out, "::endgroup::"), out)
	}
	if !regexp.MustCompile(`(?m)^::group::Boot v1 on web.*\n== Boot v1 on web`).MatchString(out) {
		t.Errorf("the boot step is not a group:\n%s", out)
	}
}

// TestCompletionBash sources `mrsk completion bash` in bash and completes
// as bash would (COMP_LINE, COMP_POINT): a command, a flag, and a role
// name from the project's deploy.yml; the zsh and fish scripts load.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "config"), 0o755)
	os.WriteFile(filepath.Join(dir, "config", "deploy.yml"), []byte("service: app\nimage: me/app\nservers:\n  web: [10.0.0.1]\n  workers:\n    hosts: [10.0.0.2]\naccessories:\n  db: {image: mysql, host: 10.0.0.3}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config", "deploy.staging.yml"), []byte("servers: [10.9.9.1]\n"), 0o644)
	t.Chdir(dir)
	script := func(shell string) string {
		b, err := exec.Command("mrsk", "completion", shell).Output()
		if err != nil {
			t.Fatalf("mrsk completion %s: %v", shell, err)
		}
		f := filepath.Join(dir, "completion."+shell)
		os.WriteFile(f, b, 0o644)
		return f
	}
	bashScript := script("bash")
	complete := func(line string) []string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		arr := ""
		for _, w := range words {
			arr += fmt.Sprintf("%q ", w)
		}
		prog := fmt.Sprintf(`source %q
COMP_LINE=%q; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(%s); COMP_CWORD=%d
_mrsk_complete
printf '%%s\n' "${COMPREPLY[@]}"`, bashScript, line, arr, len(words)-1)
		b, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, b)
		}
		return strings.Fields(string(b))
	}
	for _, tc := range []struct{ line, want string }{
		{"mrsk depl", "deploy"},
		{"mrsk deploy --skip-p", "--skip-push"},
		{"mrsk deploy --roles wo", "workers"},
		{"mrsk app boot -r ", "web workers"},
		{"mrsk deploy -d ", "staging"},
		{"mrsk accessory boot ", "all db"},
	} {
		got := complete(tc.line)
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
	for _, shell := range []string{"zsh", "fish"} {
		f := script(shell)
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("no %s here: its script is not checked", shell)
			continue
		}
		if b, err := exec.Command(shell, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, b)
		}
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		// Loading (not only parsing) runs bashcompinit and registers it.
		prog := fmt.Sprintf("autoload -U compinit && compinit -u; source %q && (( $+functions[_mrsk_complete] )) && echo loaded", filepath.Join(dir, "completion.zsh"))
		if b, err := exec.Command(zsh, "-f", "-c", prog).CombinedOutput(); err != nil || !strings.Contains(string(b), "loaded") {
			t.Errorf("zsh does not load the script: %v\n%s", err, b)
		}
	}
}

// Testscript commands of the CI scenarios (registered in commands()).
//
//	jsonstream FILE                 every line of FILE is an event, exactly one result, last
//	jsonevent FILE key=value...     some event of FILE has these fields ("ok=false", "exit_code=6", "type=result")
//	envfile NAME FILE               sets NAME to the content of FILE (a key from a CI secret store)
//	nokeymaterial KEYFILE DIR...    no file under DIRs changed since the scenario began holds KEYFILE's key
func ciCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	started := time.Now()
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"jsonstream": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: jsonstream FILE")
			}
			parseStream(scriptTB{ts}, ts.ReadFile(args[0]))
		},
		"jsonevent": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: jsonevent FILE key=value...")
			}
			found := false
			for _, line := range strings.Split(strings.TrimSpace(ts.ReadFile(args[0])), "\n") {
				var e event
				if json.Unmarshal([]byte(line), &e) != nil {
					continue
				}
				all := true
				for _, kv := range args[1:] {
					k, v, _ := strings.Cut(kv, "=")
					got, ok := e[k]
					s, isString := got.(string)
					if !isString {
						b, _ := json.Marshal(got)
						s = string(b)
					}
					if !ok || s != v {
						all = false
						break
					}
				}
				found = found || all
			}
			if found == neg {
				ts.Fatalf("event with %v found: %v", args[1:], found)
			}
		},
		"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: envfile NAME FILE")
			}
			b, err := os.ReadFile(ts.MkAbs(args[1]))
			ts.Check(err)
			ts.Setenv(args[0], strings.TrimRight(string(b), "\n"))
		},
		"nokeymaterial": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: nokeymaterial KEYFILE DIR...")
			}
			key, err := os.ReadFile(ts.MkAbs(args[0]))
			ts.Check(err)
			var body []string // the key's base64 lines
			for _, l := range strings.Split(string(key), "\n") {
				if l = strings.TrimSpace(l); len(l) >= 32 && !strings.HasPrefix(l, "-----") {
					body = append(body, l)
				}
			}
			for _, dir := range args[1:] {
				filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
					if err != nil {
						return nil // unreadable or gone: others' files
					}
					if !d.Type().IsRegular() {
						return nil
					}
					info, err := d.Info()
					if err != nil || info.ModTime().Before(started) || info.Size() > 8<<20 {
						return nil
					}
					b, err := os.ReadFile(path)
					if err != nil {
						return nil
					}
					for _, l := range body {
						if bytes.Contains(b, []byte(l)) {
							ts.Fatalf("%s holds the private key", path)
						}
					}
					return nil
				})
			}
		},
	}
}

// reporter is what parseStream needs of a testing.TB.
type reporter interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// scriptTB lets parseStream report through a testscript.
type scriptTB struct{ ts *testscript.TestScript }

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptTB) Errorf(format string, args ...any) { s.ts.Fatalf(format, args...) }

// TestPipelineFiles: examples/ci's files are valid YAML, and the mrsk
// commands they run are exactly those the pipeline scenario
// (testdata/scripts/e2e/pipeline.txtar) runs against the sandbox.
func TestPipelineFiles(t *testing.T) {
	root := repoRoot(t)
	scenario, err := os.ReadFile(filepath.Join(root, "testdata", "scripts", "e2e", "pipeline.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, line := range strings.Split(string(scenario), "\n") {
		if cmd, ok := strings.CutPrefix(line, "exec mrsk "); ok {
			want["mrsk "+cmd] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("the pipeline scenario runs no mrsk command")
	}
	for _, name := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "ci", name))
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]bool{}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, v := range x {
					walk(k, v)
				}
			case []any:
				for _, v := range x {
					walk(key, v)
				}
			case string:
				// Shell lines: GitHub's run, GitLab's script.
				if key != "run" && key != "script" && key != "before_script" {
					return
				}
				for _, line := range strings.Split(x, "\n") {
					line = strings.TrimSpace(line)
					if !strings.HasPrefix(line, "mrsk ") {
						continue
					}
					// The scenario keeps stdout itself (cp stdout): the
					// redirect and the shell's quotes are the file's own.
					line, _, _ = strings.Cut(line, " > ")
					got[strings.ReplaceAll(line, `"`, "")] = true
				}
			}
		}
		walk("", doc)
		if !maps.Equal(got, want) {
			t.Errorf("%s runs %v; the pipeline scenario runs %v", name, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}
}
