package config

// The schema: deploy.yml's top-level keys, their defaults, and the
// post-pass that resolves roles, accessories and cross references.

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	serviceRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// roleSpec is a role plus what the post-pass needs.
type roleSpec struct {
	role    *Role
	runtime *node // the role's own runtime key, if any
	traefik *bool // explicit role-level traefik
	env     Env   // the role's own env, before merging
	node    *node
	path    string
	// The role's healthcheck and logging, read over the top-level ones.
	healthcheck, logging         *node
	healthcheckPath, loggingPath string
	tagAt                        map[string]tagAt // by host + "\x00" + tag
}

// tagAt is where a host tag was given.
type tagAt struct {
	n    *node
	path string
}

type accessorySpec struct {
	acc       *Accessory
	runtime   *node
	node      *node
	path      string
	roles     []string
	roleNodes []*node
}

var defaultHealthcheck = Healthcheck{Path: "/up", Port: 3000, Interval: time.Second, MaxAttempts: 7, LogLines: 50}

// build walks the merged root mapping into c, applies defaults, resolves
// cross references and validates.
func (l *loader) build(root *node, c *Config) {
	// Defaults, overwritten by whatever the file sets.
	c.SSH = SSH{User: "root", Port: 22}
	c.Healthcheck = defaultHealthcheck
	c.Traefik = Traefik{Image: "traefik:v3.6", HostPort: 80}
	if n := root.get("allow_empty_roles"); n != nil {
		l.allowEmptyRoles, _ = l.boolean(n, "allow_empty_roles")
	}
	c.StopWaitTime = 10 * time.Second
	c.RetainContainers = 5
	c.ReadinessDelay = 7 * time.Second
	c.Builder = Builder{Dockerfile: "Dockerfile", Context: "."}

	var (
		roles       []*roleSpec
		accs        []*accessorySpec
		serviceNode *node
		imageNode   *node
		serversNode *node
		primaryNode *node
		primaryRole string
	)

	l.object(root, "", "a map of settings", handlers{
		"service": func(v *node, p string) {
			serviceNode = v
			c.Service = l.str(v, p)
			if c.Service != "" && !serviceRE.MatchString(c.Service) {
				l.failf(v, p, "must contain only lowercase letters, digits, - and _")
			}
		},
		"image": func(v *node, p string) {
			imageNode = v
			c.Image = strings.TrimSpace(l.str(v, p))
			if c.Image != "" {
				l.check(v, p, checkRepository(c.Image))
			}
		},
		"servers": func(v *node, p string) {
			serversNode = v
			roles = l.servers(v, p)
		},
		"env": func(v *node, p string) { c.Env = l.envTagged(v, p, &c.EnvTags) },
		"registry": func(v *node, p string) {
			l.object(v, p, "a map with server, username and password", handlers{
				"server": func(v *node, p string) {
					c.Registry.Server = strings.TrimSpace(l.str(v, p))
					if c.Registry.Server != "" {
						l.check(v, p, checkRegistryServer(c.Registry.Server))
					}
				},
				"username": func(v *node, p string) { c.Registry.Username = l.secret(v, p) },
				"password": func(v *node, p string) { c.Registry.Password = l.secret(v, p) },
			})
			// Credentials beside server: local would be ignored: say so
			// rather than let the user think they are used somewhere.
			for _, k := range []string{"username", "password"} {
				if n := v.get(k); n != nil && c.Registry.Local() {
					l.failf(n, joinPath(p, k), "not used with server: local (mrsk serves the image to hosts itself); remove it")
				}
			}
		},
		"builder":     func(v *node, p string) { l.builder(v, p, &c.Builder) },
		"ssh":         func(v *node, p string) { l.ssh(v, p, &c.SSH) },
		"healthcheck": func(v *node, p string) { l.healthcheck(v, p, &c.Healthcheck) },
		"traefik":     func(v *node, p string) { l.traefik(v, p, &c.Traefik) },
		"accessories": func(v *node, p string) { accs = l.accessories(v, p) },
		"volumes":     func(v *node, p string) { c.Volumes = l.volumes(v, p) },
		"labels":      func(v *node, p string) { c.Labels = l.routedLabels(v, p, true) },
		"logging":     func(v *node, p string) { l.logging(v, p, &c.Logging) },
		"canary":      func(v *node, p string) { l.canary(v, p, &c.Canary) },
		"boot": func(v *node, p string) {
			l.object(v, p, "a map with limit and wait", handlers{
				"limit": func(v *node, p string) {
					s, ok := l.scalar(v, p, "a number or a percentage")
					if !ok {
						return
					}
					s = strings.TrimSpace(s)
					if !validLimit(s) {
						l.failf(v, p, `must be a positive number of hosts or a percentage like "25%%"`)
						return
					}
					c.Boot.Limit = s
				},
				"wait": func(v *node, p string) { l.duration(v, p, &c.Boot.Wait) },
			})
		},
		"stop_wait_time": func(v *node, p string) {
			l.duration(v, p, &c.StopWaitTime)
			if c.StopWaitTime%time.Second != 0 {
				// docker stop -t takes whole seconds; 1.5 would become 1.
				l.failf(v, p, "must be a whole number of seconds (docker stop -t takes seconds)")
			}
		},
		"retain_containers": func(v *node, p string) { l.atLeastOne(v, p, &c.RetainContainers) },
		"readiness_delay":   func(v *node, p string) { l.duration(v, p, &c.ReadinessDelay) },
		"command_timeout": func(v *node, p string) {
			// A pointer, so that an explicit 0 (no timeout) differs from
			// the key being absent (the default).
			var d time.Duration
			l.duration(v, p, &d)
			c.CommandTimeout = &d
		},
		"primary_role": func(v *node, p string) {
			primaryNode = v
			primaryRole = l.str(v, p)
		},
		"require_destination": func(v *node, p string) {
			c.RequireDestination, _ = l.boolean(v, p)
		},
		"minimum_version": func(v *node, p string) {
			c.MinimumVersion = strings.TrimSpace(l.str(v, p))
			if c.MinimumVersion != "" && !versionRE.MatchString(c.MinimumVersion) {
				l.failf(v, p, `must be a version like "1.2" or "1.2.3"`)
			}
		},
		"asset_path": func(v *node, p string) {
			c.AssetPath = l.str(v, p)
			if c.AssetPath != "" && !strings.HasPrefix(c.AssetPath, "/") {
				l.failf(v, p, "must be an absolute path in the container")
			}
		},
		"hooks_path": func(v *node, p string) {
			c.HooksPath = strings.TrimSpace(l.str(v, p))
		},
		"run_directory": func(v *node, p string) {
			// Kamal keeps its lock, env files and audit log in
			// run_directory (.kamal); mrsk keeps its own in ~/.mrsk and
			// does not read Kamal's, so the key cannot move them.
			s, set := l.scalar(v, p, "a directory")
			if set && strings.TrimSuffix(strings.TrimSpace(s), "/") != ".mrsk" {
				l.failf(v, p, "mrsk keeps its files on hosts (the deploy lock, env files, audit log, routes) in .mrsk in the SSH user's home and cannot move them; remove the key")
			}
		},
		"allow_empty_roles": func(v *node, p string) { c.AllowEmptyRoles, _ = l.boolean(v, p) },
		"runtime":           func(v *node, p string) { c.Runtime = l.runtime(v, p) },
		"sshkit": func(v *node, p string) {
			l.object(v, p, "a map with max_concurrent_starts", handlers{
				"max_concurrent_starts": func(v *node, p string) { l.atLeastOne(v, p, &c.SSHKit.MaxConcurrentStarts) },
				"pool_idle_timeout": func(v *node, p string) {
					l.failf(v, p, "mrsk opens one connection per host for one command and closes it when the command ends, keeping it alive meanwhile: there is no idle pool to time out; remove the key")
				},
			})
		},
	})
	if l.err != nil {
		return
	}

	// Required keys.
	required := func(v *node, key, val string) {
		if v == nil {
			l.failf(root, key, "is required")
		} else if strings.TrimSpace(val) == "" {
			l.failf(v, key, "must not be empty")
		}
	}
	required(serviceNode, "service", c.Service)
	required(imageNode, "image", c.Image)
	if l.allowEmptyRoles {
		// allow_empty_roles: a role without hosts is left out.
		kept := roles[:0]
		for _, r := range roles {
			if len(r.role.Hosts) > 0 {
				kept = append(kept, r)
			}
		}
		roles = kept
	}
	if serversNode == nil {
		l.failf(root, "servers", "is required")
	} else if len(roles) == 0 {
		l.failf(serversNode, "servers", "must list at least one host")
	}
	if l.err != nil {
		return
	}

	// Primary role.
	if primaryNode != nil && !isNull(primaryNode) {
		found := false
		for _, r := range roles {
			if r.role.Name == primaryRole {
				found = true
			}
		}
		if !found {
			l.failf(primaryNode, "primary_role", "no role named %s (roles: %s)", strconv.Quote(primaryRole), roleNames(roles))
			return
		}
		c.PrimaryRole = primaryRole
	} else {
		c.PrimaryRole = roles[0].role.Name
		for _, r := range roles {
			if r.role.Name == "web" {
				c.PrimaryRole = "web"
			}
		}
	}

	if c.Runtime == "" {
		c.Runtime = Docker
	}
	// Roles: env over the top-level env, healthcheck and logging over
	// the top-level ones, traefik on the primary role by default (Kamal
	// 1.9's running_traefik?).
	for _, r := range roles {
		r.role.Env = mergeEnv(c.Env, r.env)
		if r.traefik != nil {
			r.role.Traefik = *r.traefik
		} else {
			r.role.Traefik = r.role.Name == c.PrimaryRole
		}
		// As Kamal 1.9: a Traefik role's healthcheck is the top-level one
		// with its own over it, and always checked; any other role's is
		// its own only, checked when it sets port or path.
		if r.role.Traefik {
			r.role.Healthcheck = c.Healthcheck
		} else {
			r.role.Healthcheck = defaultHealthcheck
		}
		l.healthcheck(r.healthcheck, r.healthcheckPath, &r.role.Healthcheck)
		r.role.HealthcheckHTTP = r.role.Traefik || r.healthcheck.get("port") != nil || r.healthcheck.get("path") != nil
		r.role.Logging = Logging{Driver: c.Logging.Driver}
		if len(c.Logging.Options) > 0 {
			r.role.Logging.Options = maps.Clone(c.Logging.Options)
		}
		l.logging(r.logging, r.loggingPath, &r.role.Logging)
		for _, h := range r.role.Hosts {
			for _, t := range r.role.Tags[h] {
				if _, ok := c.EnvTags[t]; !ok {
					at := r.tagAt[h+"\x00"+t]
					l.failf(at.n, at.path, "tag %s is not defined in env.tags", strconv.Quote(t))
				}
			}
		}
		if r.role.Runtime == "" {
			r.role.Runtime = c.Runtime
		}
		c.Roles = append(c.Roles, r.role)
	}
	l.routeLabels(c, roles, root)
	if l.err != nil {
		return
	}

	// Accessories: resolve host, hosts and roles.
	for _, a := range accs {
		seen := map[string]bool{}
		for _, h := range a.acc.Hosts {
			seen[h] = true
		}
		for i, name := range a.roles {
			r := c.Role(name)
			if r == nil {
				l.failf(a.roleNodes[i], indexPath(joinPath(a.path, "roles"), i), "no role named %s (roles: %s)", strconv.Quote(name), roleNames(roles))
				return
			}
			for _, h := range r.Hosts {
				if !seen[h] {
					seen[h] = true
					a.acc.Hosts = append(a.acc.Hosts, h)
				}
			}
		}
		if len(a.acc.Hosts) == 0 {
			l.failf(a.node, a.path, "must name at least one host with host, hosts or roles")
			return
		}
		if a.acc.Service == "" {
			a.acc.Service = c.Service + "-" + a.acc.Name
		}
		if a.acc.Runtime == "" {
			a.acc.Runtime = c.Runtime
		}
		c.Accessories = append(c.Accessories, a.acc)
	}
	l.hostRuntimes(c, roles, accs, root)
}

// hostRuntimes gives every host one runtime: a role or an accessory
// asking for another on a host already given one is an error at its key
// (Traefik, the app and its accessories share the host's mrsk network,
// which lives in one runtime).
func (l *loader) hostRuntimes(c *Config, roles []*roleSpec, accs []*accessorySpec, root *node) {
	type owner struct{ what, runtime string }
	seen := map[string]owner{}
	assign := func(hosts []string, runtime, what string, at *node, path string) {
		if runtime == "" {
			runtime = c.Runtime
		}
		for _, h := range hosts {
			if o, ok := seen[h]; ok && o.runtime != runtime {
				if at == nil {
					at, path = root, "runtime"
				}
				l.failf(at, path, "%s runs %s on %s, where %s runs %s: one runtime per host (they share its mrsk network)", what, runtime, h, o.what, o.runtime)
				return
			} else if !ok {
				seen[h] = owner{what, runtime}
			}
		}
	}
	for _, r := range roles {
		assign(r.role.Hosts, r.role.Runtime, "role "+r.role.Name, r.runtime, joinPath(r.path, "runtime"))
	}
	for _, a := range accs {
		assign(a.acc.Hosts, a.acc.Runtime, "accessory "+a.acc.Name, a.runtime, joinPath(a.path, "runtime"))
	}
	c.HostRuntimes = map[string]string{}
	for h, o := range seen {
		c.HostRuntimes[h] = o.runtime
	}
}

// runtime reads a runtime key: docker or podman.
func (l *loader) runtime(v *node, p string) string {
	s := strings.TrimSpace(l.str(v, p))
	switch s {
	case Docker, Podman:
		return s
	}
	l.failf(v, p, "must be docker or podman")
	return ""
}

func roleNames(roles []*roleSpec) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.role.Name
	}
	return strings.Join(names, ", ")
}

// validLimit reports whether s is a positive integer or "N%" with 1<=N<=100.
func validLimit(s string) bool {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 100
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1
}

// logging reads a logging section into lg: the driver replaces lg's, the
// options are added to lg's (a role's over the top-level ones).
func (l *loader) logging(n *node, path string, lg *Logging) {
	l.object(n, path, "a map with driver and options", handlers{
		"driver": func(v *node, p string) {
			lg.Driver = l.str(v, p)
			if lg.Driver != "" && !logDriverRE.MatchString(lg.Driver) {
				l.failf(v, p, "must be a docker logging driver name, like json-file or syslog")
			}
		},
		"options": func(v *node, p string) {
			for k, val := range l.labels(v, p) {
				if lg.Options == nil {
					lg.Options = map[string]string{}
				}
				lg.Options[k] = val
			}
		},
	})
}
