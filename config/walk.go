package config

// The walkers: typed readers over the YAML node tree. Each reads one kind
// of value at a path, records the first error with its position, and
// returns a zero value after it, so the schema code reads straight.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// loader walks a node tree and builds a Config. It records the first error
// and keeps going quietly, so callers need not check after every step.
type loader struct {
	// allowEmptyRoles is allow_empty_roles, read before the roles.
	allowEmptyRoles bool
	file            string // main file, for errors without a node
	root            string // the project root, where relative files are read
	lookup          func(string) (string, bool)
	err             *Error
	tm              *templates // ERB: redacts credentials from messages
}

func (l *loader) failf(n *node, path, format string, args ...any) {
	if l.err != nil {
		return
	}
	e := &Error{File: l.file, Path: path, Msg: l.tm.redact(fmt.Sprintf(format, args...))}
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

// routedLabels reads labels of containers that Traefik might have read.
// Traefik runs on route files mrsk writes, not on container labels (no
// Docker socket). An app's traefik.* labels (app=true: roles and the
// top-level labels) are translated into its route file, and checked once
// the roles are known (routeLabels); on any other container a traefik.*
// label would be accepted and do nothing, so it is refused.
func (l *loader) routedLabels(n *node, path string, app bool) map[string]string {
	m := l.labels(n, path)
	if app {
		return m
	}
	for _, p := range pairsOf(n) {
		if k := p.key.value; !ignored(k) {
			l.check(p.key, joinPath(path, k), checkTraefikLabel(k))
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
	return NewSecret(l.str(plainNode(n), path))
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

// atLeastOne reads a count (retain_containers, max_attempts) into dst.
func (l *loader) atLeastOne(n *node, path string, dst *int) {
	if v, ok := l.integer(n, path); ok {
		if v < 1 {
			l.failf(n, path, "must be at least 1")
			return
		}
		*dst = v
	}
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

// pathMap reads accessory files (files=true) or directories: a list of
// "LOCAL:REMOTE" strings (Kamal's form) or a map of LOCAL: REMOTE, in file
// order. REMOTE is the path in the container, which must be absolute and
// appear once; the same LOCAL may be mounted twice.
func (l *loader) pathMap(n *node, path string, files bool) []PathMapping {
	if isNull(n) {
		return nil
	}
	var out []PathMapping
	add := func(at *node, p, local, remote string) bool {
		if local == "" || remote == "" || strings.Contains(remote, ":") {
			l.failf(at, p, `must be "LOCAL:REMOTE"`)
			return false
		}
		if !strings.HasPrefix(remote, "/") {
			l.failf(at, p, "the path in the container (%s) must be absolute", remote)
			return false
		}
		if files && strings.HasSuffix(remote, "/") {
			l.failf(at, p, "the path in the container (%s) must name a file", remote)
			return false
		}
		for _, m := range out {
			if m.Remote == remote {
				l.failf(at, p, "%s is mounted twice", remote)
				return false
			}
		}
		out = append(out, PathMapping{Local: local, Remote: remote})
		return true
	}
	switch n.kind {
	case mappingKind:
		for _, p := range n.pairs {
			if ignored(p.key.value) {
				continue
			}
			kp := joinPath(path, p.key.value)
			v := strings.TrimSpace(l.str(p.val, kp))
			if l.err != nil || !add(p.val, kp, p.key.value, v) {
				return nil
			}
		}
	case seqKind:
		for i, s := range l.stringList(n, path) {
			local, remote, _ := strings.Cut(s, ":")
			if !add(n.items[i], indexPath(path, i), local, remote) {
				return nil
			}
		}
	default:
		l.failf(n, path, `must be a list of "LOCAL:REMOTE" paths`)
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
