package builtins

// The server builtins: install the container runtime where it is missing
// (mrsk server bootstrap, which mrsk setup runs first), and an interactive
// command on a host (mrsk server exec --interactive).

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/shellwords"
)

// bootstrapScript installs Docker from the host's own package manager
// when the docker command is missing: docker.io with apt (Debian, Ubuntu),
// moby-engine with dnf (Fedora), as root or through sudo (never asking for
// a password). It prints one line for mrsk: MRSK_PRESENT, MRSK_INSTALLED
// OS, or MRSK_REFUSED reason (and exits 3).
const bootstrapScript = `if command -v docker >/dev/null 2>&1; then echo MRSK_PRESENT; exit 0; fi
rel=${MRSK_OS_RELEASE:-/etc/os-release}
os=$( . "$rel" 2>/dev/null && echo "${PRETTY_NAME:-$ID}" ); os=${os:-$(uname -s)}
osid=$( . "$rel" 2>/dev/null && echo "$ID" )
if [ "$(id -u)" -eq 0 ]; then SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"
else echo "MRSK_REFUSED Docker is missing and $(id -un) is not root and cannot use sudo without a password on $os: install Docker there, or connect as root"; exit 3; fi
if command -v apt-get >/dev/null 2>&1; then
  # A failed update (a mirror down) may still leave lists that install from.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || echo "apt-get update failed on $os; installing from the lists there are" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >&2 || exit 1
elif command -v dnf >/dev/null 2>&1; then
  case "$osid" in fedora) ;; *) echo "MRSK_REFUSED Docker is missing on $os, whose packages hold no Docker engine: install Docker from Docker's own repository (https://docs.docker.com/engine/install/)"; exit 3 ;; esac
  $SUDO dnf install -y moby-engine >&2 || exit 1
else echo "MRSK_REFUSED Docker is missing on $os, and mrsk installs it only with apt (Debian, Ubuntu) or dnf (Fedora): install Docker there"; exit 3; fi
if [ -d /run/systemd/system ]; then $SUDO systemctl enable --now docker >&2 || true
elif command -v service >/dev/null 2>&1; then $SUDO service docker start >&2 || true; fi
if [ -n "$SUDO" ]; then $SUDO usermod -aG docker "$(id -un)" >&2 || true; fi
i=0; until $SUDO docker version >/dev/null 2>&1; do
  i=$((i+1))
  # No init system started it (a container, WSL): start the daemon directly.
  if [ $i -eq 5 ] && command -v dockerd >/dev/null 2>&1; then echo "no init system started dockerd: starting it directly" >&2; $SUDO sh -c 'setsid dockerd >>/var/log/docker.log 2>&1 </dev/null &'; fi
  [ $i -lt 40 ] || { echo "MRSK_REFUSED Docker was installed on $os but its daemon does not answer (see /var/log/docker.log there)"; exit 3; }
  sleep 1
done
echo "MRSK_INSTALLED $os"`

// podmanBootstrapScript installs Podman (rootful: as root, which mrsk's
// Podman hosts need anyway) when the podman command is missing: podman
// with apt or dnf. Same output protocol as bootstrapScript.
const podmanBootstrapScript = `if command -v podman >/dev/null 2>&1; then echo MRSK_PRESENT; exit 0; fi
rel=${MRSK_OS_RELEASE:-/etc/os-release}
os=$( . "$rel" 2>/dev/null && echo "${PRETTY_NAME:-$ID}" ); os=${os:-$(uname -s)}
if [ "$(id -u)" -ne 0 ]; then echo "MRSK_REFUSED Podman is missing on $os and mrsk runs Podman rootful: connect as root (ssh.user: root)"; exit 3; fi
if command -v apt-get >/dev/null 2>&1; then
  env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || echo "apt-get update failed on $os; installing from the lists there are" >&2
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman >&2 || exit 1
elif command -v dnf >/dev/null 2>&1; then dnf install -y podman >&2 || exit 1
else echo "MRSK_REFUSED Podman is missing on $os, and mrsk installs it only with apt or dnf: install Podman there"; exit 3; fi
podman version >/dev/null 2>&1 || { echo "MRSK_REFUSED Podman was installed on $os but does not answer (podman version)"; exit 3; }
echo "MRSK_INSTALLED $os"`

// runtime_install(host) installs the host's runtime (Docker, or Podman
// with runtime: podman) if it is missing, from the host's package
// manager; returns "present" or "installed".
func bRuntimeInstall(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host); err != nil {
		return nil, err
	}
	c := executor.Command{Host: host, Line: bootstrapScript, Display: "install Docker from the package manager (apt-get install docker.io | dnf install moby-engine) unless `docker` is there", Timeout: 30 * time.Minute}
	what := "Docker"
	if rt.engine(host) == container.Podman {
		c.Line, c.Display, what = podmanBootstrapScript, "install Podman from the package manager (apt-get install podman | dnf install podman) unless `podman` is there", "Podman"
	}
	res, err := rt.run(t, c)
	out := strings.TrimSpace(res.Stdout)
	if i := strings.LastIndex(out, "MRSK_"); i >= 0 {
		out = out[i:]
	}
	if reason, ok := strings.CutPrefix(out, "MRSK_REFUSED "); ok {
		return nil, fmt.Errorf("on %s: %s", host, reason)
	}
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", what, err)
	}
	switch {
	case res.Planned:
		return starlark.String("planned"), nil
	case strings.HasPrefix(out, "MRSK_INSTALLED"):
		rt.progress(host, "installed "+what+" on "+strings.TrimSpace(strings.TrimPrefix(out, "MRSK_INSTALLED")))
		return starlark.String("installed"), nil
	default:
		rt.progress(host, what+" is installed")
		return starlark.String("present"), nil
	}
}

// ssh_interactive(host, cmd) runs cmd (shell syntax) on host with a
// terminal, through the system's ssh client (as Kamal does): this
// machine's terminal is the command's. Returns its exit code.
func bSSHInteractive(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, cmd string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "cmd", &cmd); err != nil {
		return nil, err
	}
	argv := rt.sshArgv(host, cmd)
	if rt.Exec.DryRun() {
		_, err := rt.run(t, executor.Command{Line: shellwords.Join(argv...)})
		return starlark.MakeInt(0), err
	}
	c := exec.CommandContext(engineCtx(t), argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return starlark.MakeInt(ee.ExitCode()), nil
		}
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.MakeInt(0), nil
}

// sshArgv is the ssh command line for cmd on host: ssh.user, ssh.port,
// ssh.proxy and ssh.keys of the config.
func (rt *Runtime) sshArgv(host, cmd string) []string {
	s := rt.Config.SSH
	argv := []string{"ssh", "-t"}
	if s.Port != 0 && s.Port != 22 {
		argv = append(argv, "-p", strconv.Itoa(s.Port))
	}
	if s.Proxy != "" {
		argv = append(argv, "-J", s.Proxy)
	}
	for _, k := range s.Keys {
		if rest, ok := strings.CutPrefix(k, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				k = home + "/" + rest
			}
		}
		argv = append(argv, "-i", k)
	}
	// mrsk reads ~ as $HOME, OpenSSH as the passwd entry's home: when they
	// differ (CI jobs, tests), ssh must check the host keys mrsk recorded,
	// not a stale file of another home.
	if home, err := os.UserHomeDir(); err == nil {
		if u, err := user.Current(); err == nil && u.HomeDir != home {
			argv = append(argv, "-o", "UserKnownHostsFile="+home+"/.ssh/known_hosts")
		}
	}
	target := host
	if s.User != "" && !strings.Contains(host, "@") {
		target = s.User + "@" + host
	}
	return append(argv, target, cmd)
}
