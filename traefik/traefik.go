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
)

const (
	// Name is the Traefik container's name on every host.
	Name = "traefik"
	// APIPort is the "traefik" entry point, where the API listens. It is
	// never published: only the host itself reaches it (APIRouteScript).
	APIPort = "8080"
)

// routesMount stands for the route directory's host path in args: the
// hash must not depend on how that path is written on the command line.
const routesMount = "ROUTES:/etc/traefik/dynamic:ro"

// args are the docker run words for c. envFile is the secret env file's
// path, used when c has secrets.
func args(c config.Traefik, envFile string) []string {
	words := []string{"docker", "run", "--detach", "--restart", "unless-stopped", "--name", Name, "--network", container.Network,
		"--publish", fmt.Sprintf("%d:80", c.HostPort),
		"--volume", routesMount,
		"--log-opt", "max-size=10m"}
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
	words = append(words, c.Image,
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
		"--global.checknewversion=false", "--global.sendanonymoususage=false")
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

// Command is the docker run line for Traefik, mounting routes (the route
// directory on the host, already a shell word), and the hash of its
// configuration; the hash, as a label, tells whether a running Traefik has
// the configuration we want. Secret values are not in it: their change is
// seen by comparing env files on the host.
func Command(c config.Traefik, routes, envFile string) (line, hash string) {
	words := args(c, envFile)
	sum := sha256.Sum256([]byte(strings.Join(words, "\x00")))
	hash = hex.EncodeToString(sum[:6])
	var out []string
	for i, w := range words {
		if i > 0 && words[i-1] == "--volume" && strings.HasPrefix(w, "ROUTES:") {
			out = append(out, routes+shellwords.Quote(strings.TrimPrefix(w, "ROUTES")))
			continue
		}
		out = append(out, shellwords.Quote(w))
	}
	// The label goes right after --name, before anything configurable.
	line = strings.Join(out[:7], " ") + " --label " + shellwords.Quote("mrsk.config="+hash) + " " + strings.Join(out[7:], " ")
	return line, hash
}

// APIRouteScript writes file, the route of Traefik's API on its own entry
// point, allowed only from the gateways of the mrsk network: connections
// that the host itself opens (mrsk's, through SSH) come from there; an app
// container's come from its own address and are refused (403). An
// unchanged file is left as it is: a rewrite would make Traefik reload.
func APIRouteScript(file string) string {
	return `gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' ` + container.Network + `) && ` +
		`ranges=$(for g in $gw; do printf '"%s/32", ' "$g"; done) && ` +
		`printf 'http:\n  routers:\n    mrsk_internal_api:\n      rule: "PathPrefix(%s/api%s)"\n      entryPoints: ["traefik"]\n      service: api@internal\n      middlewares: ["mrsk_internal_api_local"]\n  middlewares:\n    mrsk_internal_api_local:\n      ipAllowList:\n        sourceRange: [%s]\n' '` + "`" + `' '` + "`" + `' "${ranges%, }" > ` + file + `.tmp && ` +
		`{ cmp -s ` + file + `.tmp ` + file + ` && rm -f ` + file + `.tmp || mv ` + file + `.tmp ` + file + `; }`
}
