package config

// The schema's sections: servers and roles, hosts, builder, ssh,
// healthcheck, traefik and accessories.

import (
	"slices"
	"strconv"
	"strings"
)

const serversWhat = "a list of hosts or a map of roles"

func (l *loader) servers(n *node, path string) []*roleSpec {
	if isNull(n) {
		return nil
	}
	switch n.kind {
	case seqKind:
		tags, at := map[string][]string{}, map[string]tagAt{}
		hosts := l.hostsTagged(n, path, tags, at)
		if len(hosts) == 0 {
			return nil
		}
		if len(tags) == 0 {
			tags = nil
		}
		return []*roleSpec{{role: &Role{Name: "web", Hosts: hosts, Tags: tags}, node: n, path: path, tagAt: at}}
	case mappingKind:
		var out []*roleSpec
		l.eachNamed(n, path, "role", func(name string, val *node, p string) {
			out = append(out, l.role(name, val, p))
		})
		if l.err != nil {
			return nil
		}
		return out
	}
	l.failf(n, path, "must be %s", serversWhat)
	return nil
}

const roleWhat = "a list of hosts or a map with hosts, cmd, env, labels, options, traefik, healthcheck and logging"

func (l *loader) role(name string, n *node, path string) *roleSpec {
	r := &roleSpec{role: &Role{Name: name, Tags: map[string][]string{}}, node: n, path: path, tagAt: map[string]tagAt{}}
	switch {
	case !isNull(n) && n.kind == seqKind:
		r.role.Hosts = l.hostsTagged(n, path, r.role.Tags, r.tagAt)
	case !isNull(n) && n.kind == mappingKind:
		var hostsNode *node
		l.object(n, path, roleWhat, handlers{
			"hosts": func(v *node, p string) {
				hostsNode = v
				r.role.Hosts = l.hostsTagged(v, p, r.role.Tags, r.tagAt)
			},
			// Read after the top-level ones, over them (see build).
			"healthcheck": func(v *node, p string) { r.healthcheck, r.healthcheckPath = v, p },
			"logging":     func(v *node, p string) { r.logging, r.loggingPath = v, p },
			"cmd":         func(v *node, p string) { r.role.Cmd = l.command(v, p) },
			"env":         func(v *node, p string) { r.env = l.env(v, p) },
			"labels":      func(v *node, p string) { r.role.Labels = l.routedLabels(v, p, true) },
			"options":     func(v *node, p string) { r.role.Options = l.options(v, p) },
			"asset_path": func(v *node, p string) {
				r.role.AssetPath = l.str(v, p)
				if r.role.AssetPath != "" && !strings.HasPrefix(r.role.AssetPath, "/") {
					l.failf(v, p, "must be an absolute path in the container")
				}
			},
			"traefik": func(v *node, p string) {
				if b, ok := l.boolean(v, p); ok {
					r.traefik = &b
				}
			},
			"runtime": func(v *node, p string) {
				r.runtime = v
				r.role.Runtime = l.runtime(v, p)
			},
		})
		if hostsNode == nil {
			l.failf(n, joinPath(path, "hosts"), "is required")
			return r
		}
	case isNull(n) && l.allowEmptyRoles:
		return r
	default:
		l.failf(n, path, "must be %s", roleWhat)
		return r
	}
	if l.err == nil && len(r.role.Hosts) == 0 && !l.allowEmptyRoles {
		l.failf(n, path, "must list at least one host (or set allow_empty_roles: true)")
	}
	if len(r.role.Tags) == 0 {
		r.role.Tags = nil
	}
	return r
}

// hosts reads a list of host names, dropping duplicates.
func (l *loader) hosts(n *node, path string) []string {
	return l.hostsTagged(n, path, nil, nil)
}

// hostsTagged is hosts where an item may also be HOST: TAG or HOST: [TAGS]
// (servers only), the tags going into tags by host.
func (l *loader) hostsTagged(n *node, path string, tags map[string][]string, at map[string]tagAt) []string {
	if isNull(n) || n.kind != seqKind {
		l.failf(n, path, "must be a list of hosts")
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, it := range n.items {
		ip := indexPath(path, i)
		var hostTags []string
		if it.kind == mappingKind {
			if tags == nil {
				l.failf(it, ip, "must be a string (host tags are for servers only)")
				return nil
			}
			if len(it.pairs) != 1 {
				l.failf(it, ip, "must be HOST or HOST: TAG or HOST: [TAG, ...] (one host an item)")
				return nil
			}
			hp := it.pairs[0]
			tn := hp.val
			switch {
			case !isNull(tn) && tn.kind == scalarKind:
				hostTags = []string{l.str(tn, joinPath(ip, hp.key.value))}
			case !isNull(tn) && tn.kind == seqKind:
				hostTags = l.stringList(tn, joinPath(ip, hp.key.value))
			}
			for _, t := range hostTags {
				if !nameRE.MatchString(t) {
					l.failf(tn, joinPath(ip, hp.key.value), "must be a tag name or a list of tag names (letters, digits, '.', '-' and '_')")
					return nil
				}
			}
			if l.err == nil && len(hostTags) == 0 {
				l.failf(hp.key, joinPath(ip, hp.key.value), "must name a tag or a list of tags")
				return nil
			}
			it = hp.key
		}
		h, _ := l.scalar(it, ip, "a string")
		if l.err != nil {
			return nil
		}
		h = strings.TrimSpace(h)
		if h == "" {
			l.failf(it, ip, "must not be empty")
			return nil
		}
		if strings.ContainsAny(h, " \t\r\n") {
			l.failf(it, ip, "must not contain whitespace")
			return nil
		}
		if msg := checkHost(h); msg != "" {
			l.failf(it, ip, "%s", msg)
			return nil
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
		for _, t := range hostTags {
			if !slices.Contains(tags[h], t) {
				tags[h] = append(tags[h], t)
				at[h+"\x00"+t] = tagAt{it, ip}
			}
		}
	}
	return out
}

func (l *loader) builder(n *node, path string, b *Builder) {
	target := func(dst **BuilderTarget) func(v *node, p string) {
		return func(v *node, p string) {
			t := &BuilderTarget{}
			if l.object(v, p, "a map with arch and host", handlers{
				"arch": func(v *node, p string) {
					t.Arch = l.str(v, p)
					if t.Arch != "" && !archRE.MatchString(t.Arch) {
						l.failf(v, p, `must be an architecture like "amd64" or "arm64"`)
					}
				},
				"host": func(v *node, p string) { t.Host = l.str(v, p) },
			}) {
				*dst = t
			}
		}
	}
	l.object(n, path, "a map", handlers{
		"multiarch": func(v *node, p string) {
			if v, ok := l.boolean(v, p); ok {
				b.Multiarch = &v
			}
		},
		"runtime": func(v *node, p string) { b.Runtime = l.runtime(v, p) },
		"args": func(v *node, p string) {
			b.Args = l.stringMap(v, p)
			for _, pr := range pairsOf(v) {
				if k := pr.key.value; !ignored(k) && !containerEnvRE.MatchString(k) {
					l.failf(pr.key, joinPath(p, k), "invalid build argument name")
				}
			}
		},
		"secrets": func(v *node, p string) {
			b.Secrets = l.stringList(v, p)
			for i, s := range b.Secrets {
				if !envNameRE.MatchString(s) {
					l.failf(v.items[i], indexPath(p, i), "must be a variable name (letters, digits and _)")
					return
				}
				// Resolved here, not by the build inheriting mrsk's own
				// environment, so that .env values count too.
				if val, ok := l.lookup(s); ok {
					if b.SecretValues == nil {
						b.SecretValues = map[string]Secret{}
					}
					b.SecretValues[s] = NewSecret(val)
				}
			}
		},
		"dockerfile": func(v *node, p string) {
			if s, ok := l.scalar(v, p, "a string"); ok && s != "" {
				b.Dockerfile = s
			}
		},
		"context": func(v *node, p string) {
			if s, ok := l.scalar(v, p, "a string"); ok && s != "" {
				b.Context = s
			}
		},
		"target": func(v *node, p string) { b.Target = l.str(v, p) },
		"ssh":    func(v *node, p string) { b.SSH = l.str(v, p) },
		"remote": target(&b.Remote),
		"local":  target(&b.Local),
		"cache": func(v *node, p string) {
			b.Cache = l.anyMap(v, p)
			if t, ok := b.Cache["type"]; ok {
				if s, _ := t.(string); s != "gha" && s != "registry" {
					l.failf(v.get("type"), joinPath(p, "type"), `must be "gha" or "registry"`)
				}
			}
		},
	})
}

func (l *loader) ssh(n *node, path string, s *SSH) {
	l.object(n, path, "a map", handlers{
		"user": func(v *node, p string) {
			if u, ok := l.scalar(v, p, "a string"); ok && u != "" {
				if !sshUserRE.MatchString(u) {
					l.failf(v, p, "must be a login name (letters, digits, '_', '.' and '-')")
					return
				}
				s.User = u
			}
		},
		"port": func(v *node, p string) { l.port(v, p, &s.Port) },
		"proxy": func(v *node, p string) {
			s.Proxy = strings.TrimSpace(l.str(v, p))
			if s.Proxy != "" {
				l.check(v, p, checkHost(s.Proxy))
			}
		},
		"keys":     func(v *node, p string) { s.Keys = l.stringList(v, p) },
		"key_data": func(v *node, p string) { s.KeyData = l.keyData(v, p) },
		"log_level": func(v *node, p string) {
			s.LogLevel = strings.ToLower(strings.TrimSpace(l.str(v, p)))
			switch s.LogLevel {
			case "", "debug", "info", "warn", "error", "fatal":
			default:
				l.failf(v, p, `must be one of debug, info, warn, error and fatal (debug prints each connection's steps)`)
			}
		},
		"proxy_command": func(v *node, p string) { s.ProxyCommand = strings.TrimSpace(l.str(v, p)) },
		"keys_only":     func(v *node, p string) { s.KeysOnly, _ = l.boolean(v, p) },
	})
	if n := n.get("proxy_command"); n != nil && s.ProxyCommand != "" && s.Proxy != "" {
		l.failf(n, joinPath(path, "proxy_command"), "give proxy or proxy_command, not both")
	}
}

// keyData reads ssh.key_data: names of environment variables (or .env
// entries) holding private keys, as CI secret stores provide them. Unlike
// env secrets they may span lines.
func (l *loader) keyData(n *node, path string) []KeyData {
	if isNull(n) {
		return nil
	}
	if n.kind != seqKind {
		l.failf(n, path, "must be a list of variable names")
		return nil
	}
	var out []KeyData
	for i, it := range n.items {
		ip := indexPath(path, i)
		if it.kind == scalarKind && strings.Contains(it.value, "-----BEGIN ") {
			// Kamal's form: the key itself (usually from ERB or ${NAME}).
			v, _ := l.expand(it, ip, it.value)
			out = append(out, KeyData{Name: ip, Key: NewSecret(v)})
			continue
		}
		if it.kind != scalarKind || isNull(it) || !envNameRE.MatchString(it.value) {
			l.failf(it, ip, "must be a variable name (letters, digits and _) or a private key (-----BEGIN ...)")
			return nil
		}
		v, ok := l.lookup(it.value)
		if !ok || strings.TrimSpace(v) == "" {
			l.failf(it, ip, "environment variable %s is not set", strconv.Quote(it.value))
			return nil
		}
		out = append(out, KeyData{Name: it.value, Key: NewSecret(v)})
	}
	return out
}

func (l *loader) healthcheck(n *node, path string, h *Healthcheck) {
	l.object(n, path, "a map", handlers{
		"path": func(v *node, p string) {
			if s, ok := l.scalar(v, p, "a string"); ok && s != "" {
				if msg := checkHealthPath(s); msg != "" {
					l.failf(v, p, "%s", msg)
					return
				}
				h.Path = s
			}
		},
		"port": func(v *node, p string) { l.port(v, p, &h.Port) },
		"interval": func(v *node, p string) {
			l.duration(v, p, &h.Interval)
			if h.Interval <= 0 {
				l.failf(v, p, "must be positive")
			}
		},
		"max_attempts": func(v *node, p string) { l.atLeastOne(v, p, &h.MaxAttempts) },
		"timeout":      func(v *node, p string) { l.duration(v, p, &h.Timeout) },
		"cmd":          func(v *node, p string) { h.Cmd = l.str(v, p) },
		"log_lines":    func(v *node, p string) { l.atLeastOne(v, p, &h.LogLines) },
		"cord": func(v *node, p string) {
			// Kamal 1 made the old container fail its health check through
			// a "cord" file so that Traefik stopped routing to it before it
			// stopped. mrsk's switch rewrites the route to the new container
			// and confirms it before stopping the old one: no cord is needed.
			// Only the values that ask for nothing are accepted.
			s, set := l.scalar(v, p, "false or a path")
			if !set || strings.EqualFold(strings.TrimSpace(s), "false") || s == "/tmp/kamal-cord" {
				return
			}
			l.failf(v, p, "mrsk needs no cord: its switch moves the route to the new container and confirms it before stopping the old one, so the old container is never failed on purpose; remove the key or set it to false")
		},
	})
}

func (l *loader) traefik(n *node, path string, t *Traefik) {
	l.object(n, path, "a map", handlers{
		"image": func(v *node, p string) {
			if s, ok := l.scalar(v, p, "a string"); ok && s != "" {
				s = strings.TrimSpace(s)
				if msg := checkImageRef(s); msg != "" {
					l.failf(v, p, "%s", msg)
					return
				}
				t.Image = s
			}
		},
		"host_port": func(v *node, p string) { l.port(v, p, &t.HostPort) },
		"publish": func(v *node, p string) {
			if b, ok := l.boolean(v, p); ok {
				t.Publish = &b
			}
		},
		"args":    func(v *node, p string) { t.Args = l.options(v, p) },
		"options": func(v *node, p string) { t.Options = l.options(v, p) },
		"labels":  func(v *node, p string) { t.Labels = l.routedLabels(v, p, false) },
		"env":     func(v *node, p string) { t.Env = l.env(v, p) },
		"tls":     func(v *node, p string) { t.TLS = l.tls(v, p) },
	})
	if v := n.get("publish"); v != nil && !t.Publishes() && t.TLS != nil {
		l.failf(v, joinPath(path, "publish"), "publish: false cannot serve traefik.tls: HTTPS and its certificate's challenge need Traefik's ports on the host")
	}
}

func (l *loader) accessories(n *node, path string) []*accessorySpec {
	if isNull(n) {
		return nil
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be a map of accessories")
		return nil
	}
	var out []*accessorySpec
	l.eachNamed(n, path, "accessory", func(name string, val *node, p string) {
		out = append(out, l.accessory(name, val, p))
	})
	if l.err != nil {
		return nil
	}
	return out
}

func (l *loader) accessory(name string, n *node, path string) *accessorySpec {
	a := &accessorySpec{acc: &Accessory{Name: name}, node: n, path: path}
	seen := map[string]bool{}
	addHost := func(h string) {
		if !seen[h] {
			seen[h] = true
			a.acc.Hosts = append(a.acc.Hosts, h)
		}
	}
	var imageNode *node
	ok := l.object(n, path, "a map with image and host, hosts or roles", handlers{
		"image": func(v *node, p string) {
			imageNode = v
			a.acc.Image = strings.TrimSpace(l.str(v, p))
			if a.acc.Image != "" {
				l.check(v, p, checkImageRef(a.acc.Image))
			}
		},
		"host": func(v *node, p string) {
			h, set := l.scalar(v, p, "a string")
			h = strings.TrimSpace(h)
			if set && h == "" || set && strings.ContainsAny(h, " \t\r\n") {
				l.failf(v, p, "must be a host name")
				return
			}
			if set {
				if msg := checkHost(h); msg != "" {
					l.failf(v, p, "%s", msg)
					return
				}
			}
			if set {
				addHost(h)
			}
		},
		"hosts": func(v *node, p string) {
			for _, h := range l.hosts(v, p) {
				addHost(h)
			}
		},
		"roles": func(v *node, p string) {
			a.roles = l.stringList(v, p)
			if v != nil {
				a.roleNodes = v.items
			}
		},
		"port": func(v *node, p string) {
			s, set := l.scalar(v, p, "a port or HOST:PORT:PORT")
			if !set {
				return
			}
			s = strings.TrimSpace(s)
			if msg := checkPublish(s); msg != "" {
				l.failf(v, p, "%s", msg)
				return
			}
			a.acc.Port = s
		},
		"runtime": func(v *node, p string) {
			a.runtime = v
			a.acc.Runtime = l.runtime(v, p)
		},
		"service": func(v *node, p string) {
			a.acc.Service = strings.TrimSpace(l.str(v, p))
			if !nameRE.MatchString(a.acc.Service) {
				l.failf(v, p, "must be a container name (letters, digits, '.', '-' and '_')")
			}
		},
		"env":         func(v *node, p string) { a.acc.Env = l.env(v, p) },
		"cmd":         func(v *node, p string) { a.acc.Cmd = l.command(v, p) },
		"files":       func(v *node, p string) { a.acc.Files = l.pathMap(v, p, true) },
		"directories": func(v *node, p string) { a.acc.Directories = l.pathMap(v, p, false) },
		"volumes":     func(v *node, p string) { a.acc.Volumes = l.volumes(v, p) },
		"options":     func(v *node, p string) { a.acc.Options = l.options(v, p) },
		"labels":      func(v *node, p string) { a.acc.Labels = l.routedLabels(v, p, false) },
	})
	if !ok {
		if l.err == nil {
			l.failf(n, path, "must be a map with image and host, hosts or roles")
		}
		return a
	}
	if imageNode == nil {
		l.failf(n, joinPath(path, "image"), "is required")
	} else if a.acc.Image == "" {
		l.failf(imageNode, joinPath(path, "image"), "must not be empty")
	}
	return a
}
