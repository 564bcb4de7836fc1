package traefik

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Servers asks the API of the Traefik at ip, through client, which servers
// service key (from the file provider) routes to. No such service is no
// servers, not an error: a route removed, or not yet read.
func Servers(ctx context.Context, client *http.Client, ip, key string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, APIPort)+"/api/http/services/"+key+"@file", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("traefik API: %s", resp.Status)
	}
	return parseService(body)
}

// parseService reads the servers of one service from the API's JSON.
func parseService(body []byte) ([]string, error) {
	var svc struct {
		LoadBalancer struct {
			Servers []struct {
				URL string `json:"url"`
			} `json:"servers"`
		} `json:"loadBalancer"`
	}
	if err := json.Unmarshal(body, &svc); err != nil {
		return nil, fmt.Errorf("traefik API: %w", err)
	}
	var urls []string
	for _, s := range svc.LoadBalancer.Servers {
		urls = append(urls, s.URL)
	}
	return urls, nil
}

// SameServers reports whether a and b name the same servers, in any order:
// Traefik lists them in its own order.
func SameServers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// RouterState is what Traefik's API says of one router.
type RouterState struct {
	Found  bool     // Traefik has read it
	Status string   // "enabled", "warning" or "disabled"
	Errors []string // why it is not enabled, in Traefik's words
}

// Router asks the API of the Traefik at ip, through client, for router
// name (from the file provider). A router Traefik rejected (an unknown
// middleware, entry point or resolver) is reported with its status and
// Traefik's error text; no such router is Found false, not an error.
func Router(ctx context.Context, client *http.Client, ip, name string) (RouterState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, APIPort)+"/api/http/routers/"+name+"@file", nil)
	if err != nil {
		return RouterState{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return RouterState{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		return RouterState{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return RouterState{}, fmt.Errorf("traefik API: %s", resp.Status)
	}
	var r struct {
		Status string   `json:"status"`
		Errors []string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return RouterState{}, fmt.Errorf("traefik API: %w", err)
	}
	return RouterState{Found: true, Status: r.Status, Errors: r.Errors}, nil
}

// Enabled reports whether the router serves as configured.
func (r RouterState) Enabled() bool { return r.Found && r.Status == "enabled" }

// String says how the router stands, for errors.
func (r RouterState) String() string {
	switch {
	case !r.Found:
		return "not loaded"
	case len(r.Errors) > 0:
		return r.Status + ": " + strings.Join(r.Errors, "; ")
	}
	return r.Status
}
