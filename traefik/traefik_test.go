package traefik

import (
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/config"
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
		{full, `docker run --detach --restart unless-stopped --name traefik --label mrsk.config=c224d281c57f --network mrsk --publish 8081:80 --volume "$HOME"/.mrsk/traefik/dynamic:/etc/traefik/dynamic:ro --log-opt max-size=10m -e A=1 -e 'B=b c' --env-file .mrsk/env/traefik/traefik.env --label l=v --memory 64m traefik:v3.6 --entrypoints.web.address=:80 --entrypoints.traefik.address=:8080 --providers.file.directory=/etc/traefik/dynamic --providers.file.watch=true --providers.providersThrottleDuration=500ms --api=true --api.dashboard=false --ping=true --global.checknewversion=false --global.sendanonymoususage=false --accesslog --log.level=DEBUG`, "c224d281c57f"},
		{config.Traefik{Image: "traefik:v3.6", HostPort: 80}, `docker run --detach --restart unless-stopped --name traefik --label mrsk.config=35fecc1efb93 --network mrsk --publish 80:80 --volume "$HOME"/.mrsk/traefik/dynamic:/etc/traefik/dynamic:ro --log-opt max-size=10m traefik:v3.6 --entrypoints.web.address=:80 --entrypoints.traefik.address=:8080 --providers.file.directory=/etc/traefik/dynamic --providers.file.watch=true --providers.providersThrottleDuration=500ms --api=true --api.dashboard=false --ping=true --global.checknewversion=false --global.sendanonymoususage=false`, "35fecc1efb93"},
	} {
		line, hash := Command(tc.c, `"$HOME"/.mrsk/traefik/dynamic`, ".mrsk/env/traefik/traefik.env")
		if line != tc.line || hash != tc.hash {
			t.Errorf("Command =\n%s %s\nwant\n%s %s", line, hash, tc.line, tc.hash)
		}
	}
}

// Traefik's configuration label is the same whatever its secret values:
// a hash of a secret (guessable when short) is never shown or stored.
func TestCommandHasNoSecret(t *testing.T) {
	command := func(token string) (string, string) {
		return Command(config.Traefik{Image: "traefik:v3", HostPort: 80,
			Env: config.Env{Secret: map[string]config.Secret{"TOKEN": config.NewSecret(token)}}}, "routes", "env")
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
	if got, want := APIRouteScript(".mrsk/traefik/dynamic/_mrsk_api.yml"), "gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' mrsk) && ranges=$(for g in $gw; do printf '\"%s/32\", ' \"$g\"; done) && printf 'http:\\n  routers:\\n    mrsk_internal_api:\\n      rule: \"PathPrefix(%s/api%s)\"\\n      entryPoints: [\"traefik\"]\\n      service: api@internal\\n      middlewares: [\"mrsk_internal_api_local\"]\\n  middlewares:\\n    mrsk_internal_api_local:\\n      ipAllowList:\\n        sourceRange: [%s]\\n' '`' '`' \"${ranges%, }\" > .mrsk/traefik/dynamic/_mrsk_api.yml.tmp && { cmp -s .mrsk/traefik/dynamic/_mrsk_api.yml.tmp .mrsk/traefik/dynamic/_mrsk_api.yml && rm -f .mrsk/traefik/dynamic/_mrsk_api.yml.tmp || mv .mrsk/traefik/dynamic/_mrsk_api.yml.tmp .mrsk/traefik/dynamic/_mrsk_api.yml; }"; got != want {
		t.Errorf("APIRouteScript =\n%s\nwant\n%s", got, want)
	}
}
