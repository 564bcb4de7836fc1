package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// kamalKeys is every key of Kamal 1.9.3's configuration documentation
// (lib/kamal/configuration/docs/*.yml: configuration, servers, role, env,
// registry, builder, ssh, sshkit, healthcheck, traefik, accessory, boot,
// logging), each with a value that asks for something, given as a
// destination file deep-merged over kamalBase.
//
// TestKamalKeys loads each: a key mrsk supports must change the loaded
// Config (a key accepted and then ignored would not); a refused key must
// fail with a message that says what to do instead. The README's
// configuration section must name every key (TestREADMEListsKamalKeys).
var kamalKeys = []struct {
	key     string // as the README writes it
	yaml    string // the destination file
	refused bool
	// pending names the part of issue 9 that makes the key work, while
	// it is not in this tree: the key may then load or be refused.
	pending string
}{
	// configuration.yml
	{key: "service", yaml: "service: other"},
	{key: "image", yaml: "image: me/other"},
	{key: "labels", yaml: "labels: {team: ops}"},
	{key: "volumes", yaml: "volumes: [/data:/data]"},
	{key: "asset_path", yaml: "asset_path: /rails/public/assets"},
	{key: "hooks_path", yaml: "hooks_path: .kamal/hooks"},
	{key: "require_destination", yaml: "require_destination: true"},
	{key: "primary_role", yaml: "primary_role: workers"},
	{key: "allow_empty_roles", yaml: "allow_empty_roles: true\nservers: {jobs: []}"},
	{key: "stop_wait_time", yaml: "stop_wait_time: 60"},
	{key: "retain_containers", yaml: "retain_containers: 3"},
	{key: "minimum_version", yaml: "minimum_version: 1.3.0"},
	{key: "readiness_delay", yaml: "readiness_delay: 4"},
	{key: "run_directory", yaml: "run_directory: /etc/kamal", refused: true},

	// servers.yml, role.yml
	{key: "servers", yaml: "servers: [10.0.0.9]"},
	{key: "servers (host tags)", yaml: "servers: [10.0.0.1, {10.0.0.2: replica}]\nenv: {tags: {replica: {X: y}}}"},
	{key: "servers.ROLE", yaml: "servers: {jobs: [10.0.0.9]}"},
	{key: "servers.ROLE.hosts", yaml: "servers: {workers: {hosts: [10.0.0.9]}}"},
	{key: "servers.ROLE.hosts (host tags)", yaml: "servers: {workers: {hosts: [{10.0.0.2: [a, b]}]}}\nenv: {tags: {a: {X: y}, b: {Y: z}}}"},
	{key: "servers.ROLE.traefik", yaml: "servers: {workers: {traefik: true}}"},
	{key: "servers.ROLE.cmd", yaml: "servers: {workers: {cmd: bin/other}}"},
	{key: "servers.ROLE.options", yaml: "servers: {workers: {options: {memory: 2g}}}"},
	{key: "servers.ROLE.healthcheck", yaml: "servers: {workers: {healthcheck: {path: /health}}}"},
	{key: "servers.ROLE.logging", yaml: "servers: {workers: {logging: {driver: syslog}}}"},
	{key: "servers.ROLE.labels", yaml: "servers: {workers: {labels: {team: jobs}}}"},
	{key: "servers.ROLE.env", yaml: "servers: {workers: {env: {QUEUE: low}}}"},
	{key: "servers.ROLE.asset_path", yaml: "servers: {web: {hosts: [10.0.0.1], asset_path: /public}}"},

	// env.yml
	{key: "env", yaml: "env: {X: y}"},
	{key: "env.clear", yaml: "env: {clear: {X: y}}"},
	{key: "env.secret", yaml: "env: {secret: [A_SECRET]}"},
	{key: "env.tags", yaml: "servers: {web: [{10.0.0.1: t}]}\nenv: {tags: {t: {X: y}}}"},
	{key: "env.tags.TAG.clear", yaml: "servers: {web: [{10.0.0.1: t}]}\nenv: {tags: {t: {clear: {X: y}}}}"},
	{key: "env.tags.TAG.secret", yaml: "servers: {web: [{10.0.0.1: t}]}\nenv: {tags: {t: {secret: [A_SECRET]}}}"},

	// registry.yml
	{key: "registry.server", yaml: "registry: {server: ghcr.io}"},
	{key: "registry.username", yaml: "registry: {username: other}"},
	{key: "registry.password", yaml: "registry: {password: [A_SECRET]}"},

	// builder.yml
	{key: "builder.multiarch", yaml: "builder: {multiarch: false}"},
	{key: "builder.local.arch", yaml: "builder: {local: {arch: arm64}}"},
	{key: "builder.local.host", yaml: "builder: {local: {host: unix:///var/run/docker.sock}}"},
	{key: "builder.remote.arch", yaml: "builder: {remote: {arch: amd64}}"},
	{key: "builder.remote.host", yaml: "builder: {remote: {host: ssh://docker@builder}}"},
	{key: "builder.cache.type", yaml: "builder: {cache: {type: registry}}"},
	{key: "builder.cache.options", yaml: "builder: {cache: {type: registry, options: mode=max}}"},
	{key: "builder.cache.image", yaml: "builder: {cache: {type: registry, image: app-build-cache}}"},
	{key: "builder.context", yaml: "builder: {context: ..}"},
	{key: "builder.dockerfile", yaml: "builder: {dockerfile: Dockerfile.production}"},
	{key: "builder.target", yaml: "builder: {target: production}"},
	{key: "builder.args", yaml: "builder: {args: {RUBY_VERSION: 3.3.0}}"},
	{key: "builder.secrets", yaml: "builder: {secrets: [A_SECRET]}"},
	{key: "builder.ssh", yaml: "builder: {ssh: default=$SSH_AUTH_SOCK}"},

	// ssh.yml
	{key: "ssh.user", yaml: "ssh: {user: app}"},
	{key: "ssh.port", yaml: "ssh: {port: 2222}"},
	{key: "ssh.proxy", yaml: "ssh: {proxy: root@proxy-host}"},
	{key: "ssh.proxy_command", yaml: "ssh: {proxy_command: \"ssh -W %h:%p user@proxy\"}"},
	{key: "ssh.log_level", yaml: "ssh: {log_level: debug}"},
	{key: "ssh.keys_only", yaml: "ssh: {keys_only: true}"},
	{key: "ssh.keys", yaml: "ssh: {keys: [~/.ssh/id.pem]}"},
	{key: "ssh.key_data", yaml: "ssh: {key_data: [A_KEY]}"},

	// sshkit.yml
	{key: "sshkit.max_concurrent_starts", yaml: "sshkit: {max_concurrent_starts: 10}"},
	{key: "sshkit.pool_idle_timeout", yaml: "sshkit: {pool_idle_timeout: 300}", refused: true},

	// healthcheck.yml
	{key: "healthcheck.cmd", yaml: "healthcheck: {cmd: curl -f http://localhost}"},
	{key: "healthcheck.interval", yaml: "healthcheck: {interval: 10s}"},
	{key: "healthcheck.max_attempts", yaml: "healthcheck: {max_attempts: 3}"},
	{key: "healthcheck.port", yaml: "healthcheck: {port: 80}"},
	{key: "healthcheck.path", yaml: "healthcheck: {path: /health}"},
	{key: "healthcheck.cord", yaml: "healthcheck: {cord: /cord}", refused: true},
	{key: "healthcheck.log_lines", yaml: "healthcheck: {log_lines: 100}"},

	// traefik.yml
	{key: "traefik.image", yaml: "traefik: {image: traefik:v3.1}"},
	{key: "traefik.host_port", yaml: "traefik: {host_port: 8080}"},
	{key: "traefik.publish", yaml: "traefik: {publish: false}"},
	{key: "traefik.labels", yaml: "traefik: {labels: {team: ops}}"},
	{key: "traefik.args", yaml: "traefik: {args: {accesslog: true}}"},
	{key: "traefik.options", yaml: "traefik: {options: {cpus: 2}}"},
	{key: "traefik.env", yaml: "traefik: {env: {secret: [A_SECRET]}}"},

	// accessory.yml
	{key: "accessories.NAME.service", yaml: "accessories: {db: {service: mysql}}"},
	{key: "accessories.NAME.image", yaml: "accessories: {db: {image: mysql:8.4}}"},
	{key: "accessories.NAME.host", yaml: "accessories: {db: {host: 10.0.0.9}}"},
	{key: "accessories.NAME.hosts", yaml: "accessories: {db: {hosts: [10.0.0.8, 10.0.0.9]}}"},
	{key: "accessories.NAME.roles", yaml: "accessories: {db: {roles: [workers]}}"},
	{key: "accessories.NAME.cmd", yaml: "accessories: {db: {cmd: bin/mysqld}}"},
	{key: "accessories.NAME.port", yaml: "accessories: {db: {port: \"127.0.0.1:3306:3306\"}}"},
	{key: "accessories.NAME.labels", yaml: "accessories: {db: {labels: {app: myapp}}}"},
	{key: "accessories.NAME.options", yaml: "accessories: {db: {options: {restart: always}}}"},
	{key: "accessories.NAME.env", yaml: "accessories: {db: {env: {secret: [A_SECRET]}}}"},
	{key: "accessories.NAME.files", yaml: "accessories: {db: {files: [config/my.cnf:/etc/mysql/my.cnf]}}"},
	{key: "accessories.NAME.directories", yaml: "accessories: {db: {directories: [mysql-logs:/var/log/mysql]}}"},
	{key: "accessories.NAME.volumes", yaml: "accessories: {db: {volumes: [/path/to/mysql-logs:/var/log/mysql]}}"},

	// boot.yml
	{key: "boot.limit", yaml: "boot: {limit: 25%}"},
	{key: "boot.wait", yaml: "boot: {wait: 2}"},

	// logging.yml
	{key: "logging.driver", yaml: "logging: {driver: json-file}"},
	{key: "logging.options", yaml: "logging: {options: {max-size: 100m}}"},
}

const kamalBase = `service: app
image: me/app
servers:
  web: [10.0.0.1]
  workers:
    hosts: [10.0.0.3]
    cmd: bin/jobs
accessories:
  db:
    image: mysql:8.0
    host: 10.0.0.5
`

// kamalEnv is the environment the fragments read.
func kamalEnv(name string) (string, bool) {
	switch name {
	case "A_SECRET":
		return "secret-value", true
	case "PLAIN":
		return "secret-value-of-PLAIN", true
	case "A_KEY":
		return "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n", true
	}
	return "", false
}

func loadKamalFragment(t *testing.T, fragment string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config/deploy.yml", kamalBase)
	write("config/deploy.k.yml", fragment)
	write("config/my.cnf", "[mysqld]\n")
	c, err := Load(LoadOptions{File: filepath.Join(dir, "config", "deploy.yml"), Destination: "k", LookupEnv: kamalEnv})
	if c != nil {
		// The same for every load: only what the fragment asks counts.
		c.File, c.Files, c.Root = "", nil, ""
	}
	return c, err
}

// insteadHints are what a refusal says to do.
var insteadHints = []string{"remove the key", "set it to", "use ", "instead"}

func TestKamalKeys(t *testing.T) {
	base, err := loadKamalFragment(t, "{}\n")
	if err != nil {
		t.Fatalf("base: %v", err)
	}
	seen := map[string]bool{}
	for _, k := range kamalKeys {
		if seen[k.key] {
			t.Errorf("%s listed twice", k.key)
		}
		seen[k.key] = true
		t.Run(k.key, func(t *testing.T) {
			c, err := loadKamalFragment(t, k.yaml+"\n")
			switch {
			case k.refused && err == nil:
				t.Errorf("%s: accepted, want a refusal", k.key)
			case k.refused:
				msg := err.Error()
				ok := false
				for _, h := range insteadHints {
					ok = ok || strings.Contains(msg, h)
				}
				if !ok {
					t.Errorf("%s: refused without saying what to do instead: %v", k.key, err)
				}
			case err != nil && k.pending != "":
				t.Logf("%s: refused until %s lands: %v", k.key, k.pending, err)
			case err != nil:
				t.Errorf("%s: %v", k.key, err)
			case reflect.DeepEqual(c, base):
				t.Errorf("%s: accepted without effect (the loaded config is the same as without it)", k.key)
			}
		})
	}
}

// TestKamalKeysRefusalsAcceptNoOps: the refused keys' values that ask for
// nothing load.
func TestKamalKeysRefusalsAcceptNoOps(t *testing.T) {
	for _, y := range []string{"healthcheck: {cord: false}", "healthcheck: {cord: /tmp/kamal-cord}", "run_directory: .mrsk"} {
		if _, err := loadKamalFragment(t, y+"\n"); err != nil {
			t.Errorf("%s: %v", y, err)
		}
	}
}

// TestREADMEListsKamalKeys: the README's configuration section names
// every key of kamalKeys.
func TestREADMEListsKamalKeys(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, k := range kamalKeys {
		name, _, _ := strings.Cut(k.key, " (")
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not list `%s`", name)
		}
	}
}
