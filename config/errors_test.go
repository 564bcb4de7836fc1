package config

import (
	"errors"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	const head = "service: app\nimage: me/app\n"
	const ok = head + "servers: [a]\n"
	tests := []struct {
		name  string
		files map[string]string // deploy.yml is "main" shorthand
		main  string
		dest  string
		env   map[string]string
		want  string // exact substring of err.Error()
	}{
		// Files and YAML.
		{name: "invalid yaml", main: "service: app\n  image: [\n", want: "config/deploy.yml:2: invalid YAML: "},
		{name: "not a map", main: "- a\n- b\n", want: "config/deploy.yml:1:1: must be a map of settings"},
		{name: "duplicate key", main: ok + "image: again\n", want: "config/deploy.yml:4:1: image: duplicate key (first defined at line 2)"},
		{name: "non-scalar key", main: ok + "? [a, b]\n: c\n", want: "config/deploy.yml:4:3: keys must be strings"},
		{name: "alias cycle", main: head + "servers: &a [*a]\n", want: "config/deploy.yml:3:14: servers[0][0]: alias *a refers to a node that contains it"},
		{name: "bad merge key", main: ok + "labels:\n  <<: 3\n", want: "config/deploy.yml:5:3: labels: merge key << must be a map or a list of maps"},
		{name: "alias bomb", main: head + "servers: [a]\nx-a: &a [1,1,1,1,1,1,1,1,1,1]\nx-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nx-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nx-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nx-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nx-f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
			want: "document too large"},

		// Unknown keys.
		{name: "unknown top key suggestion", main: head + "servrs: [a]\n", want: `config/deploy.yml:3:1: servrs: unknown key; did you mean "servers"?`},
		{name: "unknown key list", main: ok + "logging:\n  drivr: x\n  bogus: y\n", want: `config/deploy.yml:5:3: logging.drivr: unknown key; did you mean "driver"?`},
		{name: "unknown key no suggestion", main: ok + "ssh:\n  whatever: 1\n", want: `config/deploy.yml:5:3: ssh.whatever: unknown key; expected one of: key_data, keys, keys_only, log_level, port, proxy, proxy_command, user`},
		{name: "unknown role key", main: head + "servers:\n  workers:\n    hosts: [a]\n    comd: bin/jobs\n", want: `config/deploy.yml:6:5: servers.workers.comd: unknown key; did you mean "cmd"?`},
		{name: "unknown env key", main: ok + "env:\n  clear: {}\n  secrt: [A]\n", want: `config/deploy.yml:6:3: env.secrt: unknown key; did you mean "secret"?`},
		{name: "unknown registry key", main: ok + "registry:\n  pasword: x\n", want: `config/deploy.yml:5:3: registry.pasword: unknown key; did you mean "password"?`},
		{name: "unknown accessory key", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    prot: 3306\n", want: `config/deploy.yml:8:5: accessories.db.prot: unknown key; did you mean "port"?`},
		{name: "unknown healthcheck key", main: ok + "healthcheck:\n  max_attempt: 3\n", want: `healthcheck.max_attempt: unknown key; did you mean "max_attempts"?`},

		// Required keys.
		{name: "service missing", main: "image: x\nservers: [a]\n", want: "config/deploy.yml:1:1: service: is required"},
		{name: "service empty", main: "service: ''\nimage: x\nservers: [a]\n", want: "config/deploy.yml:1:10: service: must not be empty"},
		{name: "service null", main: "service:\nimage: x\nservers: [a]\n", want: "service: must not be empty"},
		{name: "service invalid", main: "service: My.App\nimage: x\nservers: [a]\n", want: "config/deploy.yml:1:10: service: must contain only lowercase letters, digits, - and _"},
		{name: "image missing", main: "service: app\nservers: [a]\n", want: "config/deploy.yml:1:1: image: is required"},
		{name: "image not a string", main: "service: app\nimage: {a: b}\nservers: [a]\n", want: "config/deploy.yml:2:8: image: must be a string"},
		{name: "servers missing", main: head, want: "config/deploy.yml:1:1: servers: is required"},
		{name: "empty file", main: "", want: "config/deploy.yml: service: is required"},

		// Servers.
		{name: "servers scalar", main: head + "servers: a\n", want: "config/deploy.yml:3:10: servers: must be a list of hosts or a map of roles"},
		{name: "servers empty list", main: head + "servers: []\n", want: "config/deploy.yml:3:10: servers: must list at least one host"},
		{name: "servers empty map", main: head + "servers: {}\n", want: "config/deploy.yml:3:10: servers: must list at least one host"},
		{name: "host not a string", main: head + "servers:\n  web:\n    hosts:\n      - 10.0.0.1\n      - [a, b]\n", want: "config/deploy.yml:7:9: servers.web.hosts[1]: must be a string"},
		{name: "host tag", main: head + "servers:\n  - 10.0.0.1\n  - 10.0.0.2: experiments\n", want: `config/deploy.yml:5:5: servers[1]: tag "experiments" is not defined in env.tags`},
		{name: "host tag in accessory", main: ok + "accessories:\n  db:\n    image: mysql\n    hosts: [{a: b}]\n", want: "config/deploy.yml:7:13: accessories.db.hosts[0]: must be a string (host tags are for servers only)"},
		{name: "env tags in a role", main: head + "servers:\n  web:\n    hosts: [a]\n    env:\n      tags: {x: {A: b}}\n", want: "config/deploy.yml:7:13: servers.web.env.tags: tags are only allowed in the top-level env"},
		{name: "host empty", main: head + "servers:\n  web:\n    - ''\n", want: "config/deploy.yml:5:7: servers.web[0]: must not be empty"},
		{name: "host null", main: head + "servers:\n  - a\n  -\n", want: "servers[1]: must not be empty"},
		{name: "host whitespace", main: head + "servers: ['a b']\n", want: "config/deploy.yml:3:11: servers[0]: must not contain whitespace"},
		{name: "role hosts missing", main: head + "servers:\n  workers:\n    cmd: bin/jobs\n", want: "config/deploy.yml:5:5: servers.workers.hosts: is required"},
		{name: "role hosts empty", main: head + "servers:\n  workers:\n    hosts: []\n", want: "config/deploy.yml:5:5: servers.workers: must list at least one host"},
		{name: "role scalar", main: head + "servers:\n  web: 10.0.0.1\n", want: "config/deploy.yml:4:8: servers.web: must be a list of hosts or a map with hosts"},
		{name: "role null", main: head + "servers:\n  web:\n", want: "servers.web: must be a list of hosts or a map with hosts"},
		{name: "role name", main: head + "servers:\n  'we b': [a]\n", want: "config/deploy.yml:4:3: servers.we b: invalid role name"},
		{name: "role hosts scalar", main: head + "servers:\n  web:\n    hosts: a\n", want: "config/deploy.yml:5:12: servers.web.hosts: must be a list of hosts"},
		{name: "role traefik not bool", main: head + "servers:\n  web:\n    hosts: [a]\n    traefik: maybe\n", want: "config/deploy.yml:6:14: servers.web.traefik: must be true or false"},
		{name: "role options not map", main: head + "servers:\n  web:\n    hosts: [a]\n    options: [a]\n", want: "config/deploy.yml:6:14: servers.web.options: must be a map"},
		{name: "role cmd list", main: head + "servers:\n  web:\n    hosts: [a]\n    cmd: [bin/jobs]\n", want: "config/deploy.yml:6:10: servers.web.cmd: must be a string"},
		{name: "role cmd lowercase list", main: head + "servers:\n  web:\n    hosts: [a]\n    cmd: [sidekiq]\n", want: "config/deploy.yml:6:10: servers.web.cmd: must be a string (a one-item list [NAME] reads the upper-case environment variable NAME)"},
		{name: "primary role unknown", main: ok + "primary_role: api\n", want: `config/deploy.yml:4:15: primary_role: no role named "api" (roles: web)`},

		// Env.
		{name: "env list", main: ok + "env: [a]\n", want: "config/deploy.yml:4:6: env: must be a map of variables, or a map with clear and secret"},
		{name: "env clear list", main: ok + "env:\n  clear: [a]\n", want: "config/deploy.yml:5:10: env.clear: must be a map of variables"},
		{name: "env value map", main: ok + "env:\n  A: {b: c}\n", want: "config/deploy.yml:5:6: env.A: must be a string"},
		{name: "env secret not list", main: ok + "env:\n  secret: A\n", want: "config/deploy.yml:5:11: env.secret: must be a list of variable names"},
		{name: "env secret bad name", main: ok + "env:\n  secret: [A, 'B-C']\n", env: map[string]string{"A": "a"}, want: "config/deploy.yml:5:15: env.secret[1]: must be a variable name"},
		{name: "env secret unset", main: ok + "env:\n  secret:\n    - A\n    - MISSING_SECRET\n", env: map[string]string{"A": "a"},
			want: `config/deploy.yml:7:7: env.secret[1]: environment variable "MISSING_SECRET" is not set`},
		{name: "role env secret unset", main: head + "servers:\n  web:\n    hosts: [a]\n    env:\n      secret: [NOPE]\n",
			want: `config/deploy.yml:7:16: servers.web.env.secret[0]: environment variable "NOPE" is not set`},
		{name: "env name with =", main: ok + "env:\n  'A=B': c\n", want: "config/deploy.yml:5:3: env.A=B: invalid variable name"},

		// Variables.
		{name: "missing ${VAR}", main: head + "servers: [a]\nenv:\n  clear:\n    URL: https://${DOMAIN}/x\n",
			want: `config/deploy.yml:6:10: env.clear.URL: environment variable "DOMAIN" is not set`},
		{name: "missing ${VAR} in image", main: "service: app\nimage: me/app:${TAG}\nservers: [a]\n", want: `config/deploy.yml:2:8: image: environment variable "TAG" is not set`},
		{name: "missing [NAME]", main: ok + "registry:\n  username: me\n  password: [MRSK_REGISTRY_PASSWORD]\n",
			want: `config/deploy.yml:6:14: registry.password: environment variable "MRSK_REGISTRY_PASSWORD" is not set`},
		{name: "two-item list at scalar key", main: ok + "registry:\n  password: [A, B]\n", want: "config/deploy.yml:5:13: registry.password: must be a string"},
		{name: "missing var in options", main: ok + "traefik:\n  args:\n    certificatesresolvers.le.acme.email: ${EMAIL}\n",
			want: `config/deploy.yml:6:42: traefik.args.certificatesresolvers.le.acme.email: environment variable "EMAIL" is not set`},

		// Numbers and durations.
		{name: "ssh port range", main: ok + "ssh:\n  port: 70000\n", want: "config/deploy.yml:5:9: ssh.port: must be a port number between 1 and 65535"},
		{name: "ssh port zero", main: ok + "ssh:\n  port: 0\n", want: "ssh.port: must be a port number between 1 and 65535"},
		{name: "ssh port not int", main: ok + "ssh:\n  port: twenty\n", want: "config/deploy.yml:5:9: ssh.port: must be an integer"},
		{name: "ssh keys not list", main: ok + "ssh:\n  keys: ~/.ssh/id\n", want: "config/deploy.yml:5:9: ssh.keys: must be a list of strings"},
		{name: "healthcheck port", main: ok + "healthcheck:\n  port: -1\n", want: "config/deploy.yml:5:9: healthcheck.port: must be a port number between 1 and 65535"},
		{name: "traefik host_port", main: ok + "traefik:\n  host_port: 65536\n", want: "config/deploy.yml:5:14: traefik.host_port: must be a port number between 1 and 65535"},
		{name: "healthcheck max_attempts", main: ok + "healthcheck:\n  max_attempts: 0\n", want: "config/deploy.yml:5:17: healthcheck.max_attempts: must be at least 1"},
		{name: "healthcheck interval bad", main: ok + "healthcheck:\n  interval: soon\n", want: `config/deploy.yml:5:13: healthcheck.interval: must be a duration: a number of seconds, or like "30s" or "1m"`},
		{name: "healthcheck interval zero", main: ok + "healthcheck:\n  interval: 0s\n", want: "config/deploy.yml:5:13: healthcheck.interval: must be positive"},
		{name: "negative duration", main: ok + "stop_wait_time: -5s\n", want: "config/deploy.yml:4:17: stop_wait_time: must not be negative"},
		{name: "huge seconds", main: ok + "readiness_delay: 1e300\n", want: "config/deploy.yml:4:18: readiness_delay: is too long"},
		{name: "nan seconds", main: ok + "readiness_delay: .nan\n", want: "config/deploy.yml:4:18: readiness_delay: must be a duration"},
		{name: "negative seconds", main: ok + "readiness_delay: -5\n", want: "config/deploy.yml:4:18: readiness_delay: must not be negative"},
		{name: "duration map", main: ok + "stop_wait_time: {a: 1}\n", want: "config/deploy.yml:4:17: stop_wait_time: must be a duration"},
		{name: "retain_containers zero", main: ok + "retain_containers: 0\n", want: "config/deploy.yml:4:20: retain_containers: must be at least 1"},
		{name: "boot limit zero", main: ok + "boot:\n  limit: 0\n", want: `config/deploy.yml:5:10: boot.limit: must be a positive number of hosts or a percentage like "25%"`},
		{name: "boot limit 0%", main: ok + "boot:\n  limit: 0%\n", want: "boot.limit: must be a positive number of hosts or a percentage"},
		{name: "boot limit 150%", main: ok + "boot:\n  limit: 150%\n", want: "config/deploy.yml:5:10: boot.limit: must be a positive number"},
		{name: "boot limit words", main: ok + "boot:\n  limit: half\n", want: "config/deploy.yml:5:10: boot.limit: must be a positive number"},
		{name: "boot limit list", main: ok + "boot:\n  limit: [1, 2]\n", want: "config/deploy.yml:5:10: boot.limit: must be a number or a percentage"},
		{name: "boot not map", main: ok + "boot: 3\n", want: "config/deploy.yml:4:7: boot: must be a map with limit and wait"},

		// Other sections.
		{name: "registry not map", main: ok + "registry: ghcr.io\n", want: "config/deploy.yml:4:11: registry: must be a map with server, username and password"},
		{name: "builder multiarch", main: ok + "builder:\n  multiarch: sometimes\n", want: "config/deploy.yml:5:14: builder.multiarch: must be true or false"},
		{name: "builder cache type", main: ok + "builder:\n  cache:\n    type: s3\n", want: `config/deploy.yml:6:11: builder.cache.type: must be "gha" or "registry"`},
		{name: "builder secrets name", main: ok + "builder:\n  secrets: [OK, not-ok]\n", want: "config/deploy.yml:5:17: builder.secrets[1]: must be a variable name"},
		{name: "builder remote scalar", main: ok + "builder:\n  remote: ssh://x\n", want: "config/deploy.yml:5:11: builder.remote: must be a map with arch and host"},
		{name: "labels list", main: ok + "labels: [a]\n", want: "config/deploy.yml:4:9: labels: must be a map of strings"},
		{name: "volumes map", main: ok + "volumes: {a: b}\n", want: "config/deploy.yml:4:10: volumes: must be a list of strings"},
		{name: "volumes empty item", main: ok + "volumes: ['']\n", want: "config/deploy.yml:4:11: volumes[0]: must not be empty"},
		{name: "require_destination not bool", main: ok + "require_destination: please\n", want: "config/deploy.yml:4:22: require_destination: must be true or false"},

		// Accessories.
		{name: "accessories list", main: ok + "accessories: [db]\n", want: "config/deploy.yml:4:14: accessories: must be a map of accessories"},
		{name: "accessory scalar", main: ok + "accessories:\n  db: mysql\n", want: "config/deploy.yml:5:7: accessories.db: must be a map with image and host, hosts or roles"},
		{name: "accessory no hosts", main: ok + "accessories:\n  db:\n    image: mysql\n", want: "config/deploy.yml:6:5: accessories.db: must name at least one host with host, hosts or roles"},
		{name: "accessory no image", main: ok + "accessories:\n  db:\n    host: a\n", want: "config/deploy.yml:6:5: accessories.db.image: is required"},
		{name: "accessory unknown role", main: ok + "accessories:\n  db:\n    image: mysql\n    roles: [web, workers]\n", want: `config/deploy.yml:7:18: accessories.db.roles[1]: no role named "workers" (roles: web)`},
		{name: "accessory bad file", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    files:\n      - just/a/path\n", want: `config/deploy.yml:9:9: accessories.db.files[0]: must be "LOCAL:REMOTE"`},
		{name: "accessory bad directory", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    directories: data\n", want: `config/deploy.yml:8:18: accessories.db.directories: must be a list of "LOCAL:REMOTE" paths`},
		{name: "accessory port range", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: 99999\n", want: "config/deploy.yml:8:11: accessories.db.port: must be a port number between 1 and 65535"},
		{name: "accessory host empty", main: ok + "accessories:\n  db:\n    image: mysql\n    host: ''\n", want: "config/deploy.yml:7:11: accessories.db.host: must be a host name"},
		{name: "accessory name", main: ok + "accessories:\n  '-db':\n    image: mysql\n    host: a\n", want: "config/deploy.yml:5:3: accessories.-db: invalid accessory name"},

		// Values checked before any host is contacted (they would fail only
		// after the deploy lock and the build).
		{name: "image with ;", main: "service: app\nimage: me/app;reboot\nservers: [a]\n", want: `config/deploy.yml:2:8: image: must be an image name like "me/app"`},
		{name: "image upper case", main: "service: app\nimage: Me/App\nservers: [a]\n", want: "config/deploy.yml:2:8: image: must be an image name"},
		{name: "image with tag", main: "service: app\nimage: me/app:latest\nservers: [a]\n", want: "config/deploy.yml:2:8: image: must not carry a tag or digest: the tag is the version"},
		{name: "image from env with space", main: "service: app\nimage: me/${APP}\nservers: [a]\n", env: map[string]string{"APP": "a b"}, want: "config/deploy.yml:2:8: image: must be an image name"},
		{name: "registry server with scheme", main: ok + "registry:\n  server: https://ghcr.io\n", want: `config/deploy.yml:5:11: registry.server: must be a registry host like "ghcr.io"`},
		{name: "host with ;", main: head + "servers: ['a;b']\n", want: "config/deploy.yml:3:11: servers[0]: must be a host name or address"},
		{name: "host with bad port", main: head + "servers: ['a:99999']\n", want: "servers[0]: must be a host name or address, optionally user@HOST and HOST:PORT (port must be between 1 and 65535)"},
		{name: "host bad ipv6", main: head + "servers: ['[zz::1]:22']\n", want: "servers[0]: must be a host name or address, optionally user@HOST and HOST:PORT (invalid IPv6 address)"},
		{name: "host with slash", main: head + "servers:\n  web:\n    hosts: [a/b]\n", want: "config/deploy.yml:5:13: servers.web.hosts[0]: must be a host name or address"},
		{name: "host bad user", main: head + "servers: ['a b@c']\n", want: "servers[0]: must not contain whitespace"},
		{name: "host user with $(", main: head + "servers: ['$(x)@c']\n", want: "servers[0]: must be a host name or address, optionally user@HOST and HOST:PORT (invalid user)"},
		{name: "accessory host with ;", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a;b\n", want: "config/deploy.yml:7:11: accessories.db.host: must be a host name or address"},
		{name: "accessory port not numeric", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: lots\n", want: "config/deploy.yml:8:11: accessories.db.port: must be PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT"},
		{name: "accessory port pair out of range", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: '3306:70000'\n", want: "accessories.db.port: must be a port number between 1 and 65535"},
		{name: "accessory port bad ip", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: 'localhost:1:2'\n", want: "accessories.db.port: must be PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT (optionally ending in /tcp or /udp) (invalid IP address)"},
		{name: "accessory port bad protocol", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: '53:53/icmp'\n", want: "accessories.db.port: must be PORT"},
		{name: "accessory bare port with protocol", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    port: 53/udp\n", want: `(with a protocol, give both ports: "53:53/udp")`},
		{name: "accessory image with ;", main: ok + "accessories:\n  db:\n    image: mysql:8;x\n    host: a\n", want: `config/deploy.yml:6:12: accessories.db.image: must be an image reference like "mysql:8.0"`},
		{name: "accessory cmd unbalanced", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    cmd: \"run 'x\"\n", want: "config/deploy.yml:8:10: accessories.db.cmd: unterminated single quote"},
		{name: "accessory volume relative target", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    volumes: ['data:var/lib']\n", want: "config/deploy.yml:8:15: accessories.db.volumes[0]: must be \"SOURCE:/CONTAINER/PATH[:ro]\" (SOURCE a host path or a volume name) (the container path must be absolute)"},
		{name: "accessory option name", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    options:\n      'memory 1g': true\n", want: "config/deploy.yml:9:7: accessories.db.options.memory 1g: invalid option name"},
		{name: "accessory label key", main: ok + "accessories:\n  db:\n    image: mysql\n    host: a\n    labels:\n      'a=b': c\n", want: "config/deploy.yml:9:7: accessories.db.labels.a=b: invalid label key"},
		{name: "healthcheck path relative", main: ok + "healthcheck:\n  path: up\n", want: `config/deploy.yml:5:9: healthcheck.path: must start with "/", like "/up"`},
		{name: "healthcheck path space", main: ok + "healthcheck:\n  path: /up now\n", want: "config/deploy.yml:5:9: healthcheck.path: must not contain spaces or control characters"},
		{name: "healthcheck path fragment", main: ok + "healthcheck:\n  path: /up#x\n", want: "healthcheck.path: must not contain \"#\""},
		{name: "traefik image", main: ok + "traefik:\n  image: 'traefik:v3 --x'\n", want: "config/deploy.yml:5:10: traefik.image: must be an image reference"},
		{name: "traefik arg name", main: ok + "traefik:\n  args:\n    'log level': DEBUG\n", want: "config/deploy.yml:6:5: traefik.args.log level: invalid option name"},
		{name: "traefik label key", main: ok + "traefik:\n  labels:\n    'a b': c\n", want: "config/deploy.yml:6:5: traefik.labels.a b: invalid label key"},
		{name: "traefik label on traefik", main: ok + "traefik:\n  labels:\n    traefik.enable: 'true'\n", want: "config/deploy.yml:6:5: traefik.labels.traefik.enable: Traefik label not supported"},
		{name: "traefik label on app", main: ok + "labels:\n  traefik.tcp.routers.hey.entrypoints: websecure\n", want: "config/deploy.yml:5:3: labels.traefik.tcp.routers.hey.entrypoints: mrsk routes HTTP only"},
		{name: "traefik label on accessory", main: ok + "accessories:\n  db:\n    image: mysql:8\n    host: 10.0.0.1\n    labels:\n      traefik.enable: 'true'\n", want: "config/deploy.yml:9:7: accessories.db.labels.traefik.enable: Traefik label not supported"},
		{name: "labels key with =", main: ok + "labels:\n  'a=b': c\n", want: `config/deploy.yml:5:3: labels.a=b: invalid label key: must not be empty or contain "=" or spaces`},
		{name: "role label key", main: head + "servers:\n  web:\n    hosts: [a]\n    labels:\n      'x y': z\n", want: "config/deploy.yml:7:7: servers.web.labels.x y: invalid label key"},
		{name: "role option name", main: head + "servers:\n  web:\n    hosts: [a]\n    options:\n      '--cpus': 2\n", want: "config/deploy.yml:7:7: servers.web.options.--cpus: invalid option name"},
		{name: "role cmd unbalanced", main: head + "servers:\n  jobs:\n    hosts: [a]\n    cmd: 'bin/jobs \"--queue'\n", want: "config/deploy.yml:6:10: servers.jobs.cmd: unterminated double quote"},
		{name: "volume relative target", main: ok + "volumes: ['/data:data']\n", want: "config/deploy.yml:4:11: volumes[0]: must be \"SOURCE:/CONTAINER/PATH[:ro]\""},
		{name: "volume bad mode", main: ok + "volumes: ['/data:/data:rx']\n", want: `volumes[0]: must be "SOURCE:/CONTAINER/PATH[:ro]" (SOURCE a host path or a volume name) (unknown mode "rx")`},
		{name: "volume too many parts", main: ok + "volumes: ['/a:/b:ro:x']\n", want: "volumes[0]: must be"},
		{name: "volume bad name", main: ok + "volumes: ['$(x):/data']\n", want: "volumes[0]: must be \"SOURCE:/CONTAINER/PATH[:ro]\" (SOURCE a host path or a volume name) (a volume name is"},
		{name: "env clear name with space", main: ok + "env:\n  'A B': c\n", want: "config/deploy.yml:5:3: env.A B: invalid variable name"},
		{name: "env clear name digit", main: ok + "env:\n  clear:\n    1A: c\n", want: "config/deploy.yml:6:5: env.clear.1A: invalid variable name: use letters, digits, '_', '.' and '-', not starting with a digit"},
		{name: "env clear name with $", main: ok + "env:\n  'A$B': c\n", want: "env.A$B: invalid variable name"},
		{name: "env secret with line break", main: ok + "env:\n  secret: [MULTI]\n", env: map[string]string{"MULTI": "a\nb"}, want: "config/deploy.yml:5:12: env.secret[0]: the value of MULTI has a line break, which a docker env file cannot hold"},
		{name: "traefik env secret with line break", main: ok + "traefik:\n  env:\n    secret: [MULTI]\n", env: map[string]string{"MULTI": "a\r\nb"}, want: "traefik.env.secret[0]: the value of MULTI has a line break"},
		{name: "stop_wait_time fraction", main: ok + "stop_wait_time: 1.5\n", want: "config/deploy.yml:4:17: stop_wait_time: must be a whole number of seconds (docker stop -t takes seconds)"},
		{name: "stop_wait_time word", main: ok + "stop_wait_time: soon\n", want: "config/deploy.yml:4:17: stop_wait_time: must be a duration"},
		{name: "retain_containers word", main: ok + "retain_containers: all\n", want: "config/deploy.yml:4:20: retain_containers: must be an integer"},
		{name: "boot limit decimal", main: ok + "boot:\n  limit: 1.5\n", want: "config/deploy.yml:5:10: boot.limit: must be a positive number"},
		{name: "boot limit percent words", main: ok + "boot:\n  limit: 'ten%'\n", want: "boot.limit: must be a positive number"},
		{name: "ssh user", main: ok + "ssh:\n  user: 'root;x'\n", want: "config/deploy.yml:5:9: ssh.user: must be a login name"},
		{name: "ssh proxy", main: ok + "ssh:\n  proxy: 'bastion host'\n", want: "config/deploy.yml:5:10: ssh.proxy: must be a host name or address"},
		{name: "logging driver", main: ok + "logging:\n  driver: 'json file'\n", want: "config/deploy.yml:5:11: logging.driver: must be a docker logging driver name"},
		{name: "logging option key", main: ok + "logging:\n  options:\n    'max=size': 10m\n", want: "config/deploy.yml:6:5: logging.options.max=size: invalid label key"},
		{name: "builder arch", main: ok + "builder:\n  local:\n    arch: 'amd64 arm64'\n", want: `config/deploy.yml:6:11: builder.local.arch: must be an architecture like "amd64"`},
		{name: "builder arg name", main: ok + "builder:\n  args:\n    'A B': c\n", want: "config/deploy.yml:6:5: builder.args.A B: invalid build argument name"},
		{name: "minimum_version", main: ok + "minimum_version: one\n", want: `config/deploy.yml:4:18: minimum_version: must be a version like "1.2"`},
		{name: "asset_path relative", main: ok + "asset_path: public/assets\n", want: "config/deploy.yml:4:13: asset_path: must be an absolute path in the container"},
		{name: "service with ;", main: "service: 'app;x'\nimage: x\nservers: [a]\n", want: "config/deploy.yml:1:10: service: must contain only lowercase letters, digits, - and _"},
		{name: "role name with ;", main: head + "servers:\n  'web;x': [a]\n", want: "config/deploy.yml:4:3: servers.web;x: invalid role name"},
		{name: "destination host", main: ok, dest: "staging", files: map[string]string{"config/deploy.staging.yml": "servers:\n  - 'b&c'\n"},
			want: "config/deploy.staging.yml:2:5: servers[0]: must be a host name or address"},

		// Destinations.
		{name: "require_destination", main: ok + "require_destination: true\n", want: "config/deploy.yml: require_destination is true: pass -d DESTINATION"},
		{name: "destination missing", main: ok, dest: "staging", want: "config/deploy.staging.yml: destination file not found (for -d staging)"},
		{name: "destination invalid name", main: ok, dest: "../x", want: `config/deploy.yml: invalid destination "../x"`},
		{name: "error in destination file", main: ok, dest: "staging",
			files: map[string]string{"config/deploy.staging.yml": "servers:\n  web:\n    hosts: [a, {b: c}]\n"},
			want:  `config/deploy.staging.yml:3:17: servers.web.hosts[1]: tag "c" is not defined in env.tags`},
		{name: "unknown key in destination file", main: ok, dest: "staging",
			files: map[string]string{"config/deploy.staging.yml": "\nhealthcheck:\n  paht: /up\n"},
			want:  `config/deploy.staging.yml:3:3: healthcheck.paht: unknown key; did you mean "path"?`},
		{name: "destination not a map", main: ok, dest: "staging",
			files: map[string]string{"config/deploy.staging.yml": "[a]\n"},
			want:  "config/deploy.staging.yml:1:1: must be a map of settings"},
		{name: "destination bad yaml", main: ok, dest: "staging",
			files: map[string]string{"config/deploy.staging.yml": "a: [\n"},
			want:  "config/deploy.staging.yml:"},

		// .env.
		{name: "dotenv no equals", main: ok, files: map[string]string{".env": "A=1\nJUST_A_WORD\n"}, want: ".env:2:1: expected KEY=VALUE"},
		{name: "dotenv bad name", main: ok, files: map[string]string{".env": "1A=x\n"}, want: `.env:1:1: invalid variable name "1A"`},
		{name: "dotenv unterminated", main: ok, files: map[string]string{".env": "A=\"open\n"}, want: ".env:1:1: A: unterminated double quote"},
		{name: "dotenv unterminated single", main: ok, files: map[string]string{".env": "A='open\n"}, want: ".env:1:1: A: unterminated single quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"config/deploy.yml": tt.main}
			for k, v := range tt.files {
				files[k] = v
			}
			_, _, err := loadProject(t, files, tt.dest, tt.env)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %v\nwant substring\n  %s", err, tt.want)
			}
		})
	}
}
