package config

import (
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/mrsk-go/mrsk/shellwords"
)

// The checks in this file catch, while loading, values that would otherwise
// pass until a remote command rejects them: after the deploy lock is taken
// and the image is built. Each returns "" for a good value, or the message
// the loader reports at the value's file:line and key.

// Image references, after the grammar of Docker's distribution/reference.
const (
	refComponent       = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	refDomainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomain          = `(?:` + refDomainComponent + `(?:\.` + refDomainComponent + `)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?`
	refPath            = refComponent + `(?:/` + refComponent + `)*`
	refTag             = `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
	refDigest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
)

var (
	// repositoryRE is an image without tag or digest: the service's image,
	// to which mrsk adds the version as the tag.
	repositoryRE = regexp.MustCompile(`^(?:` + refDomain + `/)?` + refPath + `$`)
	// imageRefRE is a complete reference (accessories, Traefik).
	imageRefRE = regexp.MustCompile(`^(?:` + refDomain + `/)?` + refPath + `(?::` + refTag + `)?(?:@` + refDigest + `)?$`)
	// registryRE is a registry server, optionally with a namespace path.
	registryRE = regexp.MustCompile(`^` + refDomain + `(?:/` + refPath + `)?$`)
	// TagRE is a valid image tag: what a version must be.
	TagRE = regexp.MustCompile(`^` + refTag + `$`)

	// hostNameRE is a DNS name, an IPv4 address or an ssh_config alias.
	hostNameRE = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?$`)
	// sshUserRE is a login name as OpenSSH accepts it on the command line.
	sshUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)
	// optionKeyRE is a docker run / Traefik option name (without "--").
	optionKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// containerEnvRE is a container environment variable name: a shell
	// name, or the dotted names some runtimes read (spring.profiles.active).
	containerEnvRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	// versionRE is minimum_version: dotted numbers.
	versionRE = regexp.MustCompile(`^v?[0-9]+(?:\.[0-9]+)*$`)
	// volumeNameRE is a named docker volume.
	volumeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// archRE is a builder arch, used as linux/ARCH.
	archRE = regexp.MustCompile(`^[a-z0-9]+(?:/[a-z0-9]+)?$`)
	// logDriverRE is a docker logging driver (plugins may be repo/name:tag).
	logDriverRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./:-]*$`)
)

// checkRepository checks the service's image: a repository that the version
// will tag, so it carries no tag or digest of its own.
func checkRepository(s string) string {
	if repositoryRE.MatchString(s) {
		return ""
	}
	last := s[strings.LastIndexByte(s, '/')+1:]
	if strings.ContainsAny(last, ":@") {
		return `must not carry a tag or digest: the tag is the version (--version, default the git HEAD sha)`
	}
	return `must be an image name like "me/app" or "registry.example.com:5000/me/app" (lowercase letters, digits, '.', '_', '-' and '/')`
}

// checkImageRef checks a full image reference, tag and digest allowed.
func checkImageRef(s string) string {
	if imageRefRE.MatchString(s) {
		return ""
	}
	return `must be an image reference like "mysql:8.0" or "registry.example.com/me/db:1" (lowercase name, then an optional :tag and @digest)`
}

func checkRegistryServer(s string) string {
	if registryRE.MatchString(s) {
		return ""
	}
	return `must be a registry host like "ghcr.io" or "registry.example.com:5000" (no scheme, no spaces)`
}

// checkHost checks a host of servers or accessories: [user@]host[:port],
// where host is a DNS name, an ssh_config alias or an IP address (IPv6 as
// [::1] or bare). The forms are those sshpool parses.
func checkHost(s string) string {
	const bad = `must be a host name or address, optionally user@HOST and HOST:PORT`
	s = strings.TrimPrefix(s, "ssh://")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if !sshUserRE.MatchString(s[:i]) {
			return bad + " (invalid user)"
		}
		s = s[i+1:]
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return bad
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return bad
			}
			port = p
		}
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return bad + " (invalid IPv6 address)"
		}
	case strings.Count(s, ":") > 1: // a bare IPv6 literal
		if net.ParseIP(s) == nil {
			return bad + " (invalid IPv6 address)"
		}
		return ""
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
		fallthrough
	default:
		if !hostNameRE.MatchString(host) {
			return bad
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad + " (port must be between 1 and 65535)"
		}
	}
	return ""
}

// checkPublish checks an accessory port: PORT, HOST_PORT:CONTAINER_PORT or
// IP:HOST_PORT:CONTAINER_PORT (IP may be [IPv6]; HOST_PORT may be empty
// there, for a random one), each optionally ending in /tcp, /udp or /sctp.
func checkPublish(s string) string {
	const bad = `must be PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT (optionally ending in /tcp or /udp)`
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		switch s[i+1:] {
		case "tcp", "udp", "sctp":
			s = s[:i]
		default:
			return bad
		}
		if !strings.Contains(s, ":") {
			// mrsk publishes a bare PORT as PORT:PORT, which cannot carry
			// the protocol twice.
			return bad + ` (with a protocol, give both ports: "53:53/udp")`
		}
	}
	ip := ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return bad
		}
		ip, s = s[1:end], s[end+2:]
		if net.ParseIP(ip) == nil {
			return bad + " (invalid IP address)"
		}
	}
	parts := strings.Split(s, ":")
	if ip == "" && len(parts) == 3 {
		ip, parts = parts[0], parts[1:]
		if net.ParseIP(ip) == nil {
			return bad + " (invalid IP address)"
		}
	}
	if len(parts) > 2 || (ip != "" && len(parts) != 2) {
		return bad
	}
	for i, p := range parts {
		if p == "" && ip != "" && i == 0 && len(parts) == 2 {
			continue // IP::PORT: a random host port on IP
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return bad
		}
		if n < 1 || n > 65535 {
			return "must be a port number between 1 and 65535"
		}
	}
	return ""
}

// volumeModes are the options docker accepts after a bind or volume.
var volumeModes = map[string]bool{
	"ro": true, "rw": true, "z": true, "Z": true, "nocopy": true,
	"shared": true, "rshared": true, "slave": true, "rslave": true, "private": true, "rprivate": true,
	"consistent": true, "cached": true, "delegated": true,
}

// checkVolume checks a docker --volume value: CONTAINER_PATH,
// SOURCE:CONTAINER_PATH or SOURCE:CONTAINER_PATH:MODES, where SOURCE is a
// host path or a volume name and the container path is absolute.
func checkVolume(s string) string {
	const bad = `must be "SOURCE:/CONTAINER/PATH[:ro]" (SOURCE a host path or a volume name)`
	if strings.ContainsAny(s, "\n\r\x00") {
		return bad
	}
	parts := strings.Split(s, ":")
	var dst string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2, 3:
		if parts[0] == "" {
			return bad
		}
		if !strings.HasPrefix(parts[0], "/") && !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "~") &&
			!volumeNameRE.MatchString(parts[0]) {
			return bad + " (a volume name is letters, digits, '_', '.' and '-')"
		}
		dst = parts[1]
		if len(parts) == 3 {
			for _, m := range strings.Split(parts[2], ",") {
				if !volumeModes[m] {
					return bad + " (unknown mode " + strconv.Quote(m) + ")"
				}
			}
		}
	default:
		return bad
	}
	if !strings.HasPrefix(dst, "/") {
		return bad + " (the container path must be absolute)"
	}
	return ""
}

// checkLabelKey checks a docker label key: --label KEY=VALUE cannot hold a
// key with "=" or spaces.
func checkLabelKey(k string) string {
	if k == "" || strings.ContainsAny(k, "= \t\r\n") {
		return `invalid label key: must not be empty or contain "=" or spaces`
	}
	return ""
}

// checkTraefikLabel refuses a traefik.* label on a container that Traefik
// does not route to (Traefik itself, accessories).
func checkTraefikLabel(k string) string {
	if !strings.HasPrefix(strings.ToLower(k), "traefik.") {
		return ""
	}
	return "Traefik label not supported: Traefik routes by the files mrsk writes, not by container labels (it has no Docker socket); traefik.* labels are read from a role's or the top-level labels only"
}

// checkHealthPath checks healthcheck.path, requested as http://ADDR:PORT+path.
func checkHealthPath(s string) string {
	if !strings.HasPrefix(s, "/") {
		return `must start with "/", like "/up"`
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	if strings.Contains(s, "#") {
		return `must not contain "#" (a URL fragment is never sent)`
	}
	return ""
}

// checkWords reports unbalanced quotes in a command that mrsk splits into
// words the way a shell would (role and accessory cmd): the same splitter
// judges it here as at deploy time.
func checkWords(s string) string {
	var qe *shellwords.QuoteError
	if _, err := shellwords.Split(s); errors.As(err, &qe) {
		return "unterminated " + qe.Kind + " quote"
	}
	return ""
}
