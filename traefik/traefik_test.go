package traefik

import (
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
)

// The command line and its hash are what a running Traefik is compared
// with: a change here makes every host's Traefik "changed" on the next
// deploy, so they are pinned.
func TestCommand(t *testing.T) {
	full := config.Traefik{Image: "traefik:v3.6", HostPort: 8081,
		Env:     config.Env{Clear: map[string]string{"B": "b c", "A": "1"}, Secret: map[string]config.Secret{"TOKEN": config.NewSecret("x")}},
		Labels:  map[string]string{"l": "v"},
		Options: map[string]any{"memory": "64m"},
		Args:    map[string]any{"log.level": "DEBUG", "accesslog": nil}}
	for _, tc := range []struct {
		c          config.Traefik
		line, hash string
	}{
		{full, `docker run --detach --restart unless-stopped --name traefik --label mrsk.config=abde4c7e5d91 --network mrsk --publish 8081:80 --volume "$HOME"/.mrsk/traefik/dynamic:/etc/traefik/dynamic:ro --log-opt max-size=10m -e A=1 -e 'B=b c' --env-file .mrsk/env/traefik/traefik.env --label l=v --memory 64m traefik:v3.6 --entrypoints.web.address=:80 --entrypoints.traefik.address=:8080 --providers.file.directory=/etc/traefik/dynamic --providers.file.watch=true --providers.providersThrottleDuration=500ms --api=true --api.dashboard=false --ping=true --metrics.prometheus=true --metrics.prometheus.entrypoint=traefik --metrics.prometheus.addserviceslabels=true --metrics.prometheus.addentrypointslabels=false --metrics.prometheus.manualrouting=true --global.checknewversion=false --global.sendanonymoususage=false --accesslog --log.level=DEBUG`, "abde4c7e5d91"},
		{config.Traefik{Image: "traefik:v3.6", HostPort: 80}, `docker run --detach --restart unless-stopped --name traefik --label mrsk.config=81250d9b966f --network mrsk --publish 80:80 --volume "$HOME"/.mrsk/traefik/dynamic:/etc/traefik/dynamic:ro --log-opt max-size=10m traefik:v3.6 --entrypoints.web.address=:80 --entrypoints.traefik.address=:8080 --providers.file.directory=/etc/traefik/dynamic --providers.file.watch=true --providers.providersThrottleDuration=500ms --api=true --api.dashboard=false --ping=true --metrics.prometheus=true --metrics.prometheus.entrypoint=traefik --metrics.prometheus.addserviceslabels=true --metrics.prometheus.addentrypointslabels=false --metrics.prometheus.manualrouting=true --global.checknewversion=false --global.sendanonymoususage=false`, "81250d9b966f"},
	} {
		line, hash := Command(container.Docker, tc.c, Mounts{Routes: `"$HOME"/.mrsk/traefik/dynamic`}, ".mrsk/env/traefik/traefik.env", false)
		if line != tc.line || hash != tc.hash {
			t.Errorf("Command =\n%s %s\nwant\n%s %s", line, hash, tc.line, tc.hash)
		}
	}
}

// With traefik.tls, every host gets the websecure entry point on 443; only
// the resolver host orders certificates, into acme.json on a host volume.
func TestCommandTLS(t *testing.T) {
	c := config.Traefik{Image: "traefik:v3.6", HostPort: 80, TLS: &config.TLS{Hosts: []string{"app.test"},
		ACME: &config.ACME{Email: "ops@app.test", CAServer: "https://ca.test/dir", Challenge: "http"}}}
	m := Mounts{Routes: "R", ACME: "A"}
	resolver, rh := Command(container.Docker, c, m, "env", true)
	other, oh := Command(container.Docker, c, m, "env", false)
	for _, want := range []string{"--publish 443:443", "--volume A:/etc/traefik/acme", "--entrypoints.websecure.address=:443",
		"--certificatesresolvers.mrsk.acme.email=ops@app.test", "--certificatesresolvers.mrsk.acme.storage=/etc/traefik/acme/acme.json",
		"--certificatesresolvers.mrsk.acme.httpchallenge.entrypoint=web", "--certificatesresolvers.mrsk.acme.caserver=https://ca.test/dir"} {
		if !strings.Contains(resolver, want) {
			t.Errorf("resolver host's Traefik lacks %q:\n%s", want, resolver)
		}
	}
	if !strings.Contains(other, "--publish 443:443") || !strings.Contains(other, "--entrypoints.websecure.address=:443") ||
		strings.Contains(other, "certificatesresolvers") || strings.Contains(other, "acme") {
		t.Errorf("other hosts serve 443 without a resolver:\n%s", other)
	}
	if rh == oh {
		t.Error("resolver and other hosts have the same configuration hash")
	}
	c.TLS.ACME.Email = "new@app.test"
	if _, h := Command(container.Docker, c, m, "env", true); h == rh {
		t.Error("a changed ACME e-mail does not change the hash (Traefik would keep the old one)")
	}
}

// Traefik's configuration label is the same whatever its secret values:
// a hash of a secret (guessable when short) is never shown or stored.
func TestCommandHasNoSecret(t *testing.T) {
	command := func(token string) (string, string) {
		return Command(container.Docker, config.Traefik{Image: "traefik:v3", HostPort: 80,
			Env: config.Env{Secret: map[string]config.Secret{"TOKEN": config.NewSecret(token)}}}, Mounts{Routes: "routes"}, "env", false)
	}
	l1, h1 := command("aaaa")
	l2, h2 := command("bbbb")
	if h1 != h2 || l1 != l2 {
		t.Errorf("the Traefik command depends on a secret value: %s vs %s", h1, h2)
	}
	if strings.Contains(l1, "aaaa") {
		t.Errorf("secret in the command line: %s", l1)
	}
}

func TestAPIRouteScript(t *testing.T) {
	if got, want := APIRouteScript(container.Docker, ".mrsk/traefik/dynamic/_mrsk_api.yml", ".mrsk/traefik/staging/_mrsk_api.yml.tmp"), "gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' mrsk) && ranges=$(for g in $gw; do printf '\"%s/32\", ' \"$g\"; done) && printf 'http:\\n  routers:\\n    mrsk_internal_api:\\n      rule: \"PathPrefix(%s/api%s)\"\\n      entryPoints: [\"traefik\"]\\n      service: api@internal\\n      middlewares: [\"mrsk_internal_api_local\"]\\n    mrsk_internal_metrics:\\n      rule: \"Path(%s/metrics%s)\"\\n      entryPoints: [\"traefik\"]\\n      service: prometheus@internal\\n      middlewares: [\"mrsk_internal_api_local\"]\\n  middlewares:\\n    mrsk_internal_api_local:\\n      ipAllowList:\\n        sourceRange: [%s]\\n' '`' '`' '`' '`' \"${ranges%, }\" > .mrsk/traefik/staging/_mrsk_api.yml.tmp && { cmp -s .mrsk/traefik/staging/_mrsk_api.yml.tmp .mrsk/traefik/dynamic/_mrsk_api.yml && rm -f .mrsk/traefik/staging/_mrsk_api.yml.tmp || mv .mrsk/traefik/staging/_mrsk_api.yml.tmp .mrsk/traefik/dynamic/_mrsk_api.yml; }"; got != want {
		t.Errorf("APIRouteScript =\n%s\nwant\n%s", got, want)
	}
}

func TestEntryPoints(t *testing.T) {
	for _, tc := range []struct {
		c    config.Traefik
		want string
	}{
		{config.Traefik{}, "web"},
		{config.Traefik{TLS: &config.TLS{}}, "web websecure"},
		{config.Traefik{Args: map[string]any{"entryPoints.websecure.address": ":443", "entrypoints.web.address": ":80",
			"entrypoints.traefik.address": ":9000", "entryPoints.web.http.redirections.entryPoint.to": "websecure", "accesslog": true}}, "web websecure"},
		{config.Traefik{TLS: &config.TLS{}, Args: map[string]any{"entrypoints.metrics.address": ":8082"}}, "web websecure metrics"},
	} {
		if got := strings.Join(EntryPoints(tc.c), " "); got != tc.want {
			t.Errorf("EntryPoints(%v) = %q, want %q", tc.c.Args, got, tc.want)
		}
	}
}
