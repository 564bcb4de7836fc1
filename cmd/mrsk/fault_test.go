package main

// Fault injection for the sandbox scenarios (testdata/scripts/e2e/fault_*):
// one testscript command, `fault`, with these subcommands.
//
//	fault bg NAME ARGS...            start `mrsk ARGS...` in the background; its
//	                                 output is watched as it arrives. The script's
//	                                 env is passed on (the setup's variables, and
//	                                 every FAULT_* set with `env`).
//	fault sigint-when [-n N] [-after DUR] [-timeout DUR] NAME REGEXP
//	                                 send SIGINT to NAME once its output (stdout
//	                                 and stderr) has N lines matching REGEXP
//	                                 (default 1), DUR after the match.
//	fault when [-n N] [-timeout DUR] NAME REGEXP
//	                                 wait until NAME's output matches (no signal).
//	fault sigint NAME                send SIGINT to NAME now.
//	[!] fault wait NAME              wait for NAME (at most 2 minutes); its output
//	                                 becomes the command's stdout and stderr; ! expects
//	                                 a non-zero exit. Prints how long NAME ran.
//	fault until N[,N...] [-timeout DUR] SHELL
//	                                 run SHELL (sh -c) in sandbox host N every 100ms
//	                                 until it exits 0; several hosts are polled at
//	                                 once, each until it held there.
//	fault dockerd kill|term|freeze|thaw|start N
//	                                 SIGKILL (a crash), SIGTERM (an orderly stop:
//	                                 dockerd then stops every container), SIGSTOP (a
//	                                 hung daemon), SIGCONT, or restart host N's
//	                                 dockerd with the same arguments as before, wait
//	                                 until it answers, and run the units enabled in
//	                                 docker.service.wants as systemd would. A dockerd left stopped,
//	                                 killed or frozen is restarted (thawed) when the
//	                                 script ends, pass or fail.
//	fault sshd-drop N [REGEXP]       SIGKILL every per-connection sshd process in
//	                                 host N (the listener stays): the TCP
//	                                 connections mrsk holds to N drop. With
//	                                 REGEXP, first wait (10s at most) until a
//	                                 process whose command line matches REGEXP runs
//	                                 in the host (a command mrsk started).
//	fault block N PORT [DEST]        drop (iptables, in host N) new and established
//	                                 TCP packets the host sends to PORT (on DEST);
//	                                 `fault unblock N PORT [DEST]` removes the rule.
//	                                 Rules left are removed when the script ends.
//	fault reset N PORT / unreset N PORT
//	                                 answer incoming TCP to host N's PORT with a
//	                                 reset (iptables REJECT --reject-with tcp-reset).
//	fault state N [SERVICE]          print one line per route file in host N
//	                                 ("route KEY -> NAME running|exited|MISSING") and
//	                                 per container ("container NAME STATUS"); fails
//	                                 when a route names a container that is not
//	                                 running: nothing a route file names may be
//	                                 removed or stopped.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// bgProc is a background mrsk whose output can be read while it runs.
type bgProc struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error
	ended   time.Time

	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	all            bytes.Buffer // both, in arrival order
	timed          bytes.Buffer // both, each write marked with the time since the start
}

type bgWriter struct {
	p   *bgProc
	buf *bytes.Buffer
}

func (w bgWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.buf.Write(b)
	w.p.all.Write(b)
	at := fmt.Sprintf("%6.2fs ", time.Since(w.p.started).Seconds())
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			w.p.timed.WriteString(at + l)
		}
	}
	return len(b), nil
}

func (p *bgProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.String()
}

func (p *bgProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// faultState is per script: its background processes, and what to undo.
type faultState struct {
	mu    sync.Mutex
	procs map[string]*bgProc
}

func faultCmd(root string) func(ts *testscript.TestScript, neg bool, args []string) {
	var mu sync.Mutex
	states := map[*testscript.TestScript]*faultState{}
	stateOf := func(ts *testscript.TestScript) *faultState {
		mu.Lock()
		defer mu.Unlock()
		st := states[ts]
		if st == nil {
			st = &faultState{procs: map[string]*bgProc{}}
			states[ts] = st
			ts.Defer(func() {
				st.mu.Lock()
				procs := st.procs
				st.mu.Unlock()
				// A scenario that failed half-way may leave a deploy running:
				// interrupt it (its cleanup releases the lock), then kill it.
				for _, p := range procs {
					if !p.exited() {
						p.cmd.Process.Signal(os.Interrupt)
						select {
						case <-p.done:
						case <-time.After(45 * time.Second):
							p.cmd.Process.Kill()
							<-p.done
						}
					}
				}
				mu.Lock()
				delete(states, ts)
				mu.Unlock()
			})
		}
		return st
	}
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 {
			ts.Fatalf("usage: fault bg|sigint-when|sigint|wait|until|dockerd|sshd-drop|block|unblock|reset|unreset|state ...")
		}
		sub, args := args[0], args[1:]
		if neg && sub != "wait" && sub != "state" {
			ts.Fatalf("fault %s does not support !", sub)
		}
		st := stateOf(ts)
		switch sub {
		case "bg":
			faultBg(ts, st, args)
		case "sigint-when":
			faultWhen(ts, st, args, true)
		case "when":
			faultWhen(ts, st, args, false)
		case "sigint":
			if len(args) != 1 {
				ts.Fatalf("usage: fault sigint NAME")
			}
			p := st.proc(ts, args[0])
			ts.Check(p.cmd.Process.Signal(os.Interrupt))
			ts.Logf("SIGINT to %s after %.1fs", args[0], time.Since(p.started).Seconds())
		case "wait":
			faultWait(ts, st, neg, args)
		case "until":
			faultUntil(ts, root, args)
		case "dockerd":
			faultDockerd(ts, root, args)
		case "sshd-drop":
			faultSSHDrop(ts, root, args)
		case "block", "unblock":
			faultBlock(ts, root, sub == "block", args)
		case "reset", "unreset":
			faultReset(ts, root, sub == "reset", args)
		case "state":
			faultHostState(ts, root, neg, args)
		default:
			ts.Fatalf("fault: unknown subcommand %q", sub)
		}
	}
}

func (st *faultState) proc(ts *testscript.TestScript, name string) *bgProc {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.procs[name]
	if p == nil {
		ts.Fatalf("fault: no background mrsk named %s", name)
	}
	return p
}

// scriptEnv rebuilds the environment a script's exec would get: the
// variables the setup sets, the sandbox's, and FAULT_* ones set by `env`.
func scriptEnv(ts *testscript.TestScript) []string {
	keys := []string{"PATH", "HOME", "USER", "TMPDIR", "WORK", "GOTRACEBACK", "MRSK_ROOT", "GOCACHE", "GOMODCACHE",
		"GOFLAGS", "GOPROXY", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GOCOVERDIR"}
	for i := 1; i <= 9; i++ {
		keys = append(keys, fmt.Sprintf("H%d", i), fmt.Sprintf("SANDBOX_HOST_%d", i))
	}
	if b, err := os.ReadFile(filepath.Join(sandboxState(), "env")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, _, ok := strings.Cut(line, "="); ok {
				keys = append(keys, strings.TrimSpace(k))
			}
		}
	}
	for _, k := range []string{"FAULT_AT", "FAULT_MARK", "FAULT_HOLD"} {
		keys = append(keys, k)
	}
	var env []string
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func lookPath(ts *testscript.TestScript, name string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	ts.Fatalf("fault: %s not found in $PATH", name)
	return ""
}

func faultBg(ts *testscript.TestScript, st *faultState, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: fault bg NAME MRSK-ARGS...")
	}
	name := args[0]
	st.mu.Lock()
	if old := st.procs[name]; old != nil && !old.exited() {
		st.mu.Unlock()
		ts.Fatalf("fault: %s is still running", name)
	}
	st.mu.Unlock()
	p := &bgProc{done: make(chan struct{})}
	p.cmd = exec.Command(lookPath(ts, "mrsk"), args[1:]...)
	p.cmd.Dir = ts.MkAbs(".")
	p.cmd.Env = append(scriptEnv(ts), "PWD="+p.cmd.Dir)
	p.cmd.Stdout = bgWriter{p, &p.stdout}
	p.cmd.Stderr = bgWriter{p, &p.stderr}
	p.started = time.Now()
	ts.Check(p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		p.ended = time.Now()
		close(p.done)
	}()
	st.mu.Lock()
	st.procs[name] = p
	st.mu.Unlock()
}

func faultWhen(ts *testscript.TestScript, st *faultState, args []string, sigint bool) {
	n, after, timeout := 1, time.Duration(0), 2*time.Minute
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if len(args) < 2 {
			ts.Fatalf("fault sigint-when: %s needs a value", args[0])
		}
		var err error
		switch args[0] {
		case "-n":
			n, err = strconv.Atoi(args[1])
		case "-after":
			after, err = time.ParseDuration(args[1])
		case "-timeout":
			timeout, err = time.ParseDuration(args[1])
		default:
			err = fmt.Errorf("unknown flag %s", args[0])
		}
		ts.Check(err)
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: fault sigint-when|when [-n N] [-after DUR] [-timeout DUR] NAME REGEXP")
	}
	p := st.proc(ts, args[0])
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	deadline := time.Now().Add(timeout)
	for {
		out := p.output()
		if m := re.FindAllString(out, -1); len(m) >= n {
			ts.Logf("%s matched %q after %.1fs", args[0], m[len(m)-1], time.Since(p.started).Seconds())
			break
		}
		if p.exited() {
			ts.Fatalf("fault: %s exited (%v) before its output matched %q %d time(s):\n%s", args[0], p.err, args[1], n, p.output())
		}
		if time.Now().After(deadline) {
			ts.Fatalf("fault: %s: no %d line(s) matching %q within %s:\n%s", args[0], n, args[1], timeout, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(after)
	if !sigint {
		return
	}
	if p.exited() {
		ts.Fatalf("fault: %s exited (%v) before the SIGINT:\n%s", args[0], p.err, p.output())
	}
	ts.Check(p.cmd.Process.Signal(os.Interrupt))
	ts.Logf("SIGINT to %s after %.1fs", args[0], time.Since(p.started).Seconds())
}

func faultWait(ts *testscript.TestScript, st *faultState, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fault wait NAME")
	}
	p := st.proc(ts, args[0])
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		ts.Fatalf("fault: %s still ran after 2 minutes (killed):\n%s", args[0], p.output())
	}
	p.mu.Lock()
	ts.Stdout().Write(p.stdout.Bytes())
	ts.Stderr().Write(p.stderr.Bytes())
	p.mu.Unlock()
	ts.Logf("%s ran %.1fs: %v; its output as it came:\n%s", args[0], p.ended.Sub(p.started).Seconds(), p.err, p.timed.String())
	if p.err != nil {
		var ee *exec.ExitError
		if !errors.As(p.err, &ee) {
			ts.Fatalf("fault: %s: %v", args[0], p.err)
		}
	}
	if (p.err != nil) != neg {
		if neg {
			ts.Fatalf("fault: %s succeeded, want a failure", args[0])
		}
		ts.Fatalf("fault: %s failed: %v", args[0], p.err)
	}
}

// inHost runs sh -c script inside sandbox host n.
func inHost(root, n, script string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "sandbox", "sandbox.sh"), append([]string{"exec", n, "sh", "-c", script, "sh"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustInHost(ts *testscript.TestScript, root, n, script string, args ...string) string {
	out, err := inHost(root, n, script, args...)
	if err != nil {
		ts.Fatalf("fault: in host %s: %s: %v\n%s", n, script, err, out)
	}
	return out
}

func faultUntil(ts *testscript.TestScript, root string, args []string) {
	timeout := 30 * time.Second
	if len(args) >= 3 && args[1] == "-timeout" {
		d, err := time.ParseDuration(args[2])
		ts.Check(err)
		timeout = d
		args = append(args[:1:1], args[3:]...)
	}
	if len(args) != 2 {
		ts.Fatalf("usage: fault until N[,N...] [-timeout DUR] SHELL")
	}
	// One shell in each host polls: one nsenter, not one per try. Hosts
	// are polled at once: a condition that holds for a moment on one
	// host (a stop) can come and go while another is still polled.
	tries := int(timeout / (100 * time.Millisecond))
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do if ( %s ) >/dev/null 2>&1; then exit 0; fi; i=$((i+1)); sleep 0.1; done; exit 1`, tries, args[1])
	start := time.Now()
	hosts := strings.Split(args[0], ",")
	type result struct {
		out   string
		err   error
		after time.Duration
	}
	results := make([]result, len(hosts))
	var wg sync.WaitGroup
	for i, n := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := inHost(root, n, script)
			results[i] = result{out, err, time.Since(start)}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			ts.Fatalf("fault: host %s: %q did not hold within %s: %v\n%s", hosts[i], args[1], timeout, r.err, r.out)
		}
		ts.Logf("host %s: %q held after %.1fs", hosts[i], args[1], r.after.Seconds())
	}
}

// dockerd -------------------------------------------------------------------

func faultDockerd(ts *testscript.TestScript, root string, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fault dockerd kill|term|freeze|thaw|start N")
	}
	action, n := args[0], args[1]
	argvKey := "FAULT_DOCKERD_ARGV_" + n
	switch action {
	case "kill", "term", "freeze":
		// Remember how it was started, to start it again the same way.
		out := mustInHost(ts, root, n, `p=$(cat /var/run/docker.pid) && tr '\0' '\n' </proc/$p/cmdline && echo "PID=$p"`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		pid := strings.TrimPrefix(lines[len(lines)-1], "PID=")
		argv := lines[:len(lines)-1]
		if len(argv) == 0 || filepath.Base(argv[0]) != "dockerd" {
			ts.Fatalf("fault: host %s: pid %s is not dockerd: %q", n, pid, argv)
		}
		if ts.Getenv(argvKey) == "" {
			ts.Setenv(argvKey, strings.Join(argv, "\x1f"))
			// Whatever happens to the scenario, the host gets its engine back.
			ts.Defer(func() { ensureDockerd(root, n, argv) })
		}
		sig := map[string]string{"kill": "KILL", "term": "TERM", "freeze": "STOP"}[action]
		start := time.Now()
		if action == "freeze" {
			mustInHost(ts, root, n, `kill -STOP "$1"`, pid)
		} else {
			// TERM: dockerd stops its containers first (10s each at most).
			mustInHost(ts, root, n, `kill -`+sig+` "$1"; i=0; while [ $i -lt 600 ]; do s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null) || exit 0; [ "$s" != Z ] || exit 0; i=$((i+1)); sleep 0.1; done; echo "pid $1 still runs"; exit 1`, pid)
		}
		ts.Logf("host %s: dockerd (pid %s) got SIG%s (%.1fs)", n, pid, sig, time.Since(start).Seconds())
	case "thaw":
		mustInHost(ts, root, n, `kill -CONT "$(cat /var/run/docker.pid)"; for p in $(pgrep -x containerd); do kill -CONT $p; done; true`)
	case "start":
		v := ts.Getenv(argvKey)
		if v == "" {
			ts.Fatalf("fault: dockerd start %s: it was not stopped by this script", n)
		}
		start := time.Now()
		if err := startDockerd(root, n, strings.Split(v, "\x1f")); err != nil {
			ts.Fatalf("fault: %v", err)
		}
		ts.Logf("host %s: dockerd answers again after %.1fs", n, time.Since(start).Seconds())
		// Then, as systemd would, the units enabled to start with
		// docker.service (mrsk's routes unit).
		if out, err := inHost(root, n, `for u in /etc/systemd/system/docker.service.wants/*.service; do [ -e "$u" ] || continue; c=$(sed -n 's/^ExecStart=//p' "$u" | head -n 1); [ -z "$c" ] || sh -c "$c" || { echo "$u failed"; exit 1; }; echo "ran $(basename "$u")"; done`); err != nil {
			ts.Fatalf("fault: host %s: units wanted by docker.service: %v\n%s", n, err, out)
		} else if out = strings.TrimSpace(out); out != "" {
			ts.Logf("host %s: %s", n, out)
		}
	default:
		ts.Fatalf("fault dockerd: unknown action %q", action)
	}
}

// startDockerd starts dockerd in host n with argv, detached (its own
// session, output appended to the host's dockerd.log), and waits until
// `docker info` answers.
func startDockerd(root, n string, argv []string) error {
	log := filepath.Join(sandboxState(), "hosts", "h"+n, "dockerd.log")
	// Into the host's own cgroup first, where its first dockerd ran.
	script := `echo $$ >/sys/fs/cgroup/cgroup.procs 2>/dev/null || true; rm -f /var/run/docker.pid; log=$1; shift; setsid "$@" >>"$log" 2>&1 </dev/null & i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 600 ] || exit 1; sleep 0.1; done`
	if out, err := inHost(root, n, script, append([]string{log}, argv...)...); err != nil {
		return fmt.Errorf("host %s: dockerd did not come back: %v\n%s", n, err, out)
	}
	return nil
}

// ensureDockerd makes sure host n's dockerd runs and is not frozen.
func ensureDockerd(root, n string, argv []string) {
	inHost(root, n, `p=$(cat /var/run/docker.pid 2>/dev/null) && kill -CONT "$p" 2>/dev/null; for p in $(pgrep -x containerd); do kill -CONT $p; done; true`)
	if _, err := inHost(root, n, `timeout 5 docker info >/dev/null 2>&1`); err == nil {
		return
	}
	if err := startDockerd(root, n, argv); err != nil {
		fmt.Fprintln(os.Stderr, "fault: restoring the sandbox:", err)
	}
}

// ssh, iptables ----------------------------------------------------------------

func faultSSHDrop(ts *testscript.TestScript, root string, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: fault sshd-drop N [REGEXP]")
	}
	n := args[0]
	wait := ""
	if len(args) == 2 {
		// pgrep -f matches the full command line (an extended regexp);
		// itself and this shell never match: their lines hold the pattern
		// quoted inside a longer word.
		wait = `i=0; until pgrep -f -- "$1" | grep -vx "$$" | grep -q .; do i=$((i+1)); [ $i -lt 100 ] || { echo "no process matches $1"; exit 1; }; sleep 0.1; done; `
	}
	// The per-connection sshd processes: every sshd but the listener
	// (pid in /run/sshd.pid).
	script := wait + `l=$(cat /run/sshd.pid); ps=""; for p in $(pgrep -x sshd); do [ "$p" = "$l" ] || ps="$ps $p"; done; [ -n "$ps" ] || { echo "no sshd session"; exit 1; }; kill -KILL $ps; echo "killed sshd$ps"`
	pattern := ""
	if len(args) == 2 {
		pattern = args[1]
	}
	out := mustInHost(ts, root, n, script, pattern)
	ts.Logf("host %s: %s", n, strings.TrimSpace(out))
}

const faultChain = "OUTPUT"

func faultBlock(ts *testscript.TestScript, root string, on bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: fault block|unblock N PORT [DEST]")
	}
	n, port := args[0], args[1]
	rule := []string{"-p", "tcp", "--dport", port}
	if len(args) == 3 {
		rule = append([]string{"-d", args[2]}, rule...)
	}
	rule = append(rule, "-m", "comment", "--comment", "mrsk-fault", "-j", "DROP")
	iptables(ts, root, n, on, faultChain, rule)
}

func faultReset(ts *testscript.TestScript, root string, on bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fault reset|unreset N PORT")
	}
	rule := []string{"-p", "tcp", "--dport", args[1], "-m", "comment", "--comment", "mrsk-fault", "-j", "REJECT", "--reject-with", "tcp-reset"}
	iptables(ts, root, args[0], on, "INPUT", rule)
}

// iptables inserts (first in chain) or deletes rule in host n; an inserted
// rule is deleted when the script ends if it is still there.
func iptables(ts *testscript.TestScript, root, n string, on bool, chain string, rule []string) {
	del := func() (string, error) {
		return inHost(root, n, `while iptables -w -D "$@" 2>/dev/null; do :; done`, append([]string{chain}, rule...)...)
	}
	if !on {
		if out, err := del(); err != nil {
			ts.Fatalf("fault: host %s: iptables -D: %v\n%s", n, err, out)
		}
		return
	}
	mustInHost(ts, root, n, `iptables -w -I "$@"`, append([]string{chain, "1"}, rule...)...)
	ts.Defer(func() { del() })
}

// state -----------------------------------------------------------------------

// A route names a container by its address; route files are YAML, the
// URL quoted or not (older versions quoted it).
var routeURL = regexp.MustCompile(`url: "?http://([0-9a-f.]+):[0-9]+"?`)

func faultHostState(ts *testscript.TestScript, root string, neg bool, args []string) {
	if neg {
		ts.Fatalf("fault state does not support !")
	}
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: fault state N [SERVICE]")
	}
	n := args[0]
	filter := ""
	if len(args) == 2 {
		filter = "--filter label=service=" + args[1]
	}
	// Routes, then every container (not Traefik) with its state and address.
	out := mustInHost(ts, root, n, `cd /root/.mrsk/traefik/dynamic 2>/dev/null && for f in *.yml; do [ -f "$f" ] || continue; echo "FILE ${f%.yml}"; grep 'url:' "$f"; done; echo END
for id in $(docker ps -aq `+filter+`); do docker inspect -f '{{.Name}} {{.State.Status}} {{printf "%.12s" .Id}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id"; done`)
	before, after, _ := strings.Cut(out, "END\n")
	type ctr struct{ name, status string }
	byIP := map[string]ctr{}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(after), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimPrefix(f[0], "/")
		if name == "traefik" {
			continue
		}
		lines = append(lines, fmt.Sprintf("container %s %s", name, f[1]))
		// f[2] is the short id; the rest are addresses.
		for _, ip := range f[2:] {
			// A container that stopped uncleanly (its dockerd was killed)
			// may still show the address a running one now has.
			if prev, ok := byIP[ip]; ok && prev.status == "running" {
				continue
			}
			byIP[ip] = ctr{name, f[1]}
		}
	}
	sort.Strings(lines)
	var routes, bad []string
	key := ""
	for _, l := range strings.Split(before, "\n") {
		if k, ok := strings.CutPrefix(l, "FILE "); ok {
			key = k
			continue
		}
		m := routeURL.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		c, ok := byIP[m[1]]
		switch {
		case !ok:
			routes = append(routes, fmt.Sprintf("route %s -> %s MISSING", key, m[1]))
			bad = append(bad, routes[len(routes)-1])
		case c.status != "running":
			routes = append(routes, fmt.Sprintf("route %s -> %s %s", key, c.name, c.status))
			bad = append(bad, routes[len(routes)-1])
		default:
			routes = append(routes, fmt.Sprintf("route %s -> %s running", key, c.name))
		}
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(append(routes, lines...), "\n"))
	if len(bad) > 0 {
		ts.Fatalf("host %s: a route names a container that does not run: %s", n, strings.Join(bad, "; "))
	}
}
