package main

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mrsk": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)) },
	})
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// TestScripts runs the scenarios that need no hosts: init, config, dry-run
// plans of every command, and bad input.
func TestScripts(t *testing.T) {
	root := repoRoot(t)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(root, "testdata", "scripts"),
		Setup:               setup(root),
		Cmds:                commands(root),
		RequireExplicitExec: true,
	})
}

// TestSandbox runs the end-to-end scenarios against the sandbox hosts (real
// sshd, Docker engines, registry and Traefik). scripts/test starts the
// sandbox; without it these are skipped, unless MRSK_E2E=1 demands them.
func TestSandbox(t *testing.T) {
	root := repoRoot(t)
	state := sandboxState()
	if _, err := os.Stat(filepath.Join(state, "env")); err != nil {
		if os.Getenv("MRSK_E2E") == "1" {
			t.Fatalf("MRSK_E2E=1 but no sandbox at %s: run sandbox/sandbox.sh up", state)
		}
		t.Skipf("no sandbox at %s (run sandbox/sandbox.sh up 3)", state)
	}
	// The scenarios share the sandbox hosts (and Traefik on port 80), so
	// they run one at a time, each on hosts reset to empty.
	var mu sync.Mutex
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join(root, "testdata", "scripts", "e2e"),
		Setup: func(e *testscript.Env) error {
			mu.Lock()
			e.Defer(mu.Unlock)
			// Other test processes (another package, a second go test)
			// may use the sandbox too: hold a file lock as well.
			unlock, err := lockFile(filepath.Join(sandboxState(), "test.lock"))
			if err != nil {
				return err
			}
			e.Defer(unlock)
			// How long each scenario held the sandbox, for scripts/test's
			// summary (go test shows no log of a passing test).
			start := time.Now()
			e.Defer(func() {
				noteDuration(filepath.Join(sandboxState(), "e2e-times"), strings.TrimPrefix(filepath.Base(e.WorkDir), "script-"), time.Since(start))
			})
			if err := resetSandbox(root, e.Getenv); err != nil {
				return err
			}
			if err := setup(root)(e); err != nil {
				return err
			}
			// `pebble orders` counts from here: what this scenario caused.
			markPebbleLog(e)
			return nil
		},
		Cmds:                commands(root),
		RequireExplicitExec: true,
	})
}

// noteDuration appends "SECONDS NAME" to file; a failure to write only
// loses the line.
func noteDuration(file, name string, d time.Duration) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%6.1f %s\n", d.Seconds(), name)
	f.Close()
}

// resetSandbox removes every container and mrsk's state from each sandbox
// host, so a scenario never sees what an earlier (maybe failed) one left.
func resetSandbox(root string, _ func(string) string) error {
	b, err := os.ReadFile(filepath.Join(sandboxState(), "env"))
	if err != nil {
		return err
	}
	// The hosts at once: a reset is mostly waiting on each engine.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		runtime := map[string]string{"MRSK_SANDBOX_HOSTS": "docker", "MRSK_SANDBOX_PODMAN_HOSTS": "podman"}[k]
		if runtime == "" || strings.TrimSpace(v) == "" {
			continue
		}
		for _, ip := range strings.Split(strings.TrimSpace(v), ",") {
			n := sandboxHostNumber(ip)
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(filepath.Join(root, "sandbox", "sandbox.sh"), "exec", n, "sh", "-c",
					`ids=$(`+runtime+` ps -aq); [ -z "$ids" ] || `+runtime+` rm -f $ids >/dev/null; rm -rf /root/.mrsk`)
				if out, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("reset sandbox host %s (%s): %v\n%s", n, ip, err, out))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sandboxHostNumber is N of sandbox host hN at 10.77.0.(10+N).
func sandboxHostNumber(ip string) string {
	n, _ := strconv.Atoi(ip[strings.LastIndexByte(ip, '.')+1:])
	return strconv.Itoa(n - 10)
}

// lockFile takes an exclusive flock on path, waiting for it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func sandboxState() string {
	if s := os.Getenv("MRSK_SANDBOX_STATE"); s != "" {
		return s
	}
	return "/var/lib/mrsk-sandbox"
}

func setup(root string) func(*testscript.Env) error {
	return func(e *testscript.Env) error {
		home := filepath.Join(e.WorkDir, "home")
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		e.Setenv("HOME", home)
		e.Setenv("USER", "tester")
		e.Setenv("MRSK_ROOT", root)
		e.Setenv("GOCACHE", goEnv("GOCACHE"))
		e.Setenv("GOMODCACHE", goEnv("GOMODCACHE"))
		e.Setenv("GOFLAGS", "-mod=mod")
		e.Setenv("GOPROXY", "off")
		// Git identity for scripts that commit (version = HEAD sha).
		e.Setenv("GIT_AUTHOR_NAME", "Tester")
		e.Setenv("GIT_AUTHOR_EMAIL", "tester@example.com")
		e.Setenv("GIT_COMMITTER_NAME", "Tester")
		e.Setenv("GIT_COMMITTER_EMAIL", "tester@example.com")
		if b, err := os.ReadFile(filepath.Join(sandboxState(), "env")); err == nil {
			sc := bufio.NewScanner(strings.NewReader(string(b)))
			for sc.Scan() {
				if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k != "" && !strings.HasPrefix(k, "#") {
					e.Setenv(k, v)
				}
			}
			hosts := strings.Split(e.Getenv("MRSK_SANDBOX_HOSTS"), ",")
			for i, h := range hosts {
				e.Setenv(fmt.Sprintf("H%d", i+1), h)
				e.Setenv(fmt.Sprintf("SANDBOX_HOST_%d", i+1), h)
			}
			// Podman hosts: P1, P2... and PN1... their sandbox numbers.
			if ph := e.Getenv("MRSK_SANDBOX_PODMAN_HOSTS"); ph != "" {
				for i, h := range strings.Split(ph, ",") {
					e.Setenv(fmt.Sprintf("P%d", i+1), h)
					e.Setenv(fmt.Sprintf("PN%d", i+1), sandboxHostNumber(h))
				}
			}
		}
		return nil
	}
}

func goEnv(key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func commands(root string) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"load": loadCmd(), // load_test.go: load start NAME URL [WORKERS] [-resolve NAME:IP] [-root FILE] | load stop NAME MIN
		// pebble root FILE | pebble mark | pebble orders NAME (https_test.go):
		// the sandbox ACME server's issuing root, and the orders (challenges
		// validated) and certificates for NAME in its log since the scenario
		// started or the last mark.
		"pebble": pebbleCmd(),
		// httpsget [-resolve NAME:IP] [-root FILE] [-host NAME] [-noredirect] URL
		// prints the body and a line "cert CN=... SAN=a,b issuer=..." of the
		// served certificate, verified against FILE (never skipped); retries
		// connection and certificate errors for up to 10s (a fresh Traefik
		// serves its default certificate until its ACME order completes);
		// fails on a non-2xx answer (with -noredirect a 3xx prints
		// "STATUS LOCATION" and passes).
		"httpsget": getCmd("httpsget", 10*time.Second, true),
		// example NAME copies examples/NAME into the work directory.
		"example": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: example NAME")
			}
			src := filepath.Join(root, "examples", args[0])
			out, err := exec.Command("cp", "-a", src+"/.", ts.MkAbs(".")).CombinedOutput()
			if err != nil {
				ts.Fatalf("copy example: %v\n%s", err, out)
			}
		},
		// httpget [-resolve NAME:IP] [-host NAME] [-noredirect] URL prints
		// the body of a GET (retrying connection errors for up to 5s); fails
		// on a non-2xx answer. -noredirect prints "STATUS LOCATION" for a
		// 3xx instead of following it (and passes); -host sets the Host
		// header; -resolve dials NAME at IP (see https_test.go).
		"httpget": getCmd("httpget", 5*time.Second, false),
		// logmark NAME FILE remembers FILE's current size; lognew NAME FILE
		// REGEXP then matches only lines written after the mark.
		"logmark": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: logmark NAME FILE")
			}
			st, err := os.Stat(args[1])
			size := int64(0)
			if err == nil {
				size = st.Size()
			}
			ts.Setenv("LOGMARK_"+args[0], fmt.Sprint(size))
		},
		"lognew": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 3 {
				ts.Fatalf("usage: lognew NAME FILE REGEXP")
			}
			var from int64
			fmt.Sscan(ts.Getenv("LOGMARK_"+args[0]), &from)
			b, err := os.ReadFile(args[1])
			ts.Check(err)
			if from > int64(len(b)) {
				from = 0
			}
			re, err := regexp.Compile(args[2])
			ts.Check(err)
			found := re.Find(b[from:])
			if (found != nil) == neg {
				if neg {
					ts.Fatalf("%s: new lines match %q: %s", args[1], args[2], found)
				}
				ts.Fatalf("%s: no new line matches %q", args[1], args[2])
			}
		},
		// sandboxput N FILE PATH writes the work directory's FILE to PATH
		// inside sandbox host N (its /tmp and /root are its own: a host
		// does not see the work directory).
		"sandboxput": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 3 || neg {
				ts.Fatalf("usage: sandboxput N FILE PATH")
			}
			f, err := os.Open(ts.MkAbs(args[1]))
			ts.Check(err)
			defer f.Close()
			cmd := exec.Command(filepath.Join(root, "sandbox", "sandbox.sh"), "exec", args[0],
				"sh", "-c", `mkdir -p "$(dirname "$1")" && cat >"$1"`, "sh", args[2])
			cmd.Stdin = f
			if out, err := cmd.CombinedOutput(); err != nil {
				ts.Fatalf("sandboxput %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		},
		// sandbox N CMD... runs CMD inside sandbox host N.
		"sandbox": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: sandbox N CMD...")
			}
			cmd := exec.Command(filepath.Join(root, "sandbox", "sandbox.sh"), append([]string{"exec"}, args...)...)
			cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
			err := cmd.Run()
			if (err != nil) != neg {
				ts.Fatalf("sandbox %s: %v", strings.Join(args, " "), err)
			}
		},
		"fault": faultCmd(root), // fault_test.go: fault injection for the e2e/fault_* scenarios
		// localregistry_test.go: registry.server local's checks
		"listeners": listenersCmd(root),
		"pullbytes": pullbytesCmd(),
	}
	maps.Copy(cmds, ciCmds()) // ci_test.go: the JSON stream, keys from the environment
	return cmds
}
