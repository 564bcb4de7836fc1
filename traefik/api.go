package traefik

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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
