package traefik

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// The API's weighted service (as Traefik v3.6 shows a file provider's)
// and /metrics; a Traefik without metrics answers 404 there.
func TestWeightedAndMetrics(t *testing.T) {
	metricsOn := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/http/services/hey-web@file":
			w.Write([]byte(`{"weighted":{"services":[{"name":"hey-web--v1","weight":90},{"name":"hey-web--v2@file","weight":10}]},"status":"enabled","provider":"file"}`))
		case "/api/http/services/plain@file":
			w.Write([]byte(`{"loadBalancer":{"servers":[{"url":"http://172.18.0.3:3000"}]}}`))
		case "/api/http/services/noweight@file":
			w.Write([]byte(`{"weighted":{"services":[{"name":"a"},{"name":"b"}]}}`))
		case "/metrics":
			if metricsOn {
				w.Write([]byte("traefik_service_requests_total{code=\"200\",service=\"hey-web--v2@file\"} 3\n"))
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := serverClient(srv)
	ctx := context.Background()
	for _, tc := range []struct {
		key  string
		want []WeightedShare
	}{
		{"hey-web", []WeightedShare{{"hey-web--v1", 90}, {"hey-web--v2", 10}}},
		{"plain", nil},
		{"gone", nil},
		{"noweight", []WeightedShare{{"a", 1}, {"b", 1}}}, // Traefik's default weight
	} {
		got, err := Weighted(ctx, client, "10.0.0.1", tc.key)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Weighted(%s) = %v, %v; want %v", tc.key, got, err, tc.want)
		}
	}
	body, err := Metrics(ctx, client, "10.0.0.1")
	if err != nil || !strings.Contains(string(body), "hey-web--v2@file") {
		t.Errorf("Metrics = %q, %v", body, err)
	}
	metricsOn = false
	if _, err := Metrics(ctx, client, "10.0.0.1"); err == nil || !strings.Contains(err.Error(), "mrsk traefik reboot") {
		t.Errorf("Metrics without metrics: %v, want an error naming mrsk traefik reboot", err)
	}
}
