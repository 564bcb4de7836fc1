// Package traefik is what mrsk knows of Traefik: the docker run line that
// starts it, the route files it reads, and its API, read to confirm a
// switch. Traefik on each host routes by files mrsk writes (the file
// provider), not by container labels: labels cannot change on a running
// container, so they cannot take an old container out of rotation before
// it stops. Nothing here knows Starlark or how a command reaches a host.
package traefik

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/shellwords"
	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

const (
	// Name is the Traefik container's name on every host.
	Name = "traefik"
	// APIPort is the "traefik" entry point, where the API listens. It is
	// never published: only the host itself reaches it (APIRouteScript).
	APIPort = "8080"
)

const (
	// Resolver is the certificate resolver of traefik.tls.acme.
	Resolver = "mrsk"
	// HTTPSPort is where the websecure entry point listens, and is
	// published, with traefik.tls.
	HTTPSPort = 443
	// acmeDir holds acme.json in the container; on the host it is a
	// directory of mrsk's state, so certificates survive a Traefik
	// reboot, a host reboot and `traefik remove`.
	acmeDir = "/etc/traefik/acme"
)

// Mount placeholders stand for host paths in args: the hash must not
// depend on how a path is written on the command line.
const (
	routesMount = "ROUTES:/etc/traefik/dynamic:ro"
	acmeMount   = "ACME:" + acmeDir
)

// args are the run words for c on runtime r. envFile is the secret env
// file's path, used when c has secrets. resolver says this host's Traefik
// orders the ACME certificate (config.TLSPrimary). Traefik reads routes
// from files only, on either runtime: no engine socket is mounted.
func args(r container.Runtime, c config.Traefik, envFile string, resolver bool) []string {
	words := []string{r.Bin(), "run", "--detach", "--restart", "unless-stopped", "--name", Name, "--network", container.Network}
	if c.Publishes() { // traefik.publish: false publishes nothing
		words = append(words, "--publish", fmt.Sprintf("%d:80", c.HostPort))
	}
	if c.TLS != nil && c.Publishes() {
		words = append(words, "--publish", fmt.Sprintf("%d:%d", HTTPSPort, HTTPSPort))
	}
	words = append(words, "--volume", routesMount)
	if resolver {
		words = append(words, "--volume", acmeMount)
	}
	words = append(words, "--log-opt", "max-size=10m")
	for _, k := range slices.Sorted(maps.Keys(c.Env.Clear)) {
		words = append(words, "-e", k+"="+c.Env.Clear[k])
	}
	if len(c.Env.Secret) > 0 {
		words = append(words, "--env-file", envFile)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		words = append(words, "--label", k+"="+c.Labels[k])
	}
	words = append(words, container.OptionArgs(c.Options)...)
	words = append(words, r.Qualify(c.Image),
		"--entrypoints.web.address=:80",
		"--entrypoints.traefik.address=:"+APIPort,
		"--providers.file.directory=/etc/traefik/dynamic",
		"--providers.file.watch=true",
		"--providers.providersThrottleDuration=500ms",
		// The API is routed by APIRouteScript's file: only the host
		// itself (mrsk, through SSH) reaches it, not the apps on the
		// shared network.
		"--api=true", "--api.dashboard=false",
		"--ping=true",
		// Per-service request counts for a canary's judgement
		// (traefik/metrics), on the API's entry point and routed like
		// the API (APIRouteScript): only the host itself reads them.
		// Always on, so that `deploy --canary` needs no Traefik reboot.
		"--metrics.prometheus=true",
		"--metrics.prometheus.entrypoint=traefik",
		"--metrics.prometheus.addserviceslabels=true",
		"--metrics.prometheus.addentrypointslabels=false",
		"--metrics.prometheus.manualrouting=true",
		"--global.checknewversion=false", "--global.sendanonymoususage=false")
	words = append(words, tlsArgs(c.TLS, resolver)...)
	for _, k := range slices.Sorted(maps.Keys(c.Args)) {
		v := c.Args[k]
		if v == nil {
			words = append(words, "--"+k)
		} else {
			words = append(words, fmt.Sprintf("--%s=%v", k, v))
		}
	}
	return words
}

// tlsArgs are the entry point and, on the resolver host, the ACME
// resolver of traefik.tls. The HTTP-01 challenge is answered on the web
// entry point; a redirect to HTTPS is per router (route files), which
// Traefik's challenge handler takes precedence over.
func tlsArgs(t *config.TLS, resolver bool) []string {
	if t == nil {
		return nil
	}
	out := []string{fmt.Sprintf("--entrypoints.websecure.address=:%d", HTTPSPort)}
	if !resolver || t.ACME == nil {
		return out
	}
	r := "--certificatesresolvers." + Resolver + ".acme."
	out = append(out, r+"email="+t.ACME.Email, r+"storage="+acmeDir+"/acme.json", r+"httpchallenge.entrypoint=web")
	if t.ACME.CAServer != "" {
		out = append(out, r+"caserver="+t.ACME.CAServer)
	}
	return out
}

// EntryPoints are the public entry points of c, where a router whose
// labels name none listens (as Traefik puts such a router on every entry
// point): see dynamic.EntryPoints.
func EntryPoints(c config.Traefik) []string {
	return dynamic.EntryPoints(slices.Collect(maps.Keys(c.Args)), c.TLS != nil)
}

// Mounts are the host paths (shell words) of Traefik's volumes.
type Mounts struct {
	Routes string // the route directory, read-only in the container
	ACME   string // the directory of acme.json (resolver host only)
}

// Command is the run line for Traefik on runtime r, and the hash of its
// configuration; the hash, as a label, tells whether a running Traefik has
// the configuration we want. Secret values are not in it: their change is
// seen by comparing env files on the host.
func Command(r container.Runtime, c config.Traefik, m Mounts, envFile string, resolver bool) (line, hash string) {
	words := args(r, c, envFile, resolver)
	sum := sha256.Sum256([]byte(strings.Join(words, "\x00")))
	hash = hex.EncodeToString(sum[:6])
	var out []string
	for i, w := range words {
		if i > 0 && words[i-1] == "--volume" {
			if rest, ok := strings.CutPrefix(w, "ROUTES"); ok && w == routesMount {
				out = append(out, m.Routes+shellwords.Quote(rest))
				continue
			}
			if rest, ok := strings.CutPrefix(w, "ACME"); ok && w == acmeMount {
				out = append(out, m.ACME+shellwords.Quote(rest))
				continue
			}
		}
		out = append(out, shellwords.Quote(w))
	}
	// The label goes right after --name, before anything configurable.
	line = strings.Join(out[:7], " ") + " --label " + shellwords.Quote("mrsk.config="+hash) + " " + strings.Join(out[7:], " ")
	return line, hash
}

// APIRouteScript writes file, the route of Traefik's API and of its
// Prometheus metrics on their own entry point, allowed only from the gateways of the mrsk network: connections
// that the host itself opens (mrsk's, through SSH) come from there; an app
// container's come from its own address and are refused (403). An
// unchanged file is left as it is: a rewrite would make Traefik reload.
// tmp is where the new content is compared, outside the directory Traefik
// watches, so an unchanged file makes no event there at all.
func APIRouteScript(r container.Runtime, file, tmp string) string {
	// Podman's network inspect (netavark) lists subnets, not IPAM.
	gateways := `{{range .IPAM.Config}}{{.Gateway}} {{end}}`
	if r == container.Podman {
		gateways = `{{range .Subnets}}{{.Gateway}} {{end}}`
	}
	return `gw=$(` + r.Bin() + ` network inspect -f '` + gateways + `' ` + container.Network + `) && ` +
		`ranges=$(for g in $gw; do printf '"%s/32", ' "$g"; done) && ` +
		`printf 'http:\n  routers:\n    mrsk_internal_api:\n      rule: "PathPrefix(%s/api%s)"\n      entryPoints: ["traefik"]\n      service: api@internal\n      middlewares: ["mrsk_internal_api_local"]\n    mrsk_internal_metrics:\n      rule: "Path(%s/metrics%s)"\n      entryPoints: ["traefik"]\n      service: prometheus@internal\n      middlewares: ["mrsk_internal_api_local"]\n  middlewares:\n    mrsk_internal_api_local:\n      ipAllowList:\n        sourceRange: [%s]\n' '` + "`" + `' '` + "`" + `' '` + "`" + `' '` + "`" + `' "${ranges%, }" > ` + tmp + ` && ` +
		`{ cmp -s ` + tmp + ` ` + file + ` && rm -f ` + tmp + ` || mv ` + tmp + ` ` + file + `; }`
}
