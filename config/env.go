package config

// Environment: ${NAME} expansion in values, and the env sections (clear
// values and secrets read from the environment), merged role over top level.

import (
	"regexp"
	"strconv"
	"strings"
)

// envRefRE is what a one-item list [NAME] at a scalar key may name.
var envRefRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// expand replaces ${NAME} in s with the variable's value; $${ is a literal
// ${. Anything else after $ is left alone.
func (l *loader) expand(n *node, path, s string) (string, bool) {
	if n != nil && n.cred {
		l.failf(n, path, "%s", credentialInPlainSetting)
		return "", false
	}
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

// env reads either a map of clear values or {clear: map, secret: [NAMES]}.
func (l *loader) env(n *node, path string) Env {
	return l.envTagged(n, path, nil)
}

// envTagged is env that also reads tags: {TAG: env} into *tags (the
// top-level env only: Kamal allows tags nowhere else).
func (l *loader) envTagged(n *node, path string, tags *map[string]Env) Env {
	var e Env
	if isNull(n) {
		return e
	}
	if n.kind != mappingKind {
		l.failf(n, path, "must be a map of variables, or a map with clear and secret")
		return e
	}
	structured := n.get("clear") != nil || n.get("secret") != nil || n.get("tags") != nil
	if !structured {
		e.Clear = l.envClear(n, path)
		return e
	}
	l.object(n, path, "a map", handlers{
		"clear":  func(v *node, p string) { e.Clear = l.envClear(v, p) },
		"secret": func(v *node, p string) { e.Secret = l.envSecret(v, p) },
		"tags": func(v *node, p string) {
			if tags == nil {
				l.failf(v, p, "tags are only allowed in the top-level env (they add env on tagged hosts of every role)")
				return
			}
			if isNull(v) {
				return
			}
			if v.kind != mappingKind {
				l.failf(v, p, "must be a map of host tags, each a map of variables or a map with clear and secret")
				return
			}
			m := map[string]Env{}
			l.eachNamed(v, p, "tag", func(name string, val *node, tp string) {
				if isNull(val) || val.kind != mappingKind {
					l.failf(val, tp, "must be a map of variables, or a map with clear and secret")
					return
				}
				m[name] = l.env(val, tp)
			})
			*tags = m
		},
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
