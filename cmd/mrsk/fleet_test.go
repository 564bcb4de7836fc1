package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/fleetsim"
)

// simFleet starts n simulated hosts (package fleetsim) and an mrsk project
// for them, and points HOME at a home whose known_hosts knows them all.
// The tests chdir into the project: they cannot run in parallel.
func simFleet(t *testing.T, opts fleetsim.Options) (*fleetsim.Fleet, fleetsim.Project) {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	pub, err := fleetsim.NewClientKey(key)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir, opts.ClientKey = filepath.Join(dir, "hosts"), pub
	fleet, err := fleetsim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	proj, err := fleet.WriteProject(dir, key, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range proj.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Chdir(proj.Dir)
	return fleet, proj
}

// mrskRun runs the mrsk command line in-process.
func mrskRun(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, os.LookupEnv)
	return out.String(), errb.String(), code
}

// running lists the names of the running containers on a host.
func running(h *fleetsim.Host) []string {
	var names []string
	for _, c := range h.Containers() {
		if c.Running {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	return names
}

// TestFleetDeployRedeployRollback deploys, redeploys and rolls back on
// three simulated hosts, each over one SSH connection per run.
func TestFleetDeployRedeployRollback(t *testing.T) {
	fleet, _ := simFleet(t, fleetsim.Options{Hosts: 3})
	steps := []struct {
		args []string
		want []string // running containers on every host afterwards
	}{
		{[]string{"deploy", "--skip-push", "--version", "v1"}, []string{"sim-web-v1", "traefik"}},
		{[]string{"deploy", "--skip-push", "--version", "v2"}, []string{"sim-web-v2", "traefik"}},
		{[]string{"rollback", "v1"}, []string{"sim-web-v1", "traefik"}},
	}
	for i, s := range steps {
		out, errOut, code := mrskRun(s.args...)
		if code != 0 {
			t.Fatalf("mrsk %s: exit %d\n%s%s", strings.Join(s.args, " "), code, out, errOut)
		}
		for _, h := range fleet.Hosts() {
			if got := running(h); strings.Join(got, " ") != strings.Join(s.want, " ") {
				t.Errorf("after mrsk %s: %s runs %v, want %v", strings.Join(s.args, " "), h.Addr(), got, s.want)
			}
			if st := h.Stats(); st.Handshakes != int64(i+1) {
				t.Errorf("after %d runs: %s saw %d SSH handshakes, want one per run", i+1, h.Addr(), st.Handshakes)
			}
		}
	}
	primary := fleet.Hosts()[0].Dir()
	if _, err := os.Stat(filepath.Join(primary, ".mrsk", "lock-sim")); !os.IsNotExist(err) {
		t.Errorf("the deploy lock is still there: %v", err)
	}
	audit, err := os.ReadFile(filepath.Join(primary, ".mrsk", "sim-audit.log"))
	if err != nil || !strings.Contains(string(audit), "rolled back to v1") {
		t.Errorf("audit log: %q, %v", audit, err)
	}
}

// TestFleetUnreachableHostsFailBeforeAnyChange: with 3 of 12 hosts
// refusing connections, a deploy names all 3 and changes nothing: no lock,
// no pull, no container, on any host.
func TestFleetUnreachableHostsFailBeforeAnyChange(t *testing.T) {
	down := []int{2, 5, 9}
	fleet, _ := simFleet(t, fleetsim.Options{Hosts: 12, Down: down})
	for _, args := range [][]string{
		{"deploy", "--skip-push", "--version", "v1"},
		{"redeploy", "--skip-push", "--version", "v1"},
		{"rollback", "v0"},
		{"setup", "--skip-push", "--version", "v1"},
	} {
		fleet.ResetStats()
		out, errOut, code := mrskRun(args...)
		if code == 0 {
			t.Fatalf("mrsk %s succeeded with 3 hosts down:\n%s", args[0], out)
		}
		if !strings.Contains(errOut, "cannot reach 3 of 12 hosts") {
			t.Errorf("mrsk %s: stderr does not say how many hosts are unreachable:\n%s", args[0], errOut)
		}
		for _, i := range down {
			if !strings.Contains(errOut, fleetsim.Address(i)+":") {
				t.Errorf("mrsk %s: stderr does not name %s:\n%s", args[0], fleetsim.Address(i), errOut)
			}
		}
		for _, h := range fleet.Hosts() {
			if n := h.Stats().Commands; n > 1 {
				t.Errorf("mrsk %s: %s ran %d commands, want at most the connection check", args[0], h.Addr(), n)
			}
			if len(h.Containers()) > 0 {
				t.Errorf("mrsk %s: %s has containers", args[0], h.Addr())
			}
			if _, err := os.Stat(filepath.Join(h.Dir(), ".mrsk")); !os.IsNotExist(err) {
				t.Errorf("mrsk %s: %s has a .mrsk directory", args[0], h.Addr())
			}
		}
	}
}

// TestFleetOutputSummarizes: on 12 hosts each step prints one line per
// distinct message, unless -v asks for every line.
func TestFleetOutputSummarizes(t *testing.T) {
	fleet, _ := simFleet(t, fleetsim.Options{Hosts: 12})
	out, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"[12/12 hosts] pulled sim/app:v1\n", "[12/12 hosts] now serving sim-web-v1\n", "deployed v1 to 127.0.1.1, 127.0.1.2, 127.0.1.3 and 9 more\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "] pulled sim/app:v1\n["+fleet.Hosts()[1].Addr()) || strings.Contains(out, "["+fleet.Hosts()[1].Addr()+"] pulled") {
		t.Errorf("per-host pull lines printed:\n%s", out)
	}
	out, errOut, code = mrskRun("deploy", "--skip-push", "--version", "v2", "-v")
	if code != 0 {
		t.Fatalf("deploy -v: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "] pulled sim/app:v2\n"); n != 12 {
		t.Errorf("with -v, %d hosts printed their pull, want 12:\n%s", n, out)
	}
}

// TestFleetEveryCommand runs the commands that touch hosts against three
// simulated hosts: the simulator must emulate all that they send.
func TestFleetEveryCommand(t *testing.T) {
	fleet, _ := simFleet(t, fleetsim.Options{Hosts: 3})
	for _, c := range []struct {
		args []string
		want string // in stdout
	}{
		{[]string{"setup", "--skip-push", "--version", "v1"}, "deployed v1"},
		{[]string{"redeploy", "--skip-push", "--version", "v2"}, "now serving sim-web-v2"},
		{[]string{"app", "version"}, "[127.0.1.3] v2"},
		{[]string{"app", "containers"}, "sim-web-v1"},
		{[]string{"app", "logs"}, "sim-web-v2 listening"},
		{[]string{"app", "exec", "--reuse", "echo hi there"}, "[127.0.1.2] hi there"},
		{[]string{"app", "exec", "--version", "v2", "echo one-off"}, "[127.0.1.1] one-off"},
		{[]string{"app", "stop"}, "stopped sim-web-v2"},
		{[]string{"app", "start", "--version", "v2"}, "Traefik routes sim-web to sim-web-v2 only"},
		{[]string{"lock", "acquire", "-m", "maintenance"}, "acquired the deploy lock"},
		{[]string{"lock", "status"}, "Message: maintenance"},
		{[]string{"lock", "release"}, "released the deploy lock"},
		{[]string{"prune"}, "Prune old containers and images"},
		{[]string{"traefik", "reboot"}, "Traefik rebooted"},
		{[]string{"rollback", "v1"}, "now serving sim-web-v1"},
		{[]string{"audit"}, "rolled back to v1"},
		{[]string{"remove", "-y"}, "released the deploy lock"},
	} {
		out, errOut, code := mrskRun(c.args...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("mrsk %s: exit %d, want 0 and %q in stdout:\n%s%s", strings.Join(c.args, " "), code, c.want, out, errOut)
		}
	}
	for _, h := range fleet.Hosts() {
		if cs := h.Containers(); len(cs) != 0 {
			t.Errorf("after remove, %s still has %d containers", h.Addr(), len(cs))
		}
	}
}

// TestFleetBootFailureKeepsEveryHostServing: a deploy whose container
// cannot start on one host of twelve fails naming that host, and every
// host still routes to a running container; the lock is gone.
func TestFleetBootFailureKeepsEveryHostServing(t *testing.T) {
	bad := fleetsim.Address(4)
	fleet, _ := simFleet(t, fleetsim.Options{Hosts: 12,
		Faults: []fleetsim.Fault{{Host: bad, Match: "--name sim-web-v2", Code: 125, Stderr: "docker: Error response from daemon: no space left on device."}}})
	if out, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v1"); code != 0 {
		t.Fatalf("deploy v1: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := mrskRun("deploy", "--skip-push", "--version", "v2")
	if code == 0 {
		t.Fatalf("deploy v2 succeeded though %s cannot start it:\n%s", bad, out)
	}
	if !strings.Contains(errOut, bad) || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("the error does not name %s and why:\n%s", bad, errOut)
	}
	for _, h := range fleet.Hosts() {
		if err := serving(h); err != nil {
			t.Errorf("%s: %v\n%s%s", h.Addr(), err, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(fleet.Hosts()[0].Dir(), ".mrsk", "lock-sim")); !os.IsNotExist(err) {
		t.Errorf("the deploy lock is left: %v", err)
	}
}

// serving checks that the host's route file names a running container.
func serving(h *fleetsim.Host) error {
	b, err := os.ReadFile(filepath.Join(h.Dir(), ".mrsk", "traefik", "dynamic", "sim-web.yml"))
	if err != nil {
		return fmt.Errorf("no route: %w", err)
	}
	for _, c := range h.Containers() {
		if c.Running && c.IP != "" && strings.Contains(string(b), "http://"+c.IP+":3000") {
			return nil
		}
	}
	return fmt.Errorf("the route names no running container: %s (running: %v)", b, running(h))
}
