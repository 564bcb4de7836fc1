package container

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Runtime is a host's container runtime CLI: every step becomes that
// runtime's command. Docker and Podman (rootful) agree on most words;
// the methods hold where they differ (ps templates, loopback pulls, what
// brings containers back after a reboot).
type Runtime string

// The runtimes mrsk drives.
const (
	Docker Runtime = "docker"
	Podman Runtime = "podman"
)

// Bin is the runtime's command.
func (r Runtime) Bin() string {
	if r == "" {
		return string(Docker)
	}
	return string(r)
}

// Words prefixes args with the runtime's command, quoted into one line.
func (r Runtime) Words(args ...string) string {
	return shellwords.Join(append([]string{r.Bin()}, args...)...)
}

// BootFile lists, on a Podman host, the containers mrsk left running and
// their addresses, for BootUnit to start after a reboot. Podman has no
// daemon to honour --restart unless-stopped at boot, and Debian's
// podman-restart.service starts every container with restart policy
// always, the stopped old versions kept for rollback included: a list
// kept by mrsk does neither.
const BootFile = ".mrsk/podman-running"

// BootUnit is the systemd unit that runs BootScript at boot; Preflight
// installs and enables it on Podman hosts.
const BootUnit = "mrsk-podman-boot.service"

// BootScript (in the SSH user's home) starts BootFile's containers, then
// gives Traefik's route files their new addresses: Podman's address
// allocations live in /run and a reboot hands out new ones, while routes
// name addresses (the switch's protocol: a name would follow a same-version
// redeploy's new container before its health check).
const BootScript = ".mrsk/podman-boot.sh"

// RoutesDir is where Traefik's route files are, in the SSH user's home.
const RoutesDir = ".mrsk/traefik/dynamic"

// bootSnapshot rewrites BootFile, "name address" a line, for the running
// containers whose restart policy is unless-stopped (app, accessories,
// Traefik: all mrsk runs that way), atomically (a temporary file per shell:
// two roles' commands may change one host at once).
const bootSnapshot = `mkdir -p "$HOME"/.mrsk && { ids=$(podman ps -q --filter restart-policy=unless-stopped) && ` +
	`{ [ -z "$ids" ] || podman inspect -f '{{.Name}} {{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}' $ids; }; } >"$HOME"/` +
	BootFile + `.tmp.$$ 2>/dev/null && mv -f "$HOME"/` + BootFile + `.tmp.$$ "$HOME"/` + BootFile + ` || rm -f "$HOME"/` + BootFile + `.tmp.$$`

// Changed wraps a line that starts, stops or removes containers. On
// Podman the running set is written to BootFile after it, whatever its
// outcome (a failed stop may still have stopped some), keeping line's
// exit status; on Docker the daemon remembers and line is unchanged.
func (r Runtime) Changed(line string) string {
	if r != Podman {
		return line
	}
	return "{ { " + line + "; }; mrsk_rc=$?; " + bootSnapshot + "; (exit $mrsk_rc); }"
}

// Preflight is the first command on a host: it checks that the runtime
// is installed and answers, and prints "MRSK_RUNTIME <runtime> <version>".
// On Podman it also requires root (rootless Podman cannot publish ports
// 80/443 for Traefik nor give it the containers' addresses) and installs
// BootScript and BootUnit (when they differ). Its exit status says what
// is wrong: see PreflightError.
func (r Runtime) Preflight() string {
	b := r.Bin()
	check := fmt.Sprintf(`command -v %s >/dev/null 2>&1 || exit 127; `, b)
	if r == Podman {
		return check +
			`v=$(podman version --format '{{.Client.Version}}' 2>&1) || { printf '%s\n' "$v" | tail -n 3 >&2; exit 125; }; ` +
			`[ "$(id -u)" = 0 ] || exit 126; ` +
			unitSetup(BootScript, bootScript, BootUnit, bootUnit, "multi-user.target") +
			`echo "MRSK_RUNTIME podman $v systemd=$sd"`
	}
	// Docker: the routes unit needs root to be installed; a docker-group
	// user deploys without it (ParsePreflight says so).
	return check +
		`v=$(docker version --format '{{.Server.Version}}' 2>&1) || { printf '%s\n' "$v" | tail -n 3 >&2; exit 125; }; ` +
		`if [ "$(id -u)" != 0 ]; then sd=nonroot; else ` +
		unitSetup(DockerRoutesScript, dockerRoutesScript, DockerRoutesUnit, dockerRoutesUnit, "docker.service") +
		`fi; echo "MRSK_RUNTIME docker $v systemd=$sd"`
}

// unitSetup installs script (in the home) and unit with their texts
// (@HOME@ becomes the home) and enables unit, leaving in sd "yes", "no"
// (no systemctl) or "failed" (a host where they cannot be written still
// deploys). The unit carries a stamp of both texts: on every connect but
// the first after mrsk changed them, one grep and two tests find them in
// place, where installing took a dozen processes (~0.1 s).
func unitSetup(script, scriptText, unit, unitText, wantedBy string) string {
	sum := sha256.Sum256([]byte(scriptText + unitText))
	stamp := "# mrsk: " + hex.EncodeToString(sum[:6])
	unitText += stamp + "\n"
	install := func(file, content, mode string) string {
		return `printf '%s' ` + shellwords.Quote(content) + ` | sed "s|@HOME@|$HOME|g" >` + file + `.new && chmod ` + mode + ` ` + file + `.new && ` +
			`{ cmp -s ` + file + `.new ` + file + ` && rm -f ` + file + `.new || mv -f ` + file + `.new ` + file + `; }`
	}
	unitFile := "/etc/systemd/system/" + unit
	return `if grep -qsxF ` + shellwords.Quote(stamp) + ` ` + unitFile + ` && [ -L /etc/systemd/system/` + wantedBy + `.wants/` + unit + ` ] && [ -x "$HOME"/` + script + ` ]; then sd=yes; ` +
		`elif { mkdir -p "$HOME"/.mrsk /etc/systemd/system && ` + install(`"$HOME"/`+script, scriptText, "0755") + ` && ` + install(unitFile, unitText, "0644") + `; } 2>/dev/null; then ` +
		// systemctl enable works with or without a running systemd (it
		// links the unit); only a host without systemctl has no unit.
		`sd=no; if command -v systemctl >/dev/null 2>&1; then sd=yes; systemctl is-enabled --quiet ` + unit + ` 2>/dev/null || systemctl enable ` + unit + ` >/dev/null 2>&1 || sd=failed; fi; ` +
		`else sd=failed; fi; `
}

// DockerRoutesUnit is the systemd unit that runs DockerRoutesScript each
// time Docker's daemon starts (a reboot, an upgrade, a restart);
// Preflight installs and enables it on Docker hosts when mrsk connects as
// root.
const DockerRoutesUnit = "mrsk-docker-routes.service"

// DockerRoutesScript (in the SSH user's home) gives Traefik's route files
// the addresses Docker gave their containers when its daemon started:
// Docker allocates addresses afresh then (measured on Docker 20.10: two
// containers of three moved after a daemon restart), while routes name
// addresses, so a route would reach no container, or another one. Each
// route file names the container behind each address in a comment
// (dynamic.ContainerComment).
const DockerRoutesScript = ".mrsk/docker-routes.sh"

const dockerRoutesUnit = `# Written by mrsk: after Docker's daemon starts, gives Traefik's routes
# (@HOME@/` + RoutesDir + `) the addresses Docker gave their containers.
[Unit]
Description=mrsk: point Traefik's routes at the containers' addresses after Docker starts
After=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=true
ExecStart=/bin/sh @HOME@/` + DockerRoutesScript + `

[Install]
WantedBy=docker.service
`

// dockerRoutesScript is DockerRoutesScript's text; @HOME@ as in bootUnit.
const dockerRoutesScript = `#!/bin/sh
# Written by mrsk, run by ` + DockerRoutesUnit + ` when Docker starts.
dir=@HOME@/` + RoutesDir + `
ls "$dir"/*.yml >/dev/null 2>&1 || exit 0
# Docker starts unless-stopped containers as its daemon starts; allow it a minute.
end=$(( $(date +%s) + 60 ))
until docker version >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || exit 0; sleep 1; done
for r in "$dir"/*.yml; do
  [ -f "$r" ] || continue
  a= b= n=0
  for pair in $(sed -n 's|^# mrsk-container \([^ ]*\) //\([0-9.]*\):$|\1=\2|p' "$r"); do
    name=${pair%%=*} old=${pair#*=}
    while :; do
      new=$(docker inspect -f '{{if .State.Running}}{{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}{{end}}' "$name" 2>/dev/null) || break
      [ -z "$new" ] && [ "$(date +%s)" -lt "$end" ] || break
      sleep 1
    done
    [ -n "$new" ] && [ "$new" != "$old" ] || continue
    n=$((n + 1))
    # two passes through placeholders: addresses may trade places
    a="$a -e s|//$(echo "$old" | sed 's/\./\\./g')\([:/]\)|//@$n@\1|g"
    b="$b -e s|//@$n@\([:/]\)|//$new\1|g"
  done
  [ -n "$a" ] || continue
  key=$(basename "$r" .yml)
  t=@HOME@/.mrsk/$key.routes.$$
  mkdir -p @HOME@/.mrsk/traefik/previous
  # under the route's lock: a deploy's write never interleaves
  ( set -f; flock 9 && sed $a $b "$r" >"$t" && mv -f "$t" "$r" ) 9>@HOME@/.mrsk/traefik/previous/lock."$key" || rm -f "$t"
done
exit 0
`

// bootUnit is BootUnit's text; @HOME@ becomes the SSH user's home.
const bootUnit = `# Written by mrsk: starts the containers mrsk left running on this Podman
# host (listed in @HOME@/` + BootFile + `), as Docker's daemon does for
# --restart unless-stopped. Stopped containers (kept for rollback) stay stopped.
[Unit]
Description=mrsk: start the Podman containers that ran before the reboot
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=true
ExecStart=/bin/sh @HOME@/` + BootScript + `

[Install]
WantedBy=multi-user.target
`

// bootScript is BootScript's text (see there); @HOME@ as in bootUnit.
const bootScript = `#!/bin/sh
# Written by mrsk, run at boot by ` + BootUnit + `.
list=@HOME@/` + BootFile + `
[ -s "$list" ] || exit 0
awk '{print $1}' "$list" | xargs -r podman start >/dev/null || true
a= b= n=0
while read -r name old; do
  [ -n "$old" ] || continue
  new=$(podman inspect -f '{{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}' "$name" 2>/dev/null) || continue
  [ -n "$new" ] && [ "$new" != "$old" ] || continue
  n=$((n + 1))
  # two passes through placeholders: addresses may trade places
  a="$a -e s|//$(echo "$old" | sed 's/\./\\./g'):|//@$n@:|g"
  b="$b -e s|//@$n@:|//$new:|g"
done <"$list"
[ -n "$a" ] || exit 0
for r in @HOME@/` + RoutesDir + `/*.yml; do
  [ -f "$r" ] || continue
  t=@HOME@/.mrsk/$(basename "$r").boot
  sed $a $b "$r" >"$t" && { cmp -s "$t" "$r" && rm -f "$t" || mv -f "$t" "$r"; }
done
podman inspect -f '{{.Name}} {{with index .NetworkSettings.Networks "` + Network + `"}}{{.IPAddress}}{{end}}' $(awk '{print $1}' "$list") >"$list.tmp" 2>/dev/null && mv -f "$list.tmp" "$list"
exit 0
`

// PreflightInfo is what Preflight printed.
type PreflightInfo struct {
	Version string
	// NoSystemd: a host where mrsk's unit (BootUnit on Podman,
	// DockerRoutesUnit on Docker) is not enabled: no systemctl, or (Docker)
	// mrsk connects as a user other than root.
	NoSystemd bool
	// Unit says why the unit is not enabled when NoSystemd: "no" (no
	// systemctl), "failed" (it could not be written or enabled),
	// "nonroot" (Docker, not connected as root).
	Unit string
}

// ParsePreflight reads Preflight's output.
func ParsePreflight(out string) PreflightInfo {
	var info PreflightInfo
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "MRSK_RUNTIME" {
			info.Version = f[2]
			info.NoSystemd = len(f) >= 4 && f[3] != "systemd=yes"
			if info.NoSystemd {
				info.Unit = strings.TrimPrefix(f[3], "systemd=")
			}
		}
	}
	return info
}

// PreflightError turns Preflight's exit status into what to tell the user
// about host; stderr is what the runtime said.
func (r Runtime) PreflightError(host, user string, code int, stderr string) error {
	said := strings.Join(strings.Fields(stderr), " ")
	switch code {
	case 127:
		return fmt.Errorf("%s is not installed on %s (runtime: %s): install it, or set runtime to what the host runs", r.Bin(), host, r.Bin())
	case 126:
		return fmt.Errorf("podman on %s would run rootless as %s: mrsk needs rootful Podman (Traefik publishes ports 80/443 and reaches the app containers on the mrsk network); connect as root (ssh.user: root)", host, user)
	case 125:
		return fmt.Errorf("%s on %s does not answer: %s", r.Bin(), host, said)
	}
	return fmt.Errorf("checking %s on %s: exit status %d: %s", r.Bin(), host, code, said)
}

// Qualify gives Podman the reference Docker would use: Docker reads a
// name without a registry as Docker Hub's ("redis:7" is
// docker.io/library/redis:7), Podman refuses short names unless the host
// configured search registries. Config images are Docker references.
func (r Runtime) Qualify(ref string) string {
	if r != Podman || ref == "" {
		return ref
	}
	first, rest, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref // a registry host already
	}
	if !found {
		return "docker.io/library/" + ref
	}
	return "docker.io/" + first + "/" + rest
}

// Changes reports whether the runtime subcommand args (without the
// command itself) may start, stop or remove a container: on Podman such a
// command must be followed by the boot list's update (Changed).
func Changes(args []string) bool {
	if len(args) > 1 && args[0] == "container" {
		args = args[1:]
	}
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "run", "start", "stop", "restart", "rm", "kill", "pause", "unpause":
		return true
	}
	return false
}

// Translate adapts runtime args written for docker (flows' docker(...)
// calls) to r: on Podman, a ps template's docker-only fields become
// Podman's. Everything else is the same on both.
func (r Runtime) Translate(args []string) []string {
	if r != Podman || len(args) == 0 {
		return args
	}
	ps := args[0] == "ps" || len(args) > 1 && args[0] == "container" && (args[1] == "ls" || args[1] == "ps" || args[1] == "list")
	if !ps {
		return args
	}
	out := append([]string{}, args...)
	for i, a := range out {
		if i > 0 && out[i-1] == "--format" {
			out[i] = PodmanPsTemplate(a)
		} else if v, ok := strings.CutPrefix(a, "--format="); ok {
			out[i] = "--format=" + PodmanPsTemplate(v)
		}
	}
	return out
}

// labelRE matches docker's ps template call {{.Label "name"}}.
var labelRE = regexp.MustCompile(`\.Label\s+("[^"]*")`)

// PodmanPsTemplate rewrites a docker ps template for podman ps: .Label
// "x" is index .Labels "x" there, and .State is the raw state (podman's
// .State is the human status, as docker's .Status).
func PodmanPsTemplate(t string) string {
	t = labelRE.ReplaceAllString(t, `index .Labels $1`)
	return stateRE.ReplaceAllString(t, `.ListContainer.State$1`)
}

// stateRE matches the field .State, not .StateX or .Status.
var stateRE = regexp.MustCompile(`\.State(\W|$)`)

// BootCleanup removes BootUnit, BootScript and BootFile when BootFile
// lists no container any more (the host's last service was removed);
// another service's containers keep them. On Docker it removes
// DockerRoutesUnit and DockerRoutesScript when no route names a container.
func (r Runtime) BootCleanup() string {
	if r != Podman {
		// Docker: the routes unit goes with the last route that names a
		// container.
		return `if ! grep -qs '^# mrsk-container ' "$HOME"/` + RoutesDir + `/*.yml; then ` +
			`{ ! command -v systemctl >/dev/null 2>&1 || systemctl disable ` + DockerRoutesUnit + ` >/dev/null 2>&1; }; ` +
			`rm -f /etc/systemd/system/` + DockerRoutesUnit + ` "$HOME"/` + DockerRoutesScript + `; fi`
	}
	return `if [ ! -s "$HOME"/` + BootFile + ` ]; then ` +
		`{ ! command -v systemctl >/dev/null 2>&1 || systemctl disable ` + BootUnit + ` >/dev/null 2>&1; }; ` +
		`rm -f /etc/systemd/system/` + BootUnit + ` "$HOME"/` + BootScript + ` "$HOME"/` + BootFile + `; fi`
}
