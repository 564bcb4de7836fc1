package config

// traefik.* labels of app containers: Kamal 1 configs route with them.
// mrsk's Traefik reads route files, not labels, so they are translated
// into each routed role's route file (package traefik/dynamic); here they
// are decoded at load, so that a label Traefik would reject, or one mrsk
// cannot carry into a file, is an error at its line.

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// RouteKey names the router and service of role in Traefik, and its route
// file: Kamal 1's <service>-<role>[-<destination>].
func (c *Config) RouteKey(role string) string {
	if c.Destination != "" {
		return c.Service + "-" + role + "-" + c.Destination
	}
	return c.Service + "-" + role
}

// RouteLabels are the labels whose traefik.* part makes role's route: the
// role's own over the top-level ones, keys compared in any case.
func (c *Config) RouteLabels(r *Role) map[string]string {
	return dynamic.Merge(r.Labels, c.Labels)
}

// labelSite is where a label key was written.
type labelSite struct {
	node *node
	path string
}

// labelSites maps each key of a labels mapping to its key node.
func labelSites(n *node, path string) map[string]labelSite {
	out := map[string]labelSite{}
	for _, p := range pairsOf(n) {
		out[p.key.value] = labelSite{p.key, joinPath(path, p.key.value)}
	}
	return out
}

// labelError reports a *dynamic.LabelError at the first of sites that
// holds its key, or at fallback (the labels mapping) when none does.
func (l *loader) labelError(err error, fallback labelSite, sites ...map[string]labelSite) {
	le, ok := err.(*dynamic.LabelError)
	if !ok {
		l.failf(fallback.node, fallback.path, "%v", err)
		return
	}
	for _, s := range sites {
		if at, ok := s[le.Key]; ok {
			l.failf(at.node, at.path, "%s", le.Msg)
			return
		}
	}
	l.failf(fallback.node, fallback.path, "%s", le.Error())
}

// routeLabels decodes the traefik.* labels of each role, its own merged
// over the top-level ones. traefik.enable=false takes a role out of
// Traefik unless the role says traefik: true itself. Two routed roles must
// not define one router or middleware name differently: Traefik's file
// provider would keep one of them and silently skip the other.
func (l *loader) routeLabels(c *Config, roles []*roleSpec, root *node) {
	topNode := root.get("labels")
	topAt := labelSite{topNode, "labels"}
	if topNode == nil {
		topAt.node = root
	}
	topSites := labelSites(topNode, "labels")

	type owner struct {
		role   string
		labels map[string]string
		sites  map[string]labelSite
		value  any
	}
	routers := map[string]owner{}
	middlewares := map[string]owner{}
	routed := false
	eps := dynamic.EntryPoints(slices.Collect(maps.Keys(c.Traefik.Args)), c.Traefik.TLS != nil)
	for _, r := range roles {
		roleNode := r.node.get("labels")
		roleAt := labelSite{roleNode, joinPath(r.path, "labels")}
		if roleNode == nil {
			roleAt = labelSite{r.node, r.path}
		}
		roleSites := labelSites(roleNode, roleAt.path)
		merged := c.RouteLabels(r.role)
		labels, err := dynamic.Decode(merged)
		if err != nil {
			l.labelError(err, roleAt, roleSites, topSites)
			return
		}
		if labels.Enable != nil && !*labels.Enable {
			if k := findKey(r.role.Labels, "traefik.enable"); k != "" && r.traefik != nil && *r.traefik {
				l.failf(roleSites[k].node, roleSites[k].path, "contradicts traefik: true of role %s", r.role.Name)
				return
			}
			if r.traefik == nil {
				r.role.Traefik = false
			}
		}
		if !r.role.Traefik {
			if k := findKey(r.role.Labels, "traefik.http."); k != "" {
				l.failf(roleSites[k].node, roleSites[k].path, "role %s does not route through Traefik (traefik: false, or not the web or primary role), so this label would do nothing", r.role.Name)
				return
			}
			continue
		}
		routed = true
		h, err := labels.Build(c.checkRouteOptions(r.role.Name, eps))
		if err != nil {
			l.labelError(err, roleAt, roleSites, topSites)
			return
		}
		// An entry point Traefik does not have leaves the router off (or
		// the site dark, as a Kamal 1 websecure router without the
		// websecure entry point would): say so before deploying.
		for _, name := range slices.Sorted(maps.Keys(h.Routers)) {
			for _, ep := range h.Routers[name].EntryPoints {
				if !slices.Contains(eps, ep) {
					k := findKey(merged, "traefik.http.routers."+name+".entrypoints")
					site, ok := roleSites[k]
					if !ok {
						site, ok = topSites[k]
					}
					if !ok {
						site = roleAt
					}
					l.failf(site.node, site.path, "router %s: Traefik has no entry point %q (it has %s; traefik.args entrypoints.%s.address adds one)", name, ep, strings.Join(eps, ", "), ep)
					return
				}
			}
		}
		for _, kind := range []struct {
			what  string
			seen  map[string]owner
			items map[string]any
		}{
			{"router", routers, anyMap(h.Routers)},
			{"middleware", middlewares, anyMap(h.Middlewares)},
		} {
			for _, name := range slices.Sorted(maps.Keys(kind.items)) {
				mine := owner{r.role.Name, merged, roleSites, kind.items[name]}
				prev, ok := kind.seen[name]
				if !ok {
					kind.seen[name] = mine
					continue
				}
				if reflect.DeepEqual(prev.value, mine.value) {
					continue
				}
				// Blame a label that defines the name: this role's, else
				// the earlier role's (mrsk made this one).
				at, lbl := mine, findKey(mine.labels, "traefik.http."+kind.what+"s."+name+".")
				if lbl == "" {
					at, lbl = prev, findKey(prev.labels, "traefik.http."+kind.what+"s."+name+".")
				}
				site, ok := at.sites[lbl]
				if !ok {
					site, ok = topSites[lbl]
				}
				if !ok {
					site = roleAt
				}
				l.failf(site.node, site.path, "%s %q is defined differently for roles %s and %s (Traefik would keep one and skip the other): give each role its own %s name",
					kind.what, name, prev.role, r.role.Name, kind.what)
				return
			}
		}
	}
	if !routed {
		// No role takes the top-level labels into a route: still, a label
		// Traefik would reject is an error.
		if _, err := dynamic.Decode(c.Labels); err != nil {
			l.labelError(err, topAt, topSites)
		}
	}
}

// checkRouteOptions are the route options of role for the load-time
// check: as builtins' routeOptions makes them, but for the server's
// address (unknown until the container runs) and the certificate
// resolver (set on one host only).
func (c *Config) checkRouteOptions(role string, eps []string) dynamic.Options {
	o := dynamic.Options{Key: c.RouteKey(role), URL: fmt.Sprintf("http://127.0.0.1:%d", c.Healthcheck.Port), EntryPoints: eps}
	if t := c.Traefik.TLS; t != nil {
		o.TLS = &dynamic.TLS{Hosts: t.Hosts, Redirect: t.Redirect}
	}
	return o
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// findKey is the first key of labels (sorted) that starts with prefix, or
// is it, compared in any case; "" if none.
func findKey(labels map[string]string, prefix string) string {
	prefix = strings.ToLower(prefix)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if lk := strings.ToLower(k); lk == prefix || strings.HasPrefix(lk, prefix) {
			return k
		}
	}
	return ""
}
