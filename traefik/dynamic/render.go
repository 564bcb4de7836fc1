package dynamic

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultRule sends every request on the router's entry points to the role.
const DefaultRule = "PathPrefix(`/`)"

// Header is the first line of every route file.
const Header = "# Written by mrsk: do not edit, the next deploy rewrites it.\n"

// TLS is a role's HTTPS from mrsk's own settings (not labels).
type TLS struct {
	Hosts        []string // the Host rule and the certificate's names
	CertResolver string   // "" for a certificate from Traefik's TLS store
	Redirect     bool     // HTTP requests get a permanent redirect to HTTPS
}

// Options are what mrsk adds to a role's labels to make its route.
type Options struct {
	// Key names the router and the service that mrsk owns for the role,
	// e.g. "hey-web" (Kamal 1's <service>-<role>[-<destination>]).
	Key string
	// URL is the container's server, http://ADDR:PORT; server.scheme and
	// server.port labels change its scheme and port.
	URL string
	// EntryPoints are the public entry points, for routers whose labels
	// name none; default ["web"].
	EntryPoints []string
	// TLS, when set, serves Key's router on websecure with a certificate,
	// and plain HTTP on router Key-http (redirecting, if asked).
	TLS *TLS
	// Canary, when set, splits Key between URL and a second server: Key
	// becomes a weighted service over two child services, one per
	// version, so Traefik counts each version's requests apart.
	Canary *Canary
	// Container, when set, names URL's container in the file (see
	// ContainerComment).
	Container string
}

// Canary is a weighted split of a role's traffic between the version that
// serves (Options.URL, child service Stable) and a new one.
type Canary struct {
	URL    string // the new version's server
	Weight int    // its share in percent, 1..99
	// The child services' names, e.g. "hey-web--v1" and "hey-web--v2".
	Stable, New string
	// Container, when set, names URL's container in the file.
	Container string
}

// ContainerComment is the comment line that names the container behind
// an address in a route file: "# mrsk-container NAME //ADDR:". Routes name
// addresses, and Docker hands out new ones when its daemon restarts; the
// script mrsk installs for that (container.DockerRoutesScript) finds here
// which container each address was, and rewrites every "//ADDR:" in the
// file, this line's included, to the address the container has now.
func ContainerComment(name, serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil || name == "" || u.Hostname() == "" {
		return ""
	}
	return "# mrsk-container " + name + " //" + u.Hostname() + ":\n"
}

// Build is the dynamic configuration of the role's route: the router and
// the service named Key (Kamal 1 always had them), with the labels'
// routers, middlewares and service settings merged in. It does not change
// l. A *LabelError names a label whose reference cannot be kept.
func (l *Labels) Build(o Options) (*HTTP, error) {
	if o.Key == "" {
		return nil, fmt.Errorf("route: no key")
	}
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("route %s: bad server URL %q", o.Key, o.URL)
	}
	eps := o.EntryPoints
	if len(eps) == 0 {
		eps = []string{"web"}
	}
	rule := DefaultRule
	h := &HTTP{Routers: map[string]*Router{o.Key: {}}, Middlewares: map[string]*Middleware{}, Services: map[string]*Service{}}
	httpKey := ""
	if t := o.TLS; t != nil {
		if len(t.Hosts) > 0 {
			hosts := make([]string, len(t.Hosts))
			for i, host := range t.Hosts {
				hosts[i] = "Host(`" + host + "`)"
			}
			rule = strings.Join(hosts, " || ")
		}
		tls := &RouterTLS{CertResolver: t.CertResolver}
		if len(t.Hosts) > 0 {
			tls.Domains = []Domain{{Main: t.Hosts[0], SANs: slices.Clone(t.Hosts[1:])}}
		}
		h.Routers[o.Key] = &Router{EntryPoints: []string{"websecure"}, TLS: tls}
		httpKey = o.Key + "-http"
		hr := &Router{EntryPoints: []string{"web"}}
		if t.Redirect {
			redirect := o.Key + "-https-redirect"
			hr.Middlewares = []string{redirect}
			h.Middlewares[redirect] = &Middleware{RedirectScheme: &RedirectScheme{Scheme: "https", Permanent: true}}
		}
		h.Routers[httpKey] = hr
	}

	// The labels' middlewares, their references as the file names them.
	for name, m := range l.HTTP.Middlewares {
		c := *m
		if m.Chain != nil {
			refs := make([]string, len(m.Chain.Middlewares))
			for i, ref := range m.Chain.Middlewares {
				refs[i], _ = l.middlewareRef(ref) // checked by Decode
			}
			c.Chain = &Chain{Middlewares: refs}
		}
		if m.Errors != nil && m.Errors.Service != "" {
			e := *m.Errors
			if e.Service, err = l.serviceRef(m.Errors.Service, o.Key, true); err != nil {
				return nil, &LabelError{l.keyOf("middlewares", name, "errors", "service"), err.Error()}
			}
			c.Errors = &e
		}
		h.Middlewares[name] = &c
	}

	// The labels' routers, over those mrsk makes (names compared as
	// Traefik compares label names: in any case).
	for _, name := range slices.Sorted(maps.Keys(l.HTTP.Routers)) {
		r := l.HTTP.Routers[name]
		target := name
		for _, own := range []string{o.Key, httpKey} {
			if own != "" && strings.EqualFold(name, own) {
				target = own
			}
		}
		base := h.Routers[target]
		if base == nil {
			base = &Router{}
			h.Routers[target] = base
		}
		if err := l.overlay(base, r, name, o.Key); err != nil {
			return nil, err
		}
	}

	// Defaults: the Key-http router follows the Key router.
	key := h.Routers[o.Key]
	if key.Rule == "" {
		key.Rule = rule
	}
	if httpKey != "" {
		hr := h.Routers[httpKey]
		if hr.Rule == "" {
			hr.Rule = key.Rule
		}
		if hr.Priority == 0 {
			hr.Priority = key.Priority
		}
	}
	for _, r := range h.Routers {
		if r.Rule == "" {
			r.Rule = rule
		}
		if len(r.EntryPoints) == 0 {
			r.EntryPoints = slices.Clone(eps)
		}
		if r.Service == "" {
			r.Service = o.Key
		}
	}

	// The one service: the role's container, with the labels' settings.
	lb := &LoadBalancer{}
	var srv Server
	for _, s := range l.HTTP.Services { // at most one (Decode)
		if s.LoadBalancer != nil {
			*lb = *s.LoadBalancer
			if len(s.LoadBalancer.Servers) > 0 {
				srv = s.LoadBalancer.Servers[0]
			}
		}
	}
	if srv.Scheme != "" {
		u.Scheme = srv.Scheme
	}
	if srv.Port != "" {
		u.Host = net.JoinHostPort(u.Hostname(), srv.Port)
	}
	lb.Servers = []Server{{URL: u.String(), Weight: srv.Weight, PreservePath: srv.PreservePath}}
	c := o.Canary
	if c == nil {
		h.Services[o.Key] = &Service{LoadBalancer: lb}
		return h, nil
	}
	// Both versions get the labels' load balancer settings; only the
	// server differs.
	if c.Weight < 1 || c.Weight > 99 {
		return nil, fmt.Errorf("route %s: canary weight %d is not between 1 and 99", o.Key, c.Weight)
	}
	if c.Stable == "" || c.New == "" || c.Stable == c.New || c.Stable == o.Key || c.New == o.Key {
		return nil, fmt.Errorf("route %s: canary services %q and %q must be named apart from each other and from the key", o.Key, c.Stable, c.New)
	}
	cu, err := url.Parse(c.URL)
	if err != nil || cu.Host == "" {
		return nil, fmt.Errorf("route %s: bad canary server URL %q", o.Key, c.URL)
	}
	if srv.Scheme != "" {
		cu.Scheme = srv.Scheme
	}
	if srv.Port != "" {
		cu.Host = net.JoinHostPort(cu.Hostname(), srv.Port)
	}
	next := *lb
	next.Servers = []Server{{URL: cu.String(), Weight: srv.Weight, PreservePath: srv.PreservePath}}
	h.Services[c.Stable] = &Service{LoadBalancer: lb}
	h.Services[c.New] = &Service{LoadBalancer: &next}
	h.Services[o.Key] = &Service{Weighted: &Weighted{Services: []WeightedService{
		{Name: c.Stable, Weight: 100 - c.Weight}, {Name: c.New, Weight: c.Weight}}}}
	return h, nil
}

// overlay sets on base what label router r (named name) sets.
func (l *Labels) overlay(base, r *Router, name, key string) error {
	if len(r.EntryPoints) > 0 {
		base.EntryPoints = slices.Clone(r.EntryPoints)
	}
	if len(r.Middlewares) > 0 {
		base.Middlewares = make([]string, len(r.Middlewares))
		for i, ref := range r.Middlewares {
			base.Middlewares[i], _ = l.middlewareRef(ref) // checked by Decode
		}
	}
	if r.Service != "" {
		s, err := l.serviceRef(r.Service, key, false)
		if err != nil {
			return &LabelError{l.keyOf("routers", name, "service"), err.Error()}
		}
		base.Service = s
	}
	if r.Rule != "" {
		base.Rule = r.Rule
	}
	if r.RuleSyntax != "" {
		base.RuleSyntax = r.RuleSyntax
	}
	if r.Priority != 0 {
		base.Priority = r.Priority
	}
	if r.TLS != nil {
		tls := &RouterTLS{}
		if base.TLS != nil {
			*tls = *base.TLS
		}
		if r.TLS.Options != "" {
			tls.Options = r.TLS.Options
		}
		if r.TLS.CertResolver != "" {
			tls.CertResolver = r.TLS.CertResolver
		}
		if len(r.TLS.Domains) > 0 {
			tls.Domains = slices.Clone(r.TLS.Domains)
		}
		base.TLS = tls
	}
	if r.Observability != nil {
		o := *r.Observability
		base.Observability = &o
	}
	return nil
}

// Marshal writes h as a route file: YAML in Traefik's names, maps sorted,
// so the same configuration is always the same bytes.
func (h *HTTP) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(Header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		HTTP *HTTP `yaml:"http"`
	}{h}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Render is the route file of the role (Build, then Marshal), and the
// names of its routers, sorted, for a caller to confirm them with
// Traefik's API.
func (l *Labels) Render(o Options) (file []byte, routers []string, err error) {
	h, err := l.Build(o)
	if err != nil {
		return nil, nil, err
	}
	file, err = h.Marshal()
	if err != nil {
		return nil, nil, err
	}
	file = append(file, ContainerComment(o.Container, o.URL)...)
	if c := o.Canary; c != nil {
		file = append(file, ContainerComment(c.Container, c.URL)...)
	}
	return file, slices.Sorted(maps.Keys(h.Routers)), nil
}

// routeFile is what ServerURLs reads of a route file.
type routeFile struct {
	HTTP struct {
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
			Weighted *Weighted `yaml:"weighted"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// Split is a canary's route as its file states it: the weighted service
// key over two child services. A later mrsk run reads it from the host
// (with the containers' labels) to act on a canary it did not start.
type Split struct {
	Stable, New       string // the child services
	StableURL, NewURL string // their servers
	Weight            int    // New's share, percent
}

// ReadSplit finds service key's canary split in a route file; ok is false
// when key is a plain service (no canary runs) or the file is not one.
func ReadSplit(file []byte, key string) (Split, bool) {
	var f routeFile
	if err := yaml.Unmarshal(file, &f); err != nil {
		return Split{}, false
	}
	svc, found := f.HTTP.Services[key]
	if !found || svc.Weighted == nil || len(svc.Weighted.Services) != 2 {
		return Split{}, false
	}
	ws := svc.Weighted.Services
	first := func(name string) string {
		if s := f.HTTP.Services[name].LoadBalancer.Servers; len(s) > 0 {
			return s[0].URL
		}
		return ""
	}
	sp := Split{Stable: ws[0].Name, New: ws[1].Name, Weight: ws[1].Weight}
	sp.StableURL, sp.NewURL = first(sp.Stable), first(sp.New)
	if sp.StableURL == "" || sp.NewURL == "" || ws[0].Weight+ws[1].Weight != 100 {
		return Split{}, false
	}
	return sp, true
}

// ServiceServers are the servers of each service a route file names, by
// service name. A file that is not YAML is an error (Traefik skips it).
func ServiceServers(file []byte) (map[string][]string, error) {
	var f routeFile
	if err := yaml.Unmarshal(file, &f); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for name, svc := range f.HTTP.Services {
		var urls []string
		for _, s := range svc.LoadBalancer.Servers {
			urls = append(urls, s.URL)
		}
		out[name] = urls
	}
	return out, nil
}

// ServerURLs are the servers a route file names (services in name order).
// A file that is not YAML names none.
func ServerURLs(file []byte) []string {
	services, err := ServiceServers(file)
	if err != nil {
		return nil
	}
	var urls []string
	for _, name := range slices.Sorted(maps.Keys(services)) {
		urls = append(urls, services[name]...)
	}
	return urls
}

// EntryPoints are the public entry points of a Traefik started with
// argKeys (traefik.args keys): web, websecure when mrsk serves TLS, and
// any that entrypoints.NAME.address defines (names keep the key's case,
// as Traefik's do); never the API's, "traefik".
func EntryPoints(argKeys []string, tls bool) []string {
	eps := []string{"web"}
	if tls {
		eps = append(eps, "websecure")
	}
	for _, k := range slices.Sorted(slices.Values(argKeys)) {
		parts := strings.Split(k, ".")
		if len(parts) == 3 && strings.EqualFold(parts[0], "entrypoints") && strings.EqualFold(parts[2], "address") &&
			parts[1] != "traefik" && !slices.Contains(eps, parts[1]) {
			eps = append(eps, parts[1])
		}
	}
	return eps
}
