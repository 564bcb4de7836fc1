// Package dynamic turns a role's traefik.* container labels, as Kamal 1
// configs write them for Traefik's Docker provider, into the route file
// that mrsk's Traefik reads (its file provider). Labels are decoded by
// Traefik's own label parser (paerser), into types that mirror Traefik's
// dynamic HTTP configuration, so a label reads here as Traefik reads it:
// names case-insensitive, lists comma-separated, durations Go durations or
// seconds. A label that cannot be carried into the file is an error naming
// it, never dropped.
//
// The package knows nothing of mrsk's config: config and builtins use it.
package dynamic

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/traefik/paerser/parser"
)

// LabelError is a label that cannot be translated.
type LabelError struct {
	Key string // the label's key as written; "" when no single label is to blame
	Msg string
}

func (e *LabelError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Labels are a role's traefik.* labels, decoded and checked.
type Labels struct {
	HTTP HTTP
	// Enable is the traefik.enable label, when set. false means the role
	// is not routed through Traefik (Kamal 1's meaning).
	Enable *bool

	keys []string // the traefik.http.* keys as written, sorted: to name a label in errors
}

// Merge merges label sets, the first set's label winning over later ones
// with the same key in any case (pass a role's labels before the top-level
// ones). Keys differing only in case within one set are both kept, so that
// Decode reports them.
func Merge(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	taken := map[string]bool{}
	for _, set := range sets {
		var mine []string
		for k, v := range set {
			lk := strings.ToLower(k)
			if !taken[lk] {
				out[k] = v
				mine = append(mine, lk)
			}
		}
		for _, lk := range mine {
			taken[lk] = true
		}
	}
	return out
}

// Decode reads the traefik.* labels among labels (others are not Traefik's
// business and are skipped). The error, a *LabelError, names the first
// label that Traefik would reject or that mrsk cannot carry into a route
// file.
func Decode(labels map[string]string) (*Labels, error) {
	l := &Labels{}
	httpLabels := map[string]string{}
	seen := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "traefik.") {
			continue
		}
		if prev, ok := seen[lk]; ok {
			return nil, &LabelError{k, "the same label as " + prev + " (Traefik's label names are case-insensitive)"}
		}
		seen[lk] = k
		if !strings.HasPrefix(k, "traefik.") {
			return nil, &LabelError{k, `Traefik reads labels starting with "traefik." in lower case only`}
		}
		seg := strings.Split(lk, ".")
		switch seg[1] {
		case "enable":
			if len(seg) != 2 {
				return nil, &LabelError{k, "unknown label; traefik.enable takes no sub-key"}
			}
			b, err := strconv.ParseBool(strings.TrimSpace(labels[k]))
			if err != nil {
				return nil, &LabelError{k, "must be true or false"}
			}
			l.Enable = &b
		case "http":
			if msg := checkHTTPKey(seg); msg != "" {
				return nil, &LabelError{k, msg}
			}
			httpLabels[k] = labels[k]
		case "tcp", "udp":
			return nil, &LabelError{k, "mrsk routes HTTP only: the route files it writes for Traefik have no TCP or UDP routers"}
		case "tls":
			return nil, &LabelError{k, "TLS stores and options are not set by labels with mrsk: use a router's tls.* labels (certresolver, domains, options), or traefik.args for Traefik's own configuration"}
		case "docker":
			return nil, &LabelError{k, "mrsk's Traefik has no Docker provider: it routes by the files mrsk writes, to the container's address on the mrsk network"}
		default:
			return nil, &LabelError{k, "not a label mrsk can translate: it reads traefik.enable and traefik.http.* (routers, middlewares, services)"}
		}
	}
	h, err := decodeHTTP(httpLabels)
	if err != nil {
		return nil, blame(httpLabels, err)
	}
	l.HTTP = *h
	l.keys = slices.Sorted(maps.Keys(httpLabels))
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

// checkHTTPKey refuses, with a reason, the traefik.http.* labels that
// Traefik reads but mrsk cannot honour, and those it ignores; paerser
// judges the rest.
func checkHTTPKey(seg []string) string {
	if len(seg) < 5 {
		return "incomplete label: name a setting, like traefik.http.routers.<name>.rule"
	}
	switch seg[2] {
	case "routers", "middlewares", "services":
	case "serverstransports":
		return "servers transports cannot be set by labels (Traefik ignores them there too): define one in a file and name it with serverstransport"
	case "models":
		return "router models are not supported in labels by mrsk"
	default:
		return fmt.Sprintf("unknown section %q: labels define routers, middlewares and services", seg[2])
	}
	switch {
	case seg[2] == "services":
		switch seg[4] {
		case "weighted", "mirroring", "failover", "highestrandomweight":
			return "mrsk routes a role to one load-balanced service (its container): " + seg[4] + " services are not supported"
		case "loadbalancer":
			if len(seg) >= 7 && seg[5] == "server" && seg[6] == "url" {
				return "mrsk sets the server (the role's container); use server.port and server.scheme to change its port or scheme"
			}
		}
	case seg[2] == "middlewares" && seg[4] == "plugin":
		return "plugin middlewares are not supported by mrsk"
	}
	return ""
}

// decodeHTTP decodes traefik.http.* labels with Traefik's own parser.
func decodeHTTP(labels map[string]string) (h *HTTP, err error) {
	root := &struct{ HTTP *HTTP }{}
	if len(labels) == 0 {
		return &HTTP{}, nil
	}
	// The parser is not written for hostile input; a config must never
	// crash mrsk.
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("%v", r)
		}
	}()
	node, err := parser.DecodeToNode(labels, parser.DefaultRootName)
	if err != nil {
		return nil, err
	}
	if err := parser.AddMetadata(root, node, parser.MetadataOpts{TagName: parser.TagLabel, AllowSliceAsStruct: true}); err != nil {
		return nil, err
	}
	if err := parser.Fill(root, node, parser.FillerOpts{AllowSliceAsStruct: true}); err != nil {
		return nil, err
	}
	if root.HTTP == nil {
		return &HTTP{}, nil
	}
	return root.HTTP, nil
}

// blame finds the label behind a parser error: the parser does not say
// which one it was, so each label is decoded alone.
func blame(labels map[string]string, err error) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if _, e := decodeHTTP(map[string]string{k: labels[k]}); e != nil {
			return &LabelError{k, explain(e, labels[k])}
		}
	}
	return &LabelError{"", "Traefik labels: " + explain(err, "")}
}

var (
	fieldNotFoundRE = regexp.MustCompile(`^field not found, node: (\S+)`)
	standaloneRE    = regexp.MustCompile(`^(\S+) cannot be a standalone element`)
)

// explain turns a parser error into a message for a config's author.
func explain(err error, value string) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		want := "a number"
		switch ne.Func {
		case "ParseBool":
			want = "true or false"
		case "ParseInt", "ParseUint":
			want = "an integer"
		}
		if errors.Is(ne.Err, strconv.ErrRange) {
			return fmt.Sprintf("%q is out of range", ne.Num)
		}
		return fmt.Sprintf("%q is not valid: must be %s", ne.Num, want)
	}
	msg := err.Error()
	if m := fieldNotFoundRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field %q (Traefik v3 has no such setting here)", m[1])
	}
	if m := standaloneRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%q is a section, not a value: name one of its settings", m[1])
	}
	if strings.HasPrefix(msg, "invalid element: ") {
		return "a label name has no empty parts: two dots in a row, or a dot at the end"
	}
	if strings.HasPrefix(msg, "time: ") {
		return fmt.Sprintf("%q is not a duration: use a number of seconds or a Go duration like 500ms or 10s", value)
	}
	return msg
}

// keyOf is the first label (as written) under the given path segments,
// compared case-insensitively; "" if none.
func (l *Labels) keyOf(path ...string) string {
	prefix := strings.ToLower("traefik.http." + strings.Join(path, "."))
	for _, k := range l.keys {
		lk := strings.ToLower(k)
		if lk == prefix || strings.HasPrefix(lk, prefix+".") || strings.HasPrefix(lk, prefix+"[") {
			return k
		}
	}
	return ""
}

// check applies what Traefik checks after decoding (one type per
// middleware) and what mrsk needs (one service, references it can keep).
func (l *Labels) check() error {
	h := &l.HTTP
	if len(h.Services) > 1 {
		names := slices.Sorted(maps.Keys(h.Services))
		return &LabelError{l.keyOf("services", names[1]), fmt.Sprintf("mrsk routes a role to one service (its container), and these labels define %d: %s", len(names), strings.Join(names, ", "))}
	}
	for name, s := range h.Services {
		if s.LoadBalancer == nil || len(s.LoadBalancer.Servers) == 0 {
			continue
		}
		srv := s.LoadBalancer.Servers[0]
		if srv.Port != "" {
			if p, err := strconv.Atoi(srv.Port); err != nil || p < 1 || p > 65535 {
				return &LabelError{l.keyOf("services", name, "loadbalancer", "server", "port"), "must be a port number between 1 and 65535"}
			}
		}
		switch srv.Scheme {
		case "", "http", "https", "h2c":
		default:
			return &LabelError{l.keyOf("services", name, "loadbalancer", "server", "scheme"), "must be http, https or h2c"}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Middlewares)) {
		m := h.Middlewares[name]
		types := middlewareTypes(m)
		switch {
		case len(types) == 0:
			return &LabelError{l.keyOf("middlewares", name), "the middleware has no type: set one, like basicauth.users or redirectscheme.scheme"}
		case len(types) > 1:
			return &LabelError{l.keyOf("middlewares", name, types[1]), fmt.Sprintf("a middleware has one type, and this one sets %s", strings.Join(types, " and "))}
		}
		if m.Chain != nil {
			for _, ref := range m.Chain.Middlewares {
				if _, err := l.middlewareRef(ref); err != nil {
					return &LabelError{l.keyOf("middlewares", name, "chain", "middlewares"), err.Error()}
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Routers)) {
		r := h.Routers[name]
		for _, ep := range r.EntryPoints {
			if strings.EqualFold(ep, "traefik") {
				return &LabelError{l.keyOf("routers", name, "entrypoints"), `the "traefik" entry point is Traefik's API, which mrsk keeps to the host itself`}
			}
		}
		for _, ref := range r.Middlewares {
			if _, err := l.middlewareRef(ref); err != nil {
				return &LabelError{l.keyOf("routers", name, "middlewares"), err.Error()}
			}
		}
	}
	return nil
}

// middlewareTypes are the lower-case names of the types m sets.
func middlewareTypes(m *Middleware) []string {
	var out []string
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			out = append(out, strings.ToLower(v.Type().Field(i).Name))
		}
	}
	return out
}

// middlewareRef is how a route file names the middleware that a label
// names: one these labels define (bare, or @docker as Kamal 1 wrote it)
// by its bare name; one of another route file (@file) or Traefik's own
// (@internal) as it is.
func (l *Labels) middlewareRef(ref string) (string, error) {
	name, provider, qualified := strings.Cut(ref, "@")
	if qualified {
		switch provider {
		case "file", "internal":
			return ref, nil
		case "docker":
		default:
			return "", fmt.Errorf("middleware %q: mrsk's Traefik has only the file provider (name@file) and its own middlewares (name@internal)", ref)
		}
	}
	for defined := range l.HTTP.Middlewares {
		if strings.EqualFold(defined, name) {
			return defined, nil
		}
	}
	return "", fmt.Errorf("no middleware %q is defined by these labels (one defined in another role's labels is %s@file)", name, name)
}

// serviceRef is how a route file names the service that a label names:
// the one these labels define, key itself, or none is the role's, key;
// Traefik's own (@internal) stays, and so, where allowFile, does another
// file's (@file). It depends on key, so Build checks it, not Decode.
func (l *Labels) serviceRef(ref, key string, allowFile bool) (string, error) {
	name, provider, qualified := strings.Cut(ref, "@")
	if qualified {
		switch {
		case provider == "internal", provider == "file" && allowFile:
			return ref, nil
		case provider == "docker":
		default:
			return "", fmt.Errorf("service %q: mrsk routes a role to its own service (name it by the label's service name, or leave it out)", ref)
		}
	}
	if name == "" || strings.EqualFold(name, key) {
		return key, nil
	}
	for defined := range l.HTTP.Services {
		if strings.EqualFold(defined, name) {
			return key, nil
		}
	}
	if allowFile {
		return "", fmt.Errorf("no service %q is defined by these labels (one of another route file is %s@file)", name, name)
	}
	return "", fmt.Errorf("service %q: mrsk routes a role to its own service (name it by the label's service name, or leave it out)", name)
}
