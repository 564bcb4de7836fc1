package builtins

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootstrapScript runs runtime_install's script in sh against stand-in
// commands (id, sudo, apt-get, dnf, service, usermod, docker): Docker
// present, installed with apt as root or through sudo, with dnf on Fedora,
// and the refusals, each naming the OS.
func TestBootstrapScript(t *testing.T) {
	tools := t.TempDir()
	for _, name := range []string{"sh", "cat", "chmod", "uname", "sleep", "env", "echo", "printf", "touch"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("no %s here", name)
		}
		if err := os.Symlink(p, filepath.Join(tools, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Stand-ins log their arguments to $LOG; a package manager's install
	// makes `docker` appear.
	stub := func(dir, name, body string) {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"$LOG\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	installDocker := `case "$*" in *install*) printf '#!/bin/sh\nexit 0\n' > "$BIN/docker"; chmod 755 "$BIN/docker";; esac`
	tests := []struct {
		name      string
		osRelease string
		uid       string
		stubs     []string // which stand-ins exist
		want      string   // the script's last line
		wantLog   []string
		noLog     []string
	}{
		{name: "present", uid: "0", stubs: []string{"docker", "apt-get"}, want: "MRSK_PRESENT", noLog: []string{"apt-get"}},
		{name: "apt as root", osRelease: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"` + "\nID=debian", uid: "0", stubs: []string{"apt-get", "service"},
			want: "MRSK_INSTALLED Debian GNU/Linux 12 (bookworm)", wantLog: []string{"apt-get update -q", "apt-get install -y -q docker.io", "service docker start"}, noLog: []string{"sudo", "usermod"}},
		{name: "apt through sudo", osRelease: `PRETTY_NAME="Ubuntu 24.04 LTS"` + "\nID=ubuntu\nID_LIKE=debian", uid: "1000", stubs: []string{"apt-get", "sudo", "usermod"},
			want: "MRSK_INSTALLED Ubuntu 24.04 LTS", wantLog: []string{"sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io", "usermod -aG docker deploy"}},
		{name: "dnf on fedora", osRelease: `PRETTY_NAME="Fedora Linux 40"` + "\nID=fedora", uid: "0", stubs: []string{"dnf"},
			want: "MRSK_INSTALLED Fedora Linux 40", wantLog: []string{"dnf install -y moby-engine"}},
		{name: "dnf elsewhere", osRelease: `PRETTY_NAME="Rocky Linux 9.4"` + "\nID=rocky\nID_LIKE=\"rhel centos fedora\"", uid: "0", stubs: []string{"dnf"},
			want: "MRSK_REFUSED Docker is missing on Rocky Linux 9.4, whose packages hold no Docker engine", noLog: []string{"dnf install"}},
		{name: "no root", osRelease: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`, uid: "1000", stubs: []string{"apt-get"},
			want: "MRSK_REFUSED Docker is missing and deploy is not root and cannot use sudo without a password on Debian GNU/Linux 12 (bookworm)", noLog: []string{"apt-get"}},
		{name: "other package manager", osRelease: `PRETTY_NAME="Alpine Linux v3.20"` + "\nID=alpine", uid: "0", stubs: []string{"apk"},
			want: "MRSK_REFUSED Docker is missing on Alpine Linux v3.20, and mrsk installs it only with apt", noLog: []string{"apk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			os.Mkdir(bin, 0o755)
			stub(bin, "id", `case "$1" in -u) echo `+tt.uid+`;; -un) echo `+map[bool]string{true: "root", false: "deploy"}[tt.uid == "0"]+`;; esac`)
			for _, s := range tt.stubs {
				switch s {
				case "docker":
					stub(bin, "docker", "exit 0")
				case "sudo":
					stub(bin, "sudo", `[ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; exec "$@"`)
				case "apt-get", "dnf":
					stub(bin, s, installDocker)
				default:
					stub(bin, s, "exit 0")
				}
			}
			rel := filepath.Join(dir, "os-release")
			os.WriteFile(rel, []byte(tt.osRelease+"\n"), 0o644)
			log := filepath.Join(dir, "log")
			cmd := exec.Command(filepath.Join(tools, "sh"), "-c", bootstrapScript)
			cmd.Env = []string{"PATH=" + bin + ":" + tools, "LOG=" + log, "BIN=" + bin, "MRSK_OS_RELEASE=" + rel}
			out, _ := cmd.Output()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if got := lines[len(lines)-1]; !strings.HasPrefix(got, tt.want) {
				t.Errorf("last line %q, want %q", got, tt.want)
			}
			b, _ := os.ReadFile(log)
			for _, w := range tt.wantLog {
				if !strings.Contains(string(b), w) {
					t.Errorf("log lacks %q:\n%s", w, b)
				}
			}
			for _, w := range tt.noLog {
				if strings.Contains(string(b), w) {
					t.Errorf("log has %q:\n%s", w, b)
				}
			}
		})
	}
}
