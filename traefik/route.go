package traefik

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// DefaultRule sends every request on the web entry point to the role.
const DefaultRule = "PathPrefix(`/`)"

// Rule is a role's router rule: Kamal 1 configs set it as a label,
// traefik.http.routers.<name>.rule. The first label set that has one wins
// (pass the role's labels before the top-level ones).
func Rule(labelSets ...map[string]string) string {
	for _, labels := range labelSets {
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if strings.HasPrefix(k, "traefik.http.routers.") && strings.HasSuffix(k, ".rule") {
				return labels[k]
			}
		}
	}
	return DefaultRule
}

// Route is the route file that sends requests matching rule on the web
// entry point to one server, url, as service key.
func Route(key, rule, url string) string {
	return fmt.Sprintf(`# Written by mrsk: do not edit, the next deploy rewrites it.
http:
  routers:
    %[1]s:
      rule: %[2]q
      entryPoints: ["web"]
      service: %[1]s
  services:
    %[1]s:
      loadBalancer:
        servers:
          - url: %[3]q
`, key, rule, url)
}

var routeURLRe = regexp.MustCompile(`(?m)^\s*-\s*url:\s*"([^"]*)"`)

// RouteURLs are the servers a route file (as Route writes it) names.
func RouteURLs(content string) []string {
	var urls []string
	for _, m := range routeURLRe.FindAllStringSubmatch(content, -1) {
		urls = append(urls, m[1])
	}
	return urls
}
