package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// loader walks a node tree and builds a Config. It records the first error
// and keeps going quietly, so callers need not check after every step.
type loader struct {
	file   string // main file, for errors without a node
	lookup func(string) (string, bool)
	err    *Error
}

func (l *loader) failf(n *node, path, format string, args ...any) {
	if l.err != nil {
		return
	}
	e := &Error{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.File, e.Line, e.Col = n.file, n.line, n.col
	}
	l.err = e
}

// ignored reports whether a mapping key is an extension key ("x-...").
func ignored(key string) bool { return strings.HasPrefix(key, "x-") }

type handlers map[string]func(v *node, path string)

// object walks mapping n with one handler per known key. Unknown keys are
// errors; x- keys are skipped. A null n is an absent section. It reports
// whether n was a mapping.
func (l *loader) object(n *node, path, what string, h handlers) bool {
	if isNull(n) {
		return false
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be %s", what)
		return false
	}
	for _, p := range n.pairs {
		if l.err != nil {
			return true
		}
		k := p.key.value
		if ignored(k) {
			continue
		}
		kp := joinPath(path, k)
		f, ok := h[k]
		if !ok {
			known := make([]string, 0, len(h))
			for name := range h {
				known = append(known, name)
			}
			sort.Strings(known)
			l.failf(p.key, kp, "%s", unknownKeyMsg(k, known))
			continue
		}
		f(p.val, kp)
	}
	return true
}

// expand replaces ${NAME} in s with the variable's value; $${ is a literal
// ${. Anything else after $ is left alone.
func (l *loader) expand(n *node, path, s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		if i > 0 && s[i-1] == '$' { // $${NAME} => ${NAME}
			b.WriteString(s[:i])
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		name := s[i+2 : i+2+end]
		if !envNameRE.MatchString(name) {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		v, ok := l.lookup(name)
		if !ok {
			l.failf(n, path, "environment variable %s is not set", strconv.Quote(name))
			return "", false
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+end+1:]
	}
}

// scalar resolves a value at a scalar key: a scalar (with ${NAME} expanded)
// or a one-item list [NAME] that reads NAME from the environment. It reports
// whether a value was set; null is unset, and so is any error.
func (l *loader) scalar(n *node, path, what string) (string, bool) {
	if isNull(n) {
		return "", false
	}
	switch n.kind {
	case scalarKind:
		return l.expand(n, path, n.value)
	case seqKind:
		if len(n.items) == 1 {
			it := n.items[0]
			if it.kind == scalarKind && it.tag == "!!str" && envRefRE.MatchString(it.value) {
				v, ok := l.lookup(it.value)
				if !ok {
					l.failf(it, path, "environment variable %s is not set", strconv.Quote(it.value))
					return "", false
				}
				return v, true
			}
			l.failf(n, path, "must be %s (a one-item list [NAME] reads the upper-case environment variable NAME)", what)
			return "", false
		}
	}
	l.failf(n, path, "must be %s", what)
	return "", false
}

// check reports msg (from one of the check* functions) at n, unless empty.
func (l *loader) check(n *node, path, msg string) {
	if msg != "" {
		l.failf(n, path, "%s", msg)
	}
}

// labels reads a map of docker labels (or log options): KEY=VALUE pairs
// whose keys cannot hold "=" or spaces.
func (l *loader) labels(n *node, path string) map[string]string {
	m := l.stringMap(n, path)
	for _, p := range pairsOf(n) {
		if k := p.key.value; !ignored(k) {
			l.check(p.key, joinPath(path, k), checkLabelKey(k))
		}
	}
	return m
}

// options reads docker run or Traefik options: each key becomes --KEY.
func (l *loader) options(n *node, path string) map[string]any {
	m := l.anyMap(n, path)
	for _, p := range pairsOf(n) {
		if k := p.key.value; !ignored(k) && !optionKeyRE.MatchString(k) {
			l.failf(p.key, joinPath(path, k), "invalid option name: use letters, digits, '_', '.' and '-' (it becomes --%s)", k)
		}
	}
	return m
}

// volumes reads a list of docker --volume values.
func (l *loader) volumes(n *node, path string) []string {
	vs := l.stringList(n, path)
	for i, v := range vs {
		l.check(n.items[i], indexPath(path, i), checkVolume(v))
	}
	return vs
}

// command reads a cmd that mrsk splits into words like a shell.
func (l *loader) command(n *node, path string) string {
	s := l.str(n, path)
	l.check(n, path, checkWords(s))
	return s
}

func (l *loader) str(n *node, path string) string {
	s, _ := l.scalar(n, path, "a string")
	return s
}

func (l *loader) secret(n *node, path string) Secret {
	return NewSecret(l.str(n, path))
}

func parseInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.Atoi(s); err == nil {
		return v, nil
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 0)
	return int(v), err
}

func (l *loader) integer(n *node, path string) (int, bool) {
	s, ok := l.scalar(n, path, "an integer")
	if !ok {
		return 0, false
	}
	v, err := parseInt(s)
	if err != nil {
		l.failf(n, path, "must be an integer")
		return 0, false
	}
	return v, true
}

func (l *loader) port(n *node, path string, dst *int) {
	if v, ok := l.integer(n, path); ok {
		if v < 1 || v > 65535 {
			l.failf(n, path, "must be a port number between 1 and 65535")
			return
		}
		*dst = v
	}
}

func (l *loader) boolean(n *node, path string) (bool, bool) {
	s, ok := l.scalar(n, path, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.failf(n, path, "must be true or false")
	return false, false
}

// duration accepts a number of seconds (3, 0.5) or a Go duration ("30s").
func (l *loader) duration(n *node, path string, dst *time.Duration) {
	s, ok := l.scalar(n, path, "a duration")
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	var d time.Duration
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if secs < 0 {
			l.failf(n, path, "must not be negative")
			return
		}
		if secs > float64(1<<62)/float64(time.Second) || secs != secs {
			l.failf(n, path, "is too long")
			return
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		l.failf(n, path, `must be a duration: a number of seconds, or like "30s" or "1m"`)
		return
	}
	if d < 0 {
		l.failf(n, path, "must not be negative")
		return
	}
	*dst = d
}

// stringMap reads a map of scalars. Null values become "".
func (l *loader) stringMap(n *node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be a map of strings")
		return nil
	}
	m := map[string]string{}
	for _, p := range n.pairs {
		if ignored(p.key.value) {
			continue
		}
		kp := joinPath(path, p.key.value)
		if p.key.value == "" {
			l.failf(p.key, kp, "key must not be empty")
			return nil
		}
		m[p.key.value] = l.str(p.val, kp)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// stringList reads a list of non-empty strings.
func (l *loader) stringList(n *node, path string) []string {
	if isNull(n) {
		return nil
	}
	if n.kind != seqKind {
		l.failf(n, path, "must be a list of strings")
		return nil
	}
	var out []string
	for i, it := range n.items {
		ip := indexPath(path, i)
		s, ok := l.scalar(it, ip, "a string")
		if l.err != nil {
			return nil
		}
		if !ok || s == "" {
			l.failf(it, ip, "must not be empty")
			return nil
		}
		out = append(out, s)
	}
	return out
}

// anyValue converts a free-form value (docker options, traefik args, cache
// settings) keeping YAML types; strings have ${NAME} expanded.
func (l *loader) anyValue(n *node, path string) any {
	if isNull(n) {
		return nil
	}
	switch n.kind {
	case scalarKind:
		switch n.tag {
		case "!!bool":
			if b, err := strconv.ParseBool(strings.ToLower(n.value)); err == nil {
				return b
			}
		case "!!int":
			if v, err := parseInt(n.value); err == nil {
				return v
			}
		case "!!float":
			if v, err := strconv.ParseFloat(strings.ReplaceAll(n.value, "_", ""), 64); err == nil {
				return v
			}
		}
		s, _ := l.expand(n, path, n.value)
		return s
	case seqKind:
		out := make([]any, 0, len(n.items))
		for i, it := range n.items {
			out = append(out, l.anyValue(it, indexPath(path, i)))
		}
		return out
	case mappingKind:
		return l.anyMap(n, path)
	}
	return nil
}

func (l *loader) anyMap(n *node, path string) map[string]any {
	if isNull(n) {
		return nil
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be a map")
		return nil
	}
	m := map[string]any{}
	for _, p := range n.pairs {
		if ignored(p.key.value) {
			continue
		}
		m[p.key.value] = l.anyValue(p.val, joinPath(path, p.key.value))
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// env reads either a map of clear values or {clear: map, secret: [NAMES]}.
func (l *loader) env(n *node, path string) Env {
	var e Env
	if isNull(n) {
		return e
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be a map of variables, or a map with clear and secret")
		return e
	}
	structured := n.get("clear") != nil || n.get("secret") != nil
	if !structured {
		e.Clear = l.envClear(n, path)
		return e
	}
	l.object(n, path, "a map", handlers{
		"clear":  func(v *node, p string) { e.Clear = l.envClear(v, p) },
		"secret": func(v *node, p string) { e.Secret = l.envSecret(v, p) },
	})
	return e
}

func (l *loader) envClear(n *node, path string) map[string]string {
	if !isNull(n) && n.kind != mappingKind {
		l.failf(n, path, "must be a map of variables")
		return nil
	}
	m := l.stringMap(n, path)
	for _, p := range pairsOf(n) {
		if k := p.key.value; !ignored(k) && !containerEnvRE.MatchString(k) {
			l.failf(p.key, joinPath(path, k), "invalid variable name: use letters, digits, '_', '.' and '-', not starting with a digit")
			return nil
		}
	}
	return m
}

func pairsOf(n *node) []pair {
	if n == nil || n.kind != mappingKind {
		return nil
	}
	return n.pairs
}

// envSecret reads a list of variable names, each from the environment.
func (l *loader) envSecret(n *node, path string) map[string]Secret {
	if isNull(n) {
		return nil
	}
	if n.kind != seqKind {
		l.failf(n, path, "must be a list of variable names")
		return nil
	}
	m := map[string]Secret{}
	for i, it := range n.items {
		ip := indexPath(path, i)
		if it.kind != scalarKind || isNull(it) || !envNameRE.MatchString(it.value) {
			l.failf(it, ip, "must be a variable name (letters, digits and _)")
			return nil
		}
		v, ok := l.lookup(it.value)
		if !ok {
			l.failf(it, ip, "environment variable %s is not set", strconv.Quote(it.value))
			return nil
		}
		if strings.ContainsAny(v, "\r\n") {
			// Secrets travel in a docker env file, one NAME=VALUE a line.
			l.failf(it, ip, "the value of %s has a line break, which a docker env file cannot hold", it.value)
			return nil
		}
		m[it.value] = NewSecret(v)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// mergeEnv returns base with over applied: over's variables win, and a name
// moves between clear and secret when over declares it in the other.
func mergeEnv(base, over Env) Env {
	var out Env
	if len(base.Clear)+len(over.Clear) > 0 {
		out.Clear = map[string]string{}
	}
	if len(base.Secret)+len(over.Secret) > 0 {
		out.Secret = map[string]Secret{}
	}
	for k, v := range base.Clear {
		out.Clear[k] = v
	}
	for k, v := range base.Secret {
		out.Secret[k] = v
	}
	for k, v := range over.Clear {
		out.Clear[k] = v
		delete(out.Secret, k)
	}
	for k, v := range over.Secret {
		out.Secret[k] = v
		delete(out.Clear, k)
	}
	if len(out.Clear) == 0 {
		out.Clear = nil
	}
	if len(out.Secret) == 0 {
		out.Secret = nil
	}
	return out
}

var (
	// envRefRE is what a one-item list [NAME] at a scalar key may name.
	envRefRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	serviceRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// roleSpec is a role plus what the post-pass needs.
type roleSpec struct {
	role    *Role
	traefik *bool // explicit role-level traefik
	env     Env   // the role's own env, before merging
	node    *node
	path    string
}

type accessorySpec struct {
	acc       *Accessory
	node      *node
	path      string
	roles     []string
	roleNodes []*node
}

// build walks the merged root mapping into c, applies defaults, resolves
// cross references and validates.
func (l *loader) build(root *node, c *Config) {
	// Defaults, overwritten by whatever the file sets.
	c.SSH = SSH{User: "root", Port: 22}
	c.Healthcheck = Healthcheck{Path: "/up", Port: 3000, Interval: time.Second, MaxAttempts: 7}
	c.Traefik = Traefik{Image: "traefik:v3.6", HostPort: 80}
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
		"env": func(v *node, p string) { c.Env = l.env(v, p) },
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
		},
		"builder":     func(v *node, p string) { l.builder(v, p, &c.Builder) },
		"ssh":         func(v *node, p string) { l.ssh(v, p, &c.SSH) },
		"healthcheck": func(v *node, p string) { l.healthcheck(v, p, &c.Healthcheck) },
		"traefik":     func(v *node, p string) { l.traefik(v, p, &c.Traefik) },
		"accessories": func(v *node, p string) { accs = l.accessories(v, p) },
		"volumes":     func(v *node, p string) { c.Volumes = l.volumes(v, p) },
		"labels":      func(v *node, p string) { c.Labels = l.labels(v, p) },
		"logging": func(v *node, p string) {
			l.object(v, p, "a map with driver and options", handlers{
				"driver": func(v *node, p string) {
					c.Logging.Driver = l.str(v, p)
					if c.Logging.Driver != "" && !logDriverRE.MatchString(c.Logging.Driver) {
						l.failf(v, p, "must be a docker logging driver name, like json-file or syslog")
					}
				},
				"options": func(v *node, p string) { c.Logging.Options = l.labels(v, p) },
			})
		},
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
		"retain_containers": func(v *node, p string) {
			if n, ok := l.integer(v, p); ok {
				if n < 1 {
					l.failf(v, p, "must be at least 1")
					return
				}
				c.RetainContainers = n
			}
		},
		"readiness_delay": func(v *node, p string) { l.duration(v, p, &c.ReadinessDelay) },
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

	// Roles: env over the top-level env, traefik default.
	for _, r := range roles {
		r.role.Env = mergeEnv(c.Env, r.env)
		if r.traefik != nil {
			r.role.Traefik = *r.traefik
		} else {
			r.role.Traefik = r.role.Name == "web" || r.role.Name == c.PrimaryRole
		}
		c.Roles = append(c.Roles, r.role)
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
		c.Accessories = append(c.Accessories, a.acc)
	}
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

const serversWhat = "a list of hosts or a map of roles"

func (l *loader) servers(n *node, path string) []*roleSpec {
	if isNull(n) {
		return nil
	}
	switch n.kind {
	case seqKind:
		hosts := l.hosts(n, path)
		if len(hosts) == 0 {
			return nil
		}
		return []*roleSpec{{role: &Role{Name: "web", Hosts: hosts}, node: n, path: path}}
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

const roleWhat = "a list of hosts or a map with hosts, cmd, env, labels, options and traefik"

func (l *loader) role(name string, n *node, path string) *roleSpec {
	r := &roleSpec{role: &Role{Name: name}, node: n, path: path}
	switch {
	case !isNull(n) && n.kind == seqKind:
		r.role.Hosts = l.hosts(n, path)
	case !isNull(n) && n.kind == mappingKind:
		var hostsNode *node
		l.object(n, path, roleWhat, handlers{
			"hosts": func(v *node, p string) {
				hostsNode = v
				r.role.Hosts = l.hosts(v, p)
			},
			"cmd":     func(v *node, p string) { r.role.Cmd = l.command(v, p) },
			"env":     func(v *node, p string) { r.env = l.env(v, p) },
			"labels":  func(v *node, p string) { r.role.Labels = l.labels(v, p) },
			"options": func(v *node, p string) { r.role.Options = l.options(v, p) },
			"traefik": func(v *node, p string) {
				if b, ok := l.boolean(v, p); ok {
					r.traefik = &b
				}
			},
		})
		if hostsNode == nil {
			l.failf(n, joinPath(path, "hosts"), "is required")
			return r
		}
	default:
		l.failf(n, path, "must be %s", roleWhat)
		return r
	}
	if l.err == nil && len(r.role.Hosts) == 0 {
		l.failf(n, path, "must list at least one host")
	}
	return r
}

// hosts reads a list of host names, dropping duplicates.
func (l *loader) hosts(n *node, path string) []string {
	if isNull(n) || n.kind != seqKind {
		l.failf(n, path, "must be a list of hosts")
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, it := range n.items {
		ip := indexPath(path, i)
		if it.kind == mappingKind {
			l.failf(it, ip, "must be a string (host tags are not supported)")
			return nil
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
		"keys":      func(v *node, p string) { s.Keys = l.stringList(v, p) },
		"log_level": func(v *node, p string) { s.LogLevel = l.str(v, p) },
	})
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
		"max_attempts": func(v *node, p string) {
			if n, ok := l.integer(v, p); ok {
				if n < 1 {
					l.failf(v, p, "must be at least 1")
					return
				}
				h.MaxAttempts = n
			}
		},
		"timeout": func(v *node, p string) { l.duration(v, p, &h.Timeout) },
		"cmd":     func(v *node, p string) { h.Cmd = l.str(v, p) },
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
		"args":      func(v *node, p string) { t.Args = l.options(v, p) },
		"options":   func(v *node, p string) { t.Options = l.options(v, p) },
		"labels":    func(v *node, p string) { t.Labels = l.labels(v, p) },
		"env":       func(v *node, p string) { t.Env = l.env(v, p) },
	})
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

// eachNamed calls fn for each entry of the mapping n whose key names a role
// or an accessory (kind), skipping x- keys; an invalid name is an error at
// that key, and the walk stops at the first error.
func (l *loader) eachNamed(n *node, path, kind string, fn func(name string, val *node, path string)) {
	for _, p := range n.pairs {
		if l.err != nil {
			return
		}
		name := p.key.value
		if ignored(name) {
			continue
		}
		np := joinPath(path, name)
		if !nameRE.MatchString(name) {
			l.failf(p.key, np, "invalid %s name: use letters, digits, '.', '-' and '_'", kind)
			return
		}
		fn(name, p.val, np)
	}
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
		"env":         func(v *node, p string) { a.acc.Env = l.env(v, p) },
		"cmd":         func(v *node, p string) { a.acc.Cmd = l.command(v, p) },
		"files":       func(v *node, p string) { a.acc.Files = l.pathMap(v, p) },
		"directories": func(v *node, p string) { a.acc.Directories = l.pathMap(v, p) },
		"volumes":     func(v *node, p string) { a.acc.Volumes = l.volumes(v, p) },
		"options":     func(v *node, p string) { a.acc.Options = l.options(v, p) },
		"labels":      func(v *node, p string) { a.acc.Labels = l.labels(v, p) },
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

// pathMap reads a list of "LOCAL:REMOTE" strings (Kamal's form) or a map of
// LOCAL: REMOTE.
func (l *loader) pathMap(n *node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	m := map[string]string{}
	switch n.kind {
	case mappingKind:
		for _, p := range n.pairs {
			if ignored(p.key.value) {
				continue
			}
			kp := joinPath(path, p.key.value)
			v := strings.TrimSpace(l.str(p.val, kp))
			if l.err != nil {
				return nil
			}
			if p.key.value == "" || v == "" {
				l.failf(p.val, kp, "must map a LOCAL path to a REMOTE path")
				return nil
			}
			m[p.key.value] = v
		}
	case seqKind:
		for i, s := range l.stringList(n, path) {
			local, remote, ok := strings.Cut(s, ":")
			if !ok || local == "" || remote == "" || strings.Contains(remote, ":") {
				l.failf(n.items[i], indexPath(path, i), `must be "LOCAL:REMOTE"`)
				return nil
			}
			m[local] = remote
		}
	default:
		l.failf(n, path, `must be a list of "LOCAL:REMOTE" paths`)
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
