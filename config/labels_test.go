package config

import (
	"errors"
	"strings"
	"testing"
)

// traefik.* labels of roles and the top level are decoded at load: a label
// Traefik would reject, or one mrsk cannot carry into a route file, is an
// error at its line.
func TestTraefikLabelErrors(t *testing.T) {
	const head = "service: hey\nimage: me/hey\n"
	web := func(labels string) string {
		return head + "servers:\n  web:\n    hosts: [a]\n    labels:\n" + labels
	}
	tests := []struct {
		name, main, want string
	}{
		{"unknown field", web("      traefik.http.middlewares.auth.basicauth.userz: x\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.http.middlewares.auth.basicauth.userz: unknown field "userz"`},
		{"bad value", web("      traefik.http.routers.hey-web.priority: high\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.http.routers.hey-web.priority: "high" is not valid: must be an integer`},
		{"tcp", web("      traefik.tcp.routers.db.rule: HostSNI(`*`)\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.tcp.routers.db.rule: mrsk routes HTTP only`},
		{"server url", web("      traefik.http.services.hey-web.loadbalancer.server.url: http://x\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.http.services.hey-web.loadbalancer.server.url: mrsk sets the server`},
		{"undefined middleware", web("      traefik.http.routers.hey-web.rule: Host(`a.test`)\n      traefik.http.routers.hey-web.middlewares: auth\n"),
			`config/deploy.yml:8:7: servers.web.labels.traefik.http.routers.hey-web.middlewares: no middleware "auth" is defined by these labels`},
		{"another service", web("      traefik.http.routers.hey-web.service: other\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.http.routers.hey-web.service: service "other": mrsk routes a role to its own service`},
		{"top-level label", head + "servers: [a]\nlabels:\n  traefik.http.routers.x.rulez: y\n",
			`config/deploy.yml:5:3: labels.traefik.http.routers.x.rulez: unknown field "rulez"`},
		{"top-level middleware used by a role", head + "servers:\n  web:\n    hosts: [a]\n    labels:\n      traefik.http.routers.hey-web.middlewares: auth\nlabels:\n  traefik.http.middlewares.auth.basicauth.users: 'a:b'\n  traefik.http.middlewares.auth.compress: true\n",
			`config/deploy.yml:10:3: labels.traefik.http.middlewares.auth.compress: a middleware has one type, and this one sets basicauth and compress`},
		{"shared router differs per role", head + "servers:\n  web: [a]\n  api:\n    hosts: [b]\n    traefik: true\nlabels:\n  traefik.http.routers.app.rule: Host(`a.test`)\n",
			`config/deploy.yml:9:3: labels.traefik.http.routers.app.rule: router "app" is defined differently for roles web and api`},
		{"role takes another role's router", head + "servers:\n  web: [a]\n  api:\n    hosts: [b]\n    traefik: true\n    labels:\n      traefik.http.routers.hey-web.rule: Host(`api.test`)\n",
			`config/deploy.yml:9:7: servers.api.labels.traefik.http.routers.hey-web.rule: router "hey-web" is defined differently for roles web and api`},
		{"label on a role that does not route", head + "servers:\n  web: [a]\n  jobs:\n    hosts: [b]\n    labels:\n      traefik.http.routers.jobs.rule: Host(`x`)\n",
			`config/deploy.yml:8:7: servers.jobs.labels.traefik.http.routers.jobs.rule: role jobs does not route through Traefik`},
		{"enable false against traefik true", head + "servers:\n  web:\n    hosts: [a]\n    traefik: true\n    labels:\n      traefik.enable: false\n",
			`config/deploy.yml:8:7: servers.web.labels.traefik.enable: contradicts traefik: true of role web`},
		{"entry point Traefik lacks", web("      traefik.http.routers.hey-web.entrypoints: websecure\n"),
			`config/deploy.yml:7:7: servers.web.labels.traefik.http.routers.hey-web.entrypoints: router hey-web: Traefik has no entry point "websecure" (it has web; traefik.args entrypoints.websecure.address adds one)`},
		{"label on traefik still refused", head + "servers: [a]\ntraefik:\n  labels:\n    traefik.http.routers.x.rule: y\n",
			`config/deploy.yml:6:5: traefik.labels.traefik.http.routers.x.rule: Traefik label not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadProject(t, map[string]string{"config/deploy.yml": tt.main}, "", nil)
			var e *Error
			if err == nil || !errors.As(err, &e) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %v\nwant substring\n  %s", err, tt.want)
			}
		})
	}
}

func TestTraefikLabels(t *testing.T) {
	const kamal = "service: hey\nimage: me/hey\nservers:\n  web:\n    hosts: [a]\n    labels:\n" +
		"      traefik.http.routers.hey-web.rule: Host(`app.test`)\n" +
		"      traefik.http.routers.hey-web.entrypoints: websecure\n" +
		"      traefik.http.routers.hey-web.tls.certresolver: letsencrypt\n" +
		"      traefik.HTTP.Routers.hey-web.Middlewares: retry@docker\n" +
		"  jobs:\n    hosts: [b]\n    labels:\n      traefik.enable: false\n" +
		"labels:\n  traefik.http.middlewares.retry.retry.attempts: 5\n  traefik.http.routers.hey-web.rule: Host(`top.test`)\n" +
		"traefik:\n  args:\n    entryPoints.websecure.address: ':443'\n"
	c, _, err := loadProject(t, map[string]string{"config/deploy.yml": kamal}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Role("web").Traefik || c.Role("jobs").Traefik {
		t.Errorf("routed: web %v, jobs %v", c.Role("web").Traefik, c.Role("jobs").Traefik)
	}
	got := c.RouteLabels(c.Role("web"))
	if got["traefik.http.routers.hey-web.rule"] != "Host(`app.test`)" || got["traefik.http.middlewares.retry.retry.attempts"] != "5" {
		t.Errorf("route labels %v", got)
	}

	// traefik.enable: false at the top takes every role out but one that
	// says traefik: true itself.
	const off = "service: hey\nimage: me/hey\nservers:\n  web: [a]\n  api:\n    hosts: [b]\n    traefik: true\nlabels:\n  traefik.enable: false\n"
	c, _, err = loadProject(t, map[string]string{"config/deploy.yml": off}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role("web").Traefik || !c.Role("api").Traefik {
		t.Errorf("routed: web %v, api %v", c.Role("web").Traefik, c.Role("api").Traefik)
	}
}
