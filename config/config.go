// Package config loads config/deploy.yml (plus an optional destination file and
// .env) into a typed, validated Config. It knows nothing about SSH, Docker or
// Starlark: other packages consume the Config it returns.
package config

import "time"

// Secret holds a value that must never be printed. Its String and
// MarshalYAML methods return "[REDACTED]"; call Reveal to get the value.
type Secret struct{ value string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the real value; call it only where the value leaves the
// process through a channel that does not echo it (stdin, a 0600 file).
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no value was set.
func (s Secret) IsZero() bool { return s.value == "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString keeps %#v from leaking the value too.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML prints the redaction marker, so `mrsk config` cannot leak.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Config is the resolved configuration of one service (and destination).
type Config struct {
	// File is the main config file path as given; Files lists every file read.
	File  string   `yaml:"-"`
	Files []string `yaml:"-"`
	// Root is the project directory (the parent of the config/ directory).
	Root string `yaml:"-"`

	Service     string `yaml:"service"`
	Image       string `yaml:"image"`
	Destination string `yaml:"destination,omitempty"`

	// Runtime is the container runtime on hosts (docker or podman); a role
	// or an accessory may set its own. HostRuntimes resolves each host's.
	Runtime string `yaml:"runtime"`
	// HostRuntimes is the runtime of every host (roles and accessories),
	// set at load: one host runs one runtime.
	HostRuntimes map[string]string `yaml:"-"`

	// Roles in the order they appear in the file; "web" when servers is a list.
	Roles []*Role `yaml:"roles"`

	Env Env `yaml:"env,omitempty"`
	// EnvTags is env.tags: env added on the hosts tagged with the name
	// (servers: [HOST: TAG]), over the role's.
	EnvTags     map[string]Env    `yaml:"env_tags,omitempty"`
	Registry    Registry          `yaml:"registry"`
	Builder     Builder           `yaml:"builder,omitempty"`
	SSH         SSH               `yaml:"ssh"`
	Healthcheck Healthcheck       `yaml:"healthcheck"`
	Traefik     Traefik           `yaml:"traefik"`
	Accessories []*Accessory      `yaml:"accessories,omitempty"`
	Volumes     []string          `yaml:"volumes,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Logging     Logging           `yaml:"logging,omitempty"`
	Boot        Boot              `yaml:"boot"`
	Canary      *Canary           `yaml:"canary,omitempty"`

	StopWaitTime       time.Duration `yaml:"stop_wait_time"`
	RetainContainers   int           `yaml:"retain_containers"`
	ReadinessDelay     time.Duration `yaml:"readiness_delay"`
	PrimaryRole        string        `yaml:"primary_role"`
	RequireDestination bool          `yaml:"require_destination,omitempty"`
	MinimumVersion     string        `yaml:"minimum_version,omitempty"`
	AssetPath          string        `yaml:"asset_path,omitempty"`
	// HooksPath is where hook files are (hooks_path, relative to the
	// project root); "" means .mrsk/hooks, else .kamal/hooks when only
	// that exists.
	HooksPath string `yaml:"hooks_path,omitempty"`
	// AllowEmptyRoles lets a role list no host (it is then left out).
	AllowEmptyRoles bool `yaml:"allow_empty_roles,omitempty"`
	// SSHKit is Kamal's sshkit section: how connections are opened.
	SSHKit SSHKit `yaml:"sshkit,omitempty"`
	// CommandTimeout bounds each ordinary remote command (commands that
	// move images, local and streamed ones get at least 30m; following
	// logs none). nil means mrsk's default (2m); 0 means no timeout.
	CommandTimeout *time.Duration `yaml:"command_timeout,omitempty"`
}

// Role is a named group of hosts running the same container.
type Role struct {
	Name    string            `yaml:"name"`
	Hosts   []string          `yaml:"hosts"`
	Cmd     string            `yaml:"cmd,omitempty"`
	Env     Env               `yaml:"env,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
	Options map[string]any    `yaml:"options,omitempty"`
	// AssetPath is the role's asset_path (over the top-level one): see
	// Config.RoleAssetPath.
	AssetPath string `yaml:"asset_path,omitempty"`
	// Traefik reports whether the role serves HTTP through Traefik. Default:
	// true for the primary role only, as in Kamal 1.9; `traefik: true|false`
	// in the role overrides.
	Traefik bool `yaml:"traefik"`
	// Runtime is the role's container runtime (the top-level one unless
	// the role sets its own).
	Runtime string `yaml:"runtime"`
	// Tags are the host tags of servers (HOST: TAG or HOST: [TAGS]), by
	// host; EnvFor adds env.tags of each.
	Tags map[string][]string `yaml:"tags,omitempty"`
	// Healthcheck and Logging are the top-level ones with the role's own
	// keys over them (a role without Traefik: its own healthcheck only).
	Healthcheck Healthcheck `yaml:"healthcheck"`
	Logging     Logging     `yaml:"logging,omitempty"`
	// HealthcheckHTTP: a new container must pass the HTTP (or cmd) check
	// before it serves. True for Traefik roles, and, as in Kamal 1.9, for
	// any role when healthcheck.port or path is set (top level or role);
	// otherwise it must keep running for readiness_delay.
	HealthcheckHTTP bool `yaml:"healthcheck_http"`
}

// SSHKit configures how connections are opened (Kamal's sshkit section).
type SSHKit struct {
	// MaxConcurrentStarts bounds the SSH handshakes in flight; 0 is
	// mrsk's default.
	MaxConcurrentStarts int `yaml:"max_concurrent_starts,omitempty"`
}

// Env is clear and secret environment. Secret maps NAME to its value, read
// from the process environment or .env.
type Env struct {
	Clear  map[string]string `yaml:"clear,omitempty"`
	Secret map[string]Secret `yaml:"secret,omitempty"`
}

// Registry is where images are pushed and pulled.
type Registry struct {
	// Server "local" means no registry: mrsk keeps built images in a
	// cache on this machine and hosts pull them through their SSH
	// connection (package localregistry).
	Server   string `yaml:"server,omitempty"`
	Username Secret `yaml:"username"`
	Password Secret `yaml:"password"`
}

// LocalServer is the registry.server that asks for no registry.
const LocalServer = "local"

// Local reports whether images travel over SSH instead of a registry.
func (r Registry) Local() bool { return r.Server == LocalServer }

// Builder configures the local image build.
type Builder struct {
	Multiarch *bool             `yaml:"multiarch,omitempty"`
	Args      map[string]string `yaml:"args,omitempty"`
	Secrets   []string          `yaml:"secrets,omitempty"`
	// SecretValues holds the value of each of Secrets that is set, read
	// like env.secret: the process environment, then .env.DESTINATION,
	// then .env. A name missing here is unset; the build says so before it
	// connects anywhere (a command that does not build needs no value).
	SecretValues map[string]Secret `yaml:"-"`
	Dockerfile   string            `yaml:"dockerfile,omitempty"` // default "Dockerfile"
	Context      string            `yaml:"context,omitempty"`    // default "."
	Remote       *BuilderTarget    `yaml:"remote,omitempty"`
	Local        *BuilderTarget    `yaml:"local,omitempty"`
	Cache        map[string]any    `yaml:"cache,omitempty"`
	// Target is the Dockerfile stage to build (--target); SSH is passed
	// to the build as --ssh (e.g. "default=$SSH_AUTH_SOCK").
	Target string `yaml:"target,omitempty"`
	SSH    string `yaml:"ssh,omitempty"`
	// Runtime builds and pushes on this machine: docker or podman; ""
	// picks docker when it is installed, else podman.
	Runtime string `yaml:"runtime,omitempty"`
}

// BuilderTarget is an arch plus an optional docker host for builds.
type BuilderTarget struct {
	Arch string `yaml:"arch,omitempty"`
	Host string `yaml:"host,omitempty"`
}

// SSH configures connections to hosts.
type SSH struct {
	User  string   `yaml:"user"` // default "root"
	Port  int      `yaml:"port"` // default 22
	Proxy string   `yaml:"proxy,omitempty"`
	Keys  []string `yaml:"keys,omitempty"`
	// KeyData are private keys read from environment variables (CI
	// secrets), used in memory only.
	KeyData []KeyData `yaml:"key_data,omitempty"`
	// LogLevel "debug" prints each connection's steps (Kamal passes it to
	// net-ssh); the other levels print what mrsk always prints.
	LogLevel string `yaml:"log_level,omitempty"`
	// ProxyCommand is run to reach each host (%h and %p are its address
	// and port), its stdin and stdout the connection, as OpenSSH's.
	ProxyCommand string `yaml:"proxy_command,omitempty"`
	// KeysOnly offers only keys, key_data and ssh config IdentityFile
	// keys: not ssh-agent's, nor ~/.ssh/id_* (OpenSSH's IdentitiesOnly).
	KeysOnly bool `yaml:"keys_only,omitempty"`
}

// KeyData is a private key from the environment variable Name.
type KeyData struct {
	Name string
	Key  Secret
}

// MarshalYAML shows the variable's name, as written in deploy.yml.
func (k KeyData) MarshalYAML() (any, error) { return k.Name, nil }

// Healthcheck gates the switch to a new container.
type Healthcheck struct {
	Path        string        `yaml:"path"`         // default "/up"
	Port        int           `yaml:"port"`         // default 3000
	Interval    time.Duration `yaml:"interval"`     // default 1s
	MaxAttempts int           `yaml:"max_attempts"` // default 7
	Timeout     time.Duration `yaml:"timeout,omitempty"`
	Cmd         string        `yaml:"cmd,omitempty"`
	// LogLines is how many of a failing container's last log lines are
	// shown (default 50, as in Kamal).
	LogLines int `yaml:"log_lines"`
}

// Traefik configures the proxy on every host of an HTTP role.
type Traefik struct {
	Image    string `yaml:"image"`     // default "traefik:v3.6"
	HostPort int    `yaml:"host_port"` // default 80
	// Publish false runs Traefik without publishing host_port (something
	// else in front reaches it on the mrsk network).
	Publish *bool             `yaml:"publish,omitempty"` // nil: true
	Args    map[string]any    `yaml:"args,omitempty"`
	Options map[string]any    `yaml:"options,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
	Env     Env               `yaml:"env,omitempty"`
	// TLS is HTTPS without writing Traefik args; nil is none.
	TLS *TLS `yaml:"tls,omitempty"`
}

// Publishes reports whether Traefik publishes its ports on the host.
func (t Traefik) Publishes() bool { return t.Publish == nil || *t.Publish }

// TLS serves the HTTP roles over HTTPS (traefik.tls): a certificate from
// an ACME server (Let's Encrypt by default) or the project's own.
type TLS struct {
	// Hosts are the names served: the Host rule and the certificate's.
	Hosts       []string        `yaml:"hosts"`
	ACME        *ACME           `yaml:"acme,omitempty"`
	Certificate *TLSCertificate `yaml:"certificate,omitempty"`
	// Redirect sends HTTP requests to HTTPS, permanently.
	Redirect bool `yaml:"redirect"`
}

// ACME is where the certificate comes from: one Traefik (TLSPrimary's)
// orders it, every other web host gets a copy (see builtins/tls.go).
type ACME struct {
	Email    string `yaml:"email"`
	CAServer string `yaml:"ca_server,omitempty"` // "" is Traefik's default, Let's Encrypt
	// Challenge is how the ACME server checks the names: "http" (HTTP-01
	// on port 80, answered on every web host).
	Challenge string `yaml:"challenge"`
}

// TLSCertificate is the project's own certificate. The key is a secret:
// it travels on stdin into a 0600 file, like env files.
type TLSCertificate struct {
	File string `yaml:"cert"` // as written, relative to the project root
	PEM  []byte `yaml:"-"`    // the certificate chain, read at load
	Key  Secret `yaml:"key"`  // PEM, from the environment
}

// Accessory is a long-lived service container (database, cache, ...).
type Accessory struct {
	Name string `yaml:"name"`
	// Service names its container, its "service" label and its directory
	// on hosts: accessories.NAME.service, default SERVICE-NAME, as Kamal's.
	Service     string            `yaml:"service"`
	Image       string            `yaml:"image"`
	Hosts       []string          `yaml:"hosts"` // resolved from host, hosts and roles
	Port        string            `yaml:"port,omitempty"`
	Env         Env               `yaml:"env,omitempty"`
	Cmd         string            `yaml:"cmd,omitempty"`
	Files       []PathMapping     `yaml:"files,omitempty"`       // local file -> container path
	Directories []PathMapping     `yaml:"directories,omitempty"` // host dir -> container path
	Volumes     []string          `yaml:"volumes,omitempty"`
	Options     map[string]any    `yaml:"options,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Runtime     string            `yaml:"runtime"` // as Role.Runtime

	// RenderedFiles holds the files of Files ending in .erb, rendered at
	// load (local path -> content); secret, as credentials may be in them.
	RenderedFiles map[string]Secret `yaml:"-"`
}

// PathMapping is one LOCAL:REMOTE of accessory files or directories.
type PathMapping struct {
	Local  string `yaml:"local"`
	Remote string `yaml:"remote"`
}

// Logging is passed to docker run --log-driver/--log-opt.
type Logging struct {
	Driver  string            `yaml:"driver,omitempty"`
	Options map[string]string `yaml:"options,omitempty"`
}

// Boot controls how many hosts boot at once.
type Boot struct {
	// Limit is the raw value: "" (all at once), "N" or "N%".
	Limit string        `yaml:"limit,omitempty"`
	Wait  time.Duration `yaml:"wait,omitempty"`
}

// RoleAssetPath is where role's image keeps its assets (the role's
// asset_path, else the top-level one), "" for none. Only a role Traefik
// routes to bridges assets, as in Kamal 1.
func (c *Config) RoleAssetPath(r *Role) string {
	if !r.Traefik {
		return ""
	}
	if r.AssetPath != "" {
		return r.AssetPath
	}
	return c.AssetPath
}
