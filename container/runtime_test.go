package container

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPodmanCommands(t *testing.T) {
	f := Filter{Service: "hey", Role: "web"}
	for _, tc := range []struct{ name, got, want string }{
		{"ps", Podman.Ps(f, false), `podman ps --filter label=service=hey --filter label=destination= --filter label=role=web --format '{{.ID}}|{{.Names}}|{{.ListContainer.State}}|{{index .Labels "version"}}|{{index .Labels "role"}}|{{.Image}}|{{.CreatedAt}}' --no-trunc`},
		{"pull qualifies", Podman.Pull("redis:7"), "podman pull --quiet docker.io/library/redis:7"},
		{"docker pull as given", Docker.Pull("redis:7"), "docker pull --quiet redis:7"},
		{"pull from mrsk's loopback registry", Podman.PullAs("127.0.0.1:4000/app:v1", "localhost/app:v1"),
			"podman pull --quiet --tls-verify=false 127.0.0.1:4000/app:v1 && podman tag 127.0.0.1:4000/app:v1 localhost/app:v1; rc=$?; podman rmi 127.0.0.1:4000/app:v1 >/dev/null 2>&1; exit $rc"},
		{"network", Podman.EnsureNetwork(), "{ podman network inspect mrsk >/dev/null 2>&1 || podman network create mrsk >/dev/null; }"},
		{"stop keeps the boot list", Podman.Stop(10, []string{"a"}), `{ { podman stop -t 10 a >/dev/null; }; mrsk_rc=$?; ` + bootSnapshot + `; (exit $mrsk_rc); }`},
		{"docker stop unchanged", Docker.Stop(10, []string{"a"}), "docker stop -t 10 a >/dev/null"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestQualify(t *testing.T) {
	for in, want := range map[string]string{
		"redis:7":                     "docker.io/library/redis:7",
		"bitnami/redis:7":             "docker.io/bitnami/redis:7",
		"ghcr.io/me/app:v1":           "ghcr.io/me/app:v1",
		"10.77.0.1:5000/traefik:v3.6": "10.77.0.1:5000/traefik:v3.6",
		"localhost/app:v1":            "localhost/app:v1",
		"reg:5000/app":                "reg:5000/app",
		"docker.io/library/redis":     "docker.io/library/redis",
	} {
		if got := Podman.Qualify(in); got != want {
			t.Errorf("Podman.Qualify(%q) = %q, want %q", in, got, want)
		}
		if got := Docker.Qualify(in); got != in {
			t.Errorf("Docker.Qualify(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"ps", "--format", `{{.ID}}|{{.State}}|{{.Status}}|{{.Label "role"}}`}, []string{"ps", "--format", `{{.ID}}|{{.ListContainer.State}}|{{.Status}}|{{index .Labels "role"}}`}},
		{[]string{"container", "ls", "--format={{.State}}"}, []string{"container", "ls", "--format={{.ListContainer.State}}"}},
		{[]string{"inspect", "--format", "{{.State.Running}}", "x"}, []string{"inspect", "--format", "{{.State.Running}}", "x"}},
		{[]string{"logs", "--tail", "10", "x"}, []string{"logs", "--tail", "10", "x"}},
	} {
		if got := Podman.Translate(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Podman.Translate(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Docker.Translate(tc.in); !slices.Equal(got, tc.in) {
			t.Errorf("Docker.Translate(%q) = %q", tc.in, got)
		}
	}
	for _, c := range []struct {
		args []string
		want bool
	}{{[]string{"start", "traefik"}, true}, {[]string{"container", "rm", "x"}, true}, {[]string{"ps"}, false}, {[]string{"logs", "x"}, false}, {nil, false}} {
		if got := Changes(c.args); got != c.want {
			t.Errorf("Changes(%q) = %v", c.args, got)
		}
	}
}

func TestParsePsNewestFirst(t *testing.T) {
	// podman lists oldest first, with fractional seconds
	out := "a|app-web-v1|exited|v1|web|img:v1|2026-11-30 06:48:57.732144819 +0000 UTC\n" +
		"b|app-web-v2|running|v2|web|img:v2|2026-11-30 06:48:59.742330439 +0000 UTC\n"
	got := ParsePs(out)
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" {
		t.Errorf("ParsePs = %+v, want b then a", got)
	}
	// docker: same second, docker's own order kept
	out = "new|n|running|v2|web|i|2026-11-26 12:00:00 +0000 UTC\nold|o|exited|v1|web|i|2026-11-26 12:00:00 +0000 UTC\n"
	if got := ParsePs(out); got[0].ID != "new" {
		t.Errorf("ParsePs (ties) = %+v", got)
	}
	if !parseTime("2026-11-30T06:48:57.732144819Z").Equal(time.Date(2026, 11, 30, 6, 48, 57, 732144819, time.UTC)) {
		t.Error("parseTime RFC 3339")
	}
}

// TestChangedKeepsStatus runs Changed's wrapping in sh: the line's exit
// status survives the boot list's update, which must not abort a chain.
func TestChangedKeepsStatus(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for _, tc := range []struct {
		line string
		code int
	}{{"true", 0}, {"exit 3", 3}, {"false", 1}} {
		// podman is not there: the update fails quietly
		script := "PATH=/nonexistent; HOME=" + t.TempDir() + "; " + Podman.Changed(strings.Replace(tc.line, "exit", "(exit", 1)+strings.Repeat(")", strings.Count(tc.line, "exit"))) + " && echo ok"
		out, err := exec.Command("/bin/sh", "-c", script).Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != tc.code || (tc.code == 0) != (strings.TrimSpace(string(out)) == "ok") {
			t.Errorf("Changed(%q): exit %d, out %q; want exit %d", tc.line, code, out, tc.code)
		}
	}
}

func TestPreflightParse(t *testing.T) {
	if i := ParsePreflight("noise\nMRSK_RUNTIME podman 4.3.1 systemd=no\n"); i.Version != "4.3.1" || !i.NoSystemd {
		t.Errorf("podman: %+v", i)
	}
	for out, want := range map[string]PreflightInfo{
		"MRSK_RUNTIME docker 20.10.24\n":                 {Version: "20.10.24"},
		"MRSK_RUNTIME docker 20.10.24 systemd=yes\n":     {Version: "20.10.24"},
		"MRSK_RUNTIME docker 20.10.24 systemd=nonroot\n": {Version: "20.10.24", NoSystemd: true, Unit: "nonroot"},
		"MRSK_RUNTIME docker 28.2.2 systemd=failed\n":    {Version: "28.2.2", NoSystemd: true, Unit: "failed"},
	} {
		if got := ParsePreflight(out); got != want {
			t.Errorf("ParsePreflight(%q) = %+v, want %+v", out, got, want)
		}
	}
	for code, want := range map[int]string{127: "podman is not installed on h1", 126: "rootless as deploy", 125: "does not answer: boom"} {
		if err := Podman.PreflightError("h1", "deploy", code, "boom\n"); !strings.Contains(err.Error(), want) {
			t.Errorf("PreflightError(%d) = %v, want %q in it", code, err, want)
		}
	}
}

// TestBootScript runs the boot script with a stand-in podman: the
// containers of the list are started, and route files get the addresses
// the reboot gave, even when two containers traded addresses.
func TestBootScript(t *testing.T) {
	fake := `#!/bin/sh
case "$1" in
start) shift; echo "$@" >>"$HOME/started" ;;
inspect) shift 3
  for n in "$@"; do
    case "$n" in a) ip=10.89.0.4 ;; b) ip=10.89.0.3 ;; *) exit 1 ;; esac
    if [ $# -gt 1 ]; then echo "$n $ip"; else echo "$ip"; fi
  done ;;
esac
`
	home := scriptHome(t, map[string]string{
		BootFile:               "a 10.89.0.3\nb 10.89.0.4\ntraefik\n",
		RoutesDir + "/app.yml": "servers:\n  - url: http://10.89.0.3:3000\n  - url: http://10.89.0.4:3000\n  - url: http://10.89.0.30:3000\n",
	})
	runScript(t, bootScript, home, "podman", fake)
	started, _ := os.ReadFile(filepath.Join(home, "started"))
	if strings.TrimSpace(string(started)) != "a b traefik" {
		t.Errorf("started %q", started)
	}
	got, _ := os.ReadFile(filepath.Join(home, RoutesDir, "app.yml"))
	want := "servers:\n  - url: http://10.89.0.4:3000\n  - url: http://10.89.0.3:3000\n  - url: http://10.89.0.30:3000\n"
	if string(got) != want {
		t.Errorf("route after boot:\n%s\nwant\n%s", got, want)
	}
}

// The Docker routes script, with a stand-in docker: in each route file,
// the addresses its comments name move to where their containers are now
// (two of them trading places, one in two files), an address of a
// container that is gone or stopped and one that did not move stay, and a
// file no container moved in is not rewritten.
func TestDockerRoutesScript(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock here")
	}
	fake := `#!/bin/sh
case "$1" in
version) exit 0 ;;
inspect) case "$4" in
  a) echo 172.18.0.4 ;; b) echo 172.18.0.3 ;; same) echo 172.18.0.9 ;;
  stopped) echo ;; *) exit 1 ;; esac ;;
esac
`
	still := "- url: http://172.18.0.9:3000\n- url: http://172.18.0.7:3000\n- url: http://172.18.0.8:3000\n" +
		"# mrsk-container same //172.18.0.9:\n# mrsk-container gone //172.18.0.7:\n# mrsk-container stopped //172.18.0.8:\n"
	home := scriptHome(t, map[string]string{
		RoutesDir + "/app-web.yml": "- url: http://172.18.0.3:3000\n- url: http://172.18.0.4:3000\n- url: http://172.18.0.30:3000\n" +
			"# mrsk-container a //172.18.0.3:\n# mrsk-container b //172.18.0.4:\n",
		RoutesDir + "/app-api.yml":   "- url: https://172.18.0.3/\n# mrsk-container a //172.18.0.3:\n",
		RoutesDir + "/other-web.yml": still,
		RoutesDir + "/_mrsk_api.yml": "- url: http://172.18.0.3:8080\n",
	})
	before, _ := os.Stat(filepath.Join(home, RoutesDir, "other-web.yml"))

	// The deadline for containers to run again is a minute; "stopped"
	// would hold the test that long: the script's clock runs fast here.
	runScript(t, strings.Replace(dockerRoutesScript, "+ 60 ))", "+ 1 ))", 1), home, "docker", fake)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(home, RoutesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got, want := read("app-web.yml"), "- url: http://172.18.0.4:3000\n- url: http://172.18.0.3:3000\n- url: http://172.18.0.30:3000\n"+
		"# mrsk-container a //172.18.0.4:\n# mrsk-container b //172.18.0.3:\n"; got != want {
		t.Errorf("app-web.yml:\n%s\nwant\n%s", got, want)
	}
	if got, want := read("app-api.yml"), "- url: https://172.18.0.4/\n# mrsk-container a //172.18.0.4:\n"; got != want {
		t.Errorf("app-api.yml:\n%s\nwant\n%s", got, want)
	}
	if got := read("other-web.yml"); got != still {
		t.Errorf("other-web.yml changed:\n%s", got)
	}
	if after, _ := os.Stat(filepath.Join(home, RoutesDir, "other-web.yml")); !os.SameFile(before, after) {
		t.Error("other-web.yml was rewritten (Traefik would reload for nothing)")
	}
	if got := read("_mrsk_api.yml"); got != "- url: http://172.18.0.3:8080\n" {
		t.Errorf("_mrsk_api.yml changed: %s", got)
	}
	entries, _ := os.ReadDir(filepath.Join(home, ".mrsk"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".routes.") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// scriptHome is a home directory for a host script, holding files (paths
// relative to it).
func scriptHome(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	for name, content := range files {
		p := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// runScript runs script (its @HOME@ made home) with sh, a stand-in for
// tool first on the PATH.
func runScript(t *testing.T, script, home, tool, fake string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, tool), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", strings.ReplaceAll(script, "@HOME@", home))
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + home}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s script: %v\n%s", tool, err, out)
	}
}
