package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// project writes files (relative paths) under a temp dir and returns it.
func project(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// envOf is a LookupEnv backed by a map.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func loadProject(t testing.TB, files map[string]string, dest string, env map[string]string) (*Config, string, error) {
	t.Helper()
	dir := project(t, files)
	c, err := Load(LoadOptions{
		File:        filepath.Join(dir, "config", "deploy.yml"),
		Destination: dest,
		LookupEnv:   envOf(env),
	})
	return c, dir, err
}

const fullDeploy = `# A full Kamal 1.x deploy.yml
service: hey
image: 37s/hey
x-shared: &shared
  memory: 2g

servers:
  web:
    hosts:
      - 192.168.0.1
      - 192.168.0.2
    labels:
      traefik.http.routers.hey.rule: Host(` + "`app.example.com`" + `)
    options:
      <<: *shared
      add-host: host.docker.internal:host-gateway
  workers:
    hosts:
      - 192.168.0.3
      - 192.168.0.1
    cmd: bin/jobs
    env:
      clear:
        QUEUE: default
        RAILS_ENV: worker
    options:
      cpus: 2
      init: true

env:
  clear:
    RAILS_ENV: production
    DB_HOST: 192.168.0.9
    RELEASE: ${GIT_SHA}
    PORT: 3000
  secret:
    - RAILS_MASTER_KEY
    - DB_PASSWORD

registry:
  server: ghcr.io
  username: deployer
  password: [MRSK_REGISTRY_PASSWORD]

builder:
  multiarch: false
  args:
    RUBY_VERSION: 3.3.0
  secrets:
    - GITHUB_TOKEN
  dockerfile: Dockerfile.production
  context: ..
  remote:
    arch: amd64
    host: ssh://builder@192.168.0.50
  local:
    arch: arm64
    host: unix:///Users/me/.docker/run/docker.sock
  cache:
    type: registry
    options: mode=max

ssh:
  user: app
  port: 2222
  proxy: bastion@192.168.0.100
  keys: [~/.ssh/deploy]
  log_level: debug

healthcheck:
  path: /healthz
  port: 4000
  interval: 2s
  max_attempts: 10
  timeout: 5
  cmd: curl -f http://localhost:4000/healthz

traefik:
  image: traefik:v3.1
  host_port: 8080
  args:
    accesslog: true
    accesslog.format: json
    entryPoints.web.address: ":80"
    log.level: DEBUG
  options:
    publish:
      - 443:443
    volume:
      - /letsencrypt/acme.json:/letsencrypt/acme.json
  labels:
    com.example.team: ops
  env:
    clear:
      TZ: UTC
    secret:
      - CLOUDFLARE_TOKEN

accessories:
  db:
    image: mysql:8.0
    host: 192.168.0.9
    port: 3306
    env:
      clear:
        MYSQL_ROOT_HOST: '%'
      secret:
        - MYSQL_ROOT_PASSWORD
    files:
      - config/mysql/production.cnf:/etc/mysql/my.cnf
      - db/production.sql:/docker-entrypoint-initdb.d/setup.sql
    directories:
      - data:/var/lib/mysql
    options:
      memory: 1g
    labels:
      app: hey-db
  redis:
    image: redis:7
    hosts: [192.168.0.10, 192.168.0.11]
    roles: [workers]
    port: "127.0.0.1:6379:6379"
    cmd: redis-server --appendonly yes
    volumes:
      - /var/lib/redis:/data

volumes:
  - /storage:/rails/storage
labels:
  team: backend
logging:
  driver: json-file
  options:
    max-size: 100m
boot:
  limit: 25%
  wait: 2
stop_wait_time: 30s
retain_containers: 3
readiness_delay: 1m
primary_role: web
require_destination: false
minimum_version: 1.5.0
asset_path: /rails/public/assets
`

var fullEnv = map[string]string{
	"GIT_SHA":                "abc123",
	"RAILS_MASTER_KEY":       "master-key-value",
	"DB_PASSWORD":            "db-password-value",
	"MRSK_REGISTRY_PASSWORD": "registry-password-value",
	"CLOUDFLARE_TOKEN":       "cloudflare-token-value",
	"MYSQL_ROOT_PASSWORD":    "mysql-root-value",
}

func TestLoadFull(t *testing.T) {
	c, dir, err := loadProject(t, map[string]string{"config/deploy.yml": fullDeploy}, "", fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	topEnv := Env{
		Clear: map[string]string{"RAILS_ENV": "production", "DB_HOST": "192.168.0.9", "RELEASE": "abc123", "PORT": "3000"},
		Secret: map[string]Secret{
			"RAILS_MASTER_KEY": NewSecret("master-key-value"),
			"DB_PASSWORD":      NewSecret("db-password-value"),
		},
	}
	file := filepath.Join(dir, "config", "deploy.yml")
	hc := Healthcheck{
		Path: "/healthz", Port: 4000, Interval: 2 * time.Second, MaxAttempts: 10,
		Timeout: 5 * time.Second, Cmd: "curl -f http://localhost:4000/healthz", LogLines: 50,
	}
	logging := Logging{Driver: "json-file", Options: map[string]string{"max-size": "100m"}}
	want := &Config{
		File:        file,
		Files:       []string{file},
		Root:        dir,
		Service:     "hey",
		Image:       "37s/hey",
		Destination: "",
		Roles: []*Role{
			{
				Name:        "web",
				Hosts:       []string{"192.168.0.1", "192.168.0.2"},
				Env:         topEnv,
				Labels:      map[string]string{"traefik.http.routers.hey.rule": "Host(`app.example.com`)"},
				Options:     map[string]any{"memory": "2g", "add-host": "host.docker.internal:host-gateway"},
				Traefik:     true,
				Healthcheck: hc, Logging: logging, HealthcheckHTTP: true,
			},
			{
				Name:  "workers",
				Hosts: []string{"192.168.0.3", "192.168.0.1"},
				Cmd:   "bin/jobs",
				Env: Env{
					Clear:  map[string]string{"RAILS_ENV": "worker", "DB_HOST": "192.168.0.9", "RELEASE": "abc123", "PORT": "3000", "QUEUE": "default"},
					Secret: topEnv.Secret,
				},
				Options:     map[string]any{"cpus": 2, "init": true},
				Traefik:     false,
				Healthcheck: defaultHealthcheck, Logging: logging,
			},
		},
		Env: topEnv,
		Registry: Registry{
			Server:   "ghcr.io",
			Username: NewSecret("deployer"),
			Password: NewSecret("registry-password-value"),
		},
		Builder: Builder{
			Multiarch:  &no,
			Args:       map[string]string{"RUBY_VERSION": "3.3.0"},
			Secrets:    []string{"GITHUB_TOKEN"},
			Dockerfile: "Dockerfile.production",
			Context:    "..",
			Remote:     &BuilderTarget{Arch: "amd64", Host: "ssh://builder@192.168.0.50"},
			Local:      &BuilderTarget{Arch: "arm64", Host: "unix:///Users/me/.docker/run/docker.sock"},
			Cache:      map[string]any{"type": "registry", "options": "mode=max"},
		},
		SSH:         SSH{User: "app", Port: 2222, Proxy: "bastion@192.168.0.100", Keys: []string{"~/.ssh/deploy"}, LogLevel: "debug"},
		Healthcheck: hc,
		Traefik: Traefik{
			Image:    "traefik:v3.1",
			HostPort: 8080,
			Args: map[string]any{
				"accesslog": true, "accesslog.format": "json",
				"entryPoints.web.address": ":80", "log.level": "DEBUG",
			},
			Options: map[string]any{
				"publish": []any{"443:443"},
				"volume":  []any{"/letsencrypt/acme.json:/letsencrypt/acme.json"},
			},
			Labels: map[string]string{"com.example.team": "ops"},
			Env: Env{
				Clear:  map[string]string{"TZ": "UTC"},
				Secret: map[string]Secret{"CLOUDFLARE_TOKEN": NewSecret("cloudflare-token-value")},
			},
		},
		Accessories: []*Accessory{
			{
				Name:  "db",
				Image: "mysql:8.0",
				Hosts: []string{"192.168.0.9"},
				Port:  "3306",
				Env: Env{
					Clear:  map[string]string{"MYSQL_ROOT_HOST": "%"},
					Secret: map[string]Secret{"MYSQL_ROOT_PASSWORD": NewSecret("mysql-root-value")},
				},
				Service: "hey-db",
				Files: []PathMapping{
					{"config/mysql/production.cnf", "/etc/mysql/my.cnf"},
					{"db/production.sql", "/docker-entrypoint-initdb.d/setup.sql"},
				},
				Directories: []PathMapping{{"data", "/var/lib/mysql"}},
				Options:     map[string]any{"memory": "1g"},
				Labels:      map[string]string{"app": "hey-db"},
			},
			{
				Name:    "redis",
				Image:   "redis:7",
				Hosts:   []string{"192.168.0.10", "192.168.0.11", "192.168.0.3", "192.168.0.1"},
				Port:    "127.0.0.1:6379:6379",
				Cmd:     "redis-server --appendonly yes",
				Volumes: []string{"/var/lib/redis:/data"},
				Service: "hey-redis",
			},
		},
		Volumes:          []string{"/storage:/rails/storage"},
		Labels:           map[string]string{"team": "backend"},
		Logging:          Logging{Driver: "json-file", Options: map[string]string{"max-size": "100m"}},
		Boot:             Boot{Limit: "25%", Wait: 2 * time.Second},
		StopWaitTime:     30 * time.Second,
		RetainContainers: 3,
		ReadinessDelay:   time.Minute,
		PrimaryRole:      "web",
		MinimumVersion:   "1.5.0",
		AssetPath:        "/rails/public/assets",
	}
	// No runtime key: docker everywhere.
	want.Runtime, want.HostRuntimes = "docker", map[string]string{}
	for _, r := range want.Roles {
		r.Runtime = "docker"
		for _, h := range r.Hosts {
			want.HostRuntimes[h] = "docker"
		}
	}
	for _, a := range want.Accessories {
		a.Runtime = "docker"
		for _, h := range a.Hosts {
			want.HostRuntimes[h] = "docker"
		}
	}
	if !reflect.DeepEqual(c, want) {
		gotY, _ := c.YAML()
		wantY, _ := want.YAML()
		t.Errorf("config mismatch\n--- got:\n%s\n--- want:\n%s", gotY, wantY)
		for i := range c.Roles {
			if i < len(want.Roles) && !reflect.DeepEqual(c.Roles[i], want.Roles[i]) {
				t.Errorf("role %d: got %#v\nwant %#v", i, *c.Roles[i], *want.Roles[i])
			}
		}
	}

	// Helpers.
	if got, want := c.AllHosts(), []string{"192.168.0.1", "192.168.0.2", "192.168.0.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AllHosts = %v, want %v", got, want)
	}
	if got := c.PrimaryHost(); got != "192.168.0.1" {
		t.Errorf("PrimaryHost = %q", got)
	}
	if r := c.Role("workers"); r == nil || r.Cmd != "bin/jobs" {
		t.Errorf("Role(workers) = %v", r)
	}
	if r := c.Role("nope"); r != nil {
		t.Errorf("Role(nope) = %v", r)
	}
	if a := c.Accessory("redis"); a == nil || a.Image != "redis:7" {
		t.Errorf("Accessory(redis) = %v", a)
	}
	if a := c.Accessory("nope"); a != nil {
		t.Errorf("Accessory(nope) = %v", a)
	}
	if hr := c.HTTPRoles(); len(hr) != 1 || hr[0].Name != "web" {
		t.Errorf("HTTPRoles = %v", hr)
	}
	if got := c.BootBatch(8); got != 2 {
		t.Errorf("BootBatch(8) = %d, want 2", got)
	}
}

func TestDefaults(t *testing.T) {
	c, dir, err := loadProject(t, map[string]string{"config/deploy.yml": "service: app\nimage: me/app\nservers:\n  - 10.0.0.1\n  - 10.0.0.2\n  - 10.0.0.1\n"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config", "deploy.yml")
	want := &Config{
		File: file, Files: []string{file}, Root: dir,
		Service: "app", Image: "me/app", Runtime: "docker",
		HostRuntimes: map[string]string{"10.0.0.1": "docker", "10.0.0.2": "docker"},
		Roles: []*Role{{Name: "web", Hosts: []string{"10.0.0.1", "10.0.0.2"}, Traefik: true, HealthcheckHTTP: true, Runtime: "docker",
			Healthcheck: Healthcheck{Path: "/up", Port: 3000, Interval: time.Second, MaxAttempts: 7, LogLines: 50}}},
		Builder:          Builder{Dockerfile: "Dockerfile", Context: "."},
		SSH:              SSH{User: "root", Port: 22},
		Healthcheck:      Healthcheck{Path: "/up", Port: 3000, Interval: time.Second, MaxAttempts: 7, LogLines: 50},
		Traefik:          Traefik{Image: "traefik:v3.6", HostPort: 80},
		StopWaitTime:     10 * time.Second,
		RetainContainers: 5,
		ReadinessDelay:   7 * time.Second,
		PrimaryRole:      "web",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %#v\nwant %#v", c, want)
	}
}

// TestKeys loads small configs and checks one derived value each.
func TestKeys(t *testing.T) {
	const head = "service: app\nimage: me/app\n"
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"primary role defaults to first role without web",
			head + "servers:\n  api: [a]\n  jobs: [b]\n",
			nil, func(t *testing.T, c *Config) {
				if c.PrimaryRole != "api" || !c.Role("api").Traefik || c.Role("jobs").Traefik {
					t.Errorf("primary %q, api traefik %v, jobs traefik %v", c.PrimaryRole, c.Role("api").Traefik, c.Role("jobs").Traefik)
				}
			}},
		{"primary role prefers web",
			head + "servers:\n  jobs: [b]\n  web: [a]\n",
			nil, func(t *testing.T, c *Config) {
				if c.PrimaryRole != "web" || c.PrimaryHost() != "a" {
					t.Errorf("primary %q host %q", c.PrimaryRole, c.PrimaryHost())
				}
			}},
		{"explicit primary role gets traefik, and only it (Kamal 1.9)",
			head + "primary_role: jobs\nservers:\n  web: [a]\n  jobs: [b]\n  other: [c]\n",
			nil, func(t *testing.T, c *Config) {
				if c.PrimaryHost() != "b" || !c.Role("jobs").Traefik || c.Role("web").Traefik || c.Role("other").Traefik {
					t.Errorf("got %+v %+v %+v", c.Role("web"), c.Role("jobs"), c.Role("other"))
				}
			}},
		{"role traefik overrides",
			head + "servers:\n  web:\n    hosts: [a]\n    traefik: false\n  api:\n    hosts: [b]\n    traefik: true\n",
			nil, func(t *testing.T, c *Config) {
				if hr := c.HTTPRoles(); len(hr) != 1 || hr[0].Name != "api" {
					t.Errorf("HTTPRoles = %v", hr)
				}
			}},
		{"role env wins and moves between clear and secret",
			head + "servers:\n  web:\n    hosts: [a]\n    env:\n      clear:\n        TOKEN: plain\n      secret: [A]\n" +
				"env:\n  clear:\n    A: clear-a\n    B: b\n  secret: [TOKEN]\n",
			map[string]string{"A": "secret-a", "TOKEN": "tok"}, func(t *testing.T, c *Config) {
				want := Env{Clear: map[string]string{"B": "b", "TOKEN": "plain"}, Secret: map[string]Secret{"A": NewSecret("secret-a")}}
				if !reflect.DeepEqual(c.Role("web").Env, want) {
					t.Errorf("role env = %#v", c.Role("web").Env)
				}
				if c.Env.Secret["TOKEN"].Reveal() != "tok" || c.Env.Clear["A"] != "clear-a" {
					t.Errorf("top env changed: %#v", c.Env)
				}
			}},
		{"plain env map is clear",
			head + "servers: [a]\nenv:\n  A: 1\n  B: true\n  C:\n  D: [FROM_ENV]\n",
			map[string]string{"FROM_ENV": "x"}, func(t *testing.T, c *Config) {
				want := map[string]string{"A": "1", "B": "true", "C": "", "D": "x"}
				if !reflect.DeepEqual(c.Env.Clear, want) || c.Env.Secret != nil {
					t.Errorf("env = %#v", c.Env)
				}
			}},
		{"durations",
			head + "servers: [a]\nstop_wait_time: 45\nretain_containers: 2\nreadiness_delay: 1m30s\nboot:\n  wait: 500ms\nhealthcheck:\n  interval: 3\n  timeout: 1m\n",
			nil, func(t *testing.T, c *Config) {
				if c.StopWaitTime != 45*time.Second || c.ReadinessDelay != 90*time.Second || c.Boot.Wait != 500*time.Millisecond ||
					c.Healthcheck.Interval != 3*time.Second || c.Healthcheck.Timeout != time.Minute {
					t.Errorf("durations %v %v %v %v %v", c.StopWaitTime, c.ReadinessDelay, c.Boot.Wait, c.Healthcheck.Interval, c.Healthcheck.Timeout)
				}
			}},
		{"integers from strings and env",
			head + "servers: [a]\nssh:\n  port: \"${SSH_PORT}\"\nretain_containers: [KEEP]\n",
			map[string]string{"SSH_PORT": "2200", "KEEP": "9"}, func(t *testing.T, c *Config) {
				if c.SSH.Port != 2200 || c.RetainContainers != 9 {
					t.Errorf("port %d retain %d", c.SSH.Port, c.RetainContainers)
				}
			}},
		{"boot limit number",
			head + "servers: [a, b, c]\nboot:\n  limit: 2\n",
			nil, func(t *testing.T, c *Config) {
				if c.Boot.Limit != "2" || c.BootBatch(3) != 2 {
					t.Errorf("limit %q batch %d", c.Boot.Limit, c.BootBatch(3))
				}
			}},
		{"null sections keep defaults",
			head + "servers: [a]\nssh:\nhealthcheck:\n  port:\ntraefik: ~\nenv:\naccessories:\n",
			nil, func(t *testing.T, c *Config) {
				if c.SSH.User != "root" || c.Healthcheck.Port != 3000 || c.Traefik.HostPort != 80 || len(c.Accessories) != 0 {
					t.Errorf("got %+v %+v %+v", c.SSH, c.Healthcheck, c.Traefik)
				}
			}},
		{"accessory files as a map and hosts de-duplicated",
			head + "servers: [a, b]\naccessories:\n  cache:\n    image: redis\n    host: a\n    hosts: [a, c]\n    roles: [web]\n    files:\n      local.conf: /etc/remote.conf\n",
			nil, func(t *testing.T, c *Config) {
				a := c.Accessories[0]
				if !reflect.DeepEqual(a.Hosts, []string{"a", "c", "b"}) || !reflect.DeepEqual(a.Files, []PathMapping{{"local.conf", "/etc/remote.conf"}}) {
					t.Errorf("accessory %+v", a)
				}
			}},
		{"traefik args keep nulls and types",
			head + "servers: [a]\ntraefik:\n  args:\n    accesslog:\n    metrics.prometheus: true\n    api.dashboard: 1\n    ratio: 0.5\n",
			nil, func(t *testing.T, c *Config) {
				want := map[string]any{"accesslog": nil, "metrics.prometheus": true, "api.dashboard": 1, "ratio": 0.5}
				if !reflect.DeepEqual(c.Traefik.Args, want) {
					t.Errorf("args %#v", c.Traefik.Args)
				}
			}},
		{"yaml anchors and merge keys",
			head + "x-hosts: &hosts [h1, h2]\nx-opts: &opts {memory: 1g, cpus: 1}\nservers:\n  web:\n    hosts: *hosts\n    options:\n      <<: *opts\n      cpus: 4\n",
			nil, func(t *testing.T, c *Config) {
				r := c.Role("web")
				if !reflect.DeepEqual(r.Hosts, []string{"h1", "h2"}) || !reflect.DeepEqual(r.Options, map[string]any{"memory": "1g", "cpus": 4}) {
					t.Errorf("role %+v", r)
				}
			}},
		{"registry username from env list",
			head + "servers: [a]\nregistry:\n  username: [USER]\n  password: \"${PASS}\"\n",
			map[string]string{"USER": "u", "PASS": "p"}, func(t *testing.T, c *Config) {
				if c.Registry.Username.Reveal() != "u" || c.Registry.Password.Reveal() != "p" {
					t.Errorf("registry %v", c.Registry)
				}
			}},
		{"require_destination false is fine",
			head + "servers: [a]\nrequire_destination: false\n",
			nil, func(t *testing.T, c *Config) {
				if c.RequireDestination {
					t.Error("RequireDestination true")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := loadProject(t, map[string]string{"config/deploy.yml": tt.yaml}, "", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestExtensionKeysIgnored(t *testing.T) {
	yml := `service: app
image: me/app
x-top: {anything: [goes, here]}
servers:
  x-role: [not, a, role]
  web:
    x-note: ignored
    hosts: [a]
env:
  x-ignored: 1
  clear:
    A: b
    x-skip: 2
registry:
  x-whatever: yes
ssh:
  x-jump: 1
accessories:
  x-template: &tmpl
    image: nothing
  db:
    x-comment: hi
    image: mysql
    host: a
    options:
      x-no: 1
      memory: 1g
labels:
  x-drop: me
  keep: me
`
	c, _, err := loadProject(t, map[string]string{"config/deploy.yml": yml}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Roles) != 1 || c.Roles[0].Name != "web" {
		t.Errorf("roles %v", c.Roles)
	}
	if !reflect.DeepEqual(c.Env.Clear, map[string]string{"A": "b"}) {
		t.Errorf("env %v", c.Env)
	}
	if len(c.Accessories) != 1 || c.Accessories[0].Name != "db" || !reflect.DeepEqual(c.Accessories[0].Options, map[string]any{"memory": "1g"}) {
		t.Errorf("accessories %+v", c.Accessories)
	}
	if !reflect.DeepEqual(c.Labels, map[string]string{"keep": "me"}) {
		t.Errorf("labels %v", c.Labels)
	}
}

func TestExpansion(t *testing.T) {
	yml := `service: app
image: ${REGISTRY}/app-${TAG}
servers: ["${HOST}"]
env:
  clear:
    LITERAL: $${NOT_EXPANDED}
    SHELL: ${HOME:-/root} and $PATH
    TWICE: ${TAG}-${TAG}
    OPEN: ${UNCLOSED
    EMPTY: "${EMPTY}"
`
	env := map[string]string{"REGISTRY": "ghcr.io/me", "TAG": "v1", "HOST": "10.0.0.5", "EMPTY": ""}
	c, _, err := loadProject(t, map[string]string{"config/deploy.yml": yml}, "", env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "ghcr.io/me/app-v1" || c.AllHosts()[0] != "10.0.0.5" {
		t.Errorf("image %q hosts %v", c.Image, c.AllHosts())
	}
	want := map[string]string{
		"LITERAL": "${NOT_EXPANDED}",
		"SHELL":   "${HOME:-/root} and $PATH",
		"TWICE":   "v1-v1",
		"OPEN":    "${UNCLOSED",
		"EMPTY":   "",
	}
	if !reflect.DeepEqual(c.Env.Clear, want) {
		t.Errorf("env = %#v", c.Env.Clear)
	}
}

func TestDotenvPrecedence(t *testing.T) {
	files := map[string]string{
		"config/deploy.yml": `service: app
image: me/app
servers: [a]
env:
  clear:
    FROM_DOTENV: ${ONLY_DOTENV}
    BOTH: ${BOTH}
    DEST: ${DEST_VAR}
    MULTI: ${MULTI}
  secret: [SECRET]
registry:
  password: [REG_PASS]
`,
		".env": `# comment
ONLY_DOTENV=dotenv-value
export BOTH='from dotenv'
SECRET="s\"ecret\tline" # trailing comment
MULTI="two\nlines"
REG_PASS=pass # inline comment
DEST_VAR=base
`,
		".env.staging":              "DEST_VAR=staging\n",
		"config/deploy.staging.yml": "\n",
	}
	env := map[string]string{"BOTH": "from environment"}

	c, dir, err := loadProject(t, files, "", env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"FROM_DOTENV": "dotenv-value", "BOTH": "from environment", "DEST": "base", "MULTI": "two\nlines"}
	if !reflect.DeepEqual(c.Env.Clear, want) {
		t.Errorf("clear = %#v", c.Env.Clear)
	}
	if got := c.Env.Secret["SECRET"].Reveal(); got != "s\"ecret\tline" {
		t.Errorf("SECRET = %q", got)
	}
	if got := c.Registry.Password.Reveal(); got != "pass" {
		t.Errorf("password = %q", got)
	}
	if got, want := c.Files, []string{filepath.Join(dir, "config", "deploy.yml"), filepath.Join(dir, ".env")}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}

	// Without BOTH in the environment, .env supplies it.
	c, _, err = loadProject(t, files, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Env.Clear["BOTH"]; got != "from dotenv" {
		t.Errorf("BOTH = %q", got)
	}

	// With a destination, .env.staging wins over .env; the environment over both.
	c, _, err = loadProject(t, files, "staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Env.Clear["DEST"]; got != "staging" {
		t.Errorf("DEST = %q", got)
	}
	c, _, err = loadProject(t, files, "staging", map[string]string{"DEST_VAR": "env"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Env.Clear["DEST"]; got != "env" {
		t.Errorf("DEST = %q", got)
	}
}

func TestParseDotenv(t *testing.T) {
	got, err := parseDotenv(".env", []byte("\ufeffA=1\r\n  B = two words  \nexport C=3\nexporter=4\nD=\nE='#not a comment'\nF=\"x # y\"\nG=a#b\n\n# c\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "3", "exporter": "4", "D": "", "E": "#not a comment", "F": "x # y", "G": "a#b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
}

func TestDestinationMerge(t *testing.T) {
	files := map[string]string{
		"config/deploy.yml": `service: app
image: me/app
servers:
  - 10.0.0.1
  - 10.0.0.2
env:
  clear:
    RAILS_ENV: production
    LOG: info
  secret: [A]
volumes: [/a:/a, /b:/b]
healthcheck:
  path: /health
  port: 4000
require_destination: true
`,
		"config/deploy.staging.yml": `servers:
  web: [10.1.0.1]
  jobs:
    hosts: [10.1.0.2]
    cmd: bin/jobs
env:
  clear:
    RAILS_ENV: staging
volumes: [/c:/c]
healthcheck:
  port: 5000
`,
	}
	c, dir, err := loadProject(t, files, "staging", map[string]string{"A": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Destination != "staging" {
		t.Errorf("Destination = %q", c.Destination)
	}
	if got, want := c.Files, []string{filepath.Join(dir, "config", "deploy.yml"), filepath.Join(dir, "config", "deploy.staging.yml")}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v", got)
	}
	if got := c.AllHosts(); !reflect.DeepEqual(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Errorf("hosts = %v", got)
	}
	if r := c.Role("jobs"); r == nil || r.Cmd != "bin/jobs" {
		t.Errorf("jobs role = %v", r)
	}
	if want := map[string]string{"RAILS_ENV": "staging", "LOG": "info"}; !reflect.DeepEqual(c.Env.Clear, want) {
		t.Errorf("env clear = %v", c.Env.Clear)
	}
	if c.Env.Secret["A"].Reveal() != "a" {
		t.Errorf("env secret = %v", c.Env.Secret)
	}
	if !reflect.DeepEqual(c.Volumes, []string{"/c:/c"}) {
		t.Errorf("volumes = %v", c.Volumes)
	}
	if c.Healthcheck.Path != "/health" || c.Healthcheck.Port != 5000 {
		t.Errorf("healthcheck = %+v", c.Healthcheck)
	}
	if !c.RequireDestination {
		t.Error("RequireDestination lost")
	}
}

func TestDestinationFile(t *testing.T) {
	for _, tt := range []struct{ file, dest, want string }{
		{"", "staging", filepath.Join("config", "deploy.staging.yml")},
		{"config/deploy.yml", "prod", filepath.Join("config", "deploy.prod.yml")},
		{"/x/other.yaml", "eu", "/x/other.eu.yaml"},
	} {
		if got := DestinationFile(tt.file, tt.dest); got != tt.want {
			t.Errorf("DestinationFile(%q, %q) = %q, want %q", tt.file, tt.dest, got, tt.want)
		}
	}
}

func TestRootAndDefaultFile(t *testing.T) {
	dir := project(t, map[string]string{
		"config/deploy.yml": "service: app\nimage: me/app\nservers: [a]\nenv:\n  clear:\n    X: ${X}\n",
		".env":              "X=from-root-dotenv\n",
	})
	t.Chdir(dir)
	c, err := Load(LoadOptions{LookupEnv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "config/deploy.yml" || c.Root != "." || c.Env.Clear["X"] != "from-root-dotenv" {
		t.Errorf("File %q Root %q X %q", c.File, c.Root, c.Env.Clear["X"])
	}
}

func TestYAMLRedaction(t *testing.T) {
	c, _, err := loadProject(t, map[string]string{"config/deploy.yml": fullDeploy}, "", fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for name, v := range fullEnv {
		if name == "GIT_SHA" {
			continue // a clear value
		}
		if strings.Contains(s, v) {
			t.Errorf("YAML leaks %s:\n%s", name, s)
		}
	}
	if strings.Contains(s, "deployer") {
		t.Errorf("YAML leaks the registry username")
	}
	for _, want := range []string{"[REDACTED]", "service: hey", "stop_wait_time: 30s", "RELEASE: abc123", "limit: 25%", "DB_PASSWORD: '[REDACTED]'"} {
		if !strings.Contains(s, want) {
			t.Errorf("YAML lacks %q:\n%s", want, s)
		}
	}
	// fmt verbs must not leak either.
	for _, v := range []string{c.Registry.Password.String(), c.Registry.Password.GoString()} {
		if v != "[REDACTED]" {
			t.Errorf("secret prints as %q", v)
		}
	}
}

func TestBootBatch(t *testing.T) {
	for _, tt := range []struct {
		limit string
		n     int
		want  int
	}{
		{"", 7, 7},
		{"3", 7, 3},
		{"10", 7, 7},
		{"25%", 8, 2},
		{"25%", 3, 1},
		{"50%", 5, 2},
		{"100%", 5, 5},
		{"1%", 1, 1},
		{"5", 0, 0},
	} {
		c := &Config{Boot: Boot{Limit: tt.limit}}
		if got := c.BootBatch(tt.n); got != tt.want {
			t.Errorf("BootBatch(%q, %d) = %d, want %d", tt.limit, tt.n, got, tt.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "config/deploy.yml", Line: 7, Col: 5, Path: "servers.web.hosts[1]", Msg: "must be a string"},
			"config/deploy.yml:7:5: servers.web.hosts[1]: must be a string"},
		{Error{File: "config/deploy.yml", Path: "service", Msg: "is required"}, "config/deploy.yml: service: is required"},
		{Error{File: "config/deploy.yml", Msg: "require_destination is true: pass -d DESTINATION"},
			"config/deploy.yml: require_destination is true: pass -d DESTINATION"},
		{Error{File: ".env", Line: 3, Msg: "x"}, ".env:3: x"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"service", "servers", "image", "healthcheck", "env", "ssh", "accessories"}
	for key, want := range map[string]string{
		"servrs": "servers", "sevrice": "service", "imag": "image", "Image": "image", "health": "healthcheck",
		"evn": "env", "accesories": "accessories", "zzz": "", "completely_different": "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(LoadOptions{File: filepath.Join(t.TempDir(), "nope.yml"), LookupEnv: envOf(nil)})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.yml: config file not found") {
		t.Fatalf("err = %v", err)
	}
}

// Builder secrets are read like env.secret: the environment over
// .env.DESTINATION over .env. An unset one is left out (the build reports
// it), so commands that do not build still load.
func TestBuilderSecretValues(t *testing.T) {
	files := map[string]string{
		"config/deploy.yml":         "service: app\nimage: me/app\nservers: [a]\nbuilder:\n  secrets: [ONLY_DOTENV, BOTH, DEST, UNSET]\n",
		"config/deploy.staging.yml": "\n",
		".env":                      "ONLY_DOTENV=from-dotenv\nBOTH=from-dotenv\nDEST=base\n",
		".env.staging":              "DEST=staging\n",
	}
	tests := []struct {
		dest string
		env  map[string]string
		want map[string]string
	}{
		{"", nil, map[string]string{"ONLY_DOTENV": "from-dotenv", "BOTH": "from-dotenv", "DEST": "base"}},
		{"", map[string]string{"BOTH": "from-env"}, map[string]string{"ONLY_DOTENV": "from-dotenv", "BOTH": "from-env", "DEST": "base"}},
		{"staging", map[string]string{"UNSET": "now-set"}, map[string]string{"ONLY_DOTENV": "from-dotenv", "BOTH": "from-dotenv", "DEST": "staging", "UNSET": "now-set"}},
	}
	for _, tt := range tests {
		c, _, err := loadProject(t, files, tt.dest, tt.env)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for k, v := range c.Builder.SecretValues {
			got[k] = v.Reveal()
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dest %q env %v: secrets %v, want %v", tt.dest, tt.env, got, tt.want)
		}
		if y, err := c.YAML(); err != nil || strings.Contains(string(y), "from-") {
			t.Errorf("config YAML shows a builder secret value (err %v):\n%s", err, y)
		}
	}
}
