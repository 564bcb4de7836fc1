package traefik

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// WeightedShare is one child of a weighted service as the API shows it.
type WeightedShare struct {
	Name   string // without the provider: "hey-web--v2"
	Weight int
}

// Weighted asks the API of the Traefik at ip which services the weighted
// service key (file provider) splits over, in the file's order; none when
// key is not weighted or not there (a route not read yet).
func Weighted(ctx context.Context, client *http.Client, ip, key string) ([]WeightedShare, error) {
	body, found, err := get(ctx, client, ip, "/api/http/services/"+key+"@file")
	if err != nil || !found {
		return nil, err
	}
	var svc struct {
		Weighted *struct {
			Services []struct {
				Name   string `json:"name"`
				Weight *int   `json:"weight"`
			} `json:"services"`
		} `json:"weighted"`
	}
	if err := json.Unmarshal(body, &svc); err != nil {
		return nil, fmt.Errorf("traefik API: %w", err)
	}
	if svc.Weighted == nil {
		return nil, nil
	}
	var out []WeightedShare
	for _, s := range svc.Weighted.Services {
		w := 1 // Traefik's default weight
		if s.Weight != nil {
			w = *s.Weight
		}
		out = append(out, WeightedShare{Name: strings.TrimSuffix(s.Name, "@file"), Weight: w})
	}
	return out, nil
}

// Metrics reads the Prometheus metrics of the Traefik at ip (routed on
// the API's entry point by APIRouteScript). A Traefik started before mrsk
// turned its metrics on has no such route: the error says to reboot it.
func Metrics(ctx context.Context, client *http.Client, ip string) ([]byte, error) {
	body, found, err := get(ctx, client, ip, "/metrics")
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("traefik serves no metrics: it runs with an older configuration of mrsk's (run `mrsk traefik reboot`)")
	}
	return body, nil
}

func get(ctx context.Context, client *http.Client, ip, path string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, APIPort)+path, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, false, fmt.Errorf("traefik %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("traefik %s: %s", path, resp.Status)
	}
	return body, true, nil
}
