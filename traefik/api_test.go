package traefik

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestServers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/http/services/hey-web@file":
			w.Write([]byte(`{"loadBalancer":{"servers":[{"url":"http://172.18.0.3:3000"},{"url":"http://172.18.0.4:3000"}]},"status":"enabled"}`))
		case "/api/http/services/bad@file":
			w.Write([]byte(`{`))
		case "/api/http/services/down@file":
			http.Error(w, "no", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// The client dials the test server whatever the address, as the SSH
	// dialer reaches the host's Traefik whatever the local network.
	client := serverClient(srv)
	ctx := context.Background()
	for _, tc := range []struct {
		key     string
		want    []string
		wantErr bool
	}{
		{"hey-web", []string{"http://172.18.0.3:3000", "http://172.18.0.4:3000"}, false},
		{"gone", nil, false}, // no such service: no servers
		{"bad", nil, true},
		{"down", nil, true},
	} {
		got, err := Servers(ctx, client, "10.0.0.9", tc.key)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("Servers(%s) = %v, %v; want %v (error %v)", tc.key, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSameServers(t *testing.T) {
	a := []string{"x", "y"}
	if !SameServers(a, []string{"y", "x"}) || SameServers(a, []string{"x"}) || SameServers(a, []string{"x", "x"}) {
		t.Error("SameServers compares as sets of equal length")
	}
	if a[0] != "x" {
		t.Error("SameServers sorted its argument in place")
	}
}

func TestRouter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/http/routers/hey-web@file":
			w.Write([]byte(`{"entryPoints":["web"],"service":"hey-web","rule":"PathPrefix(` + "`/`" + `)","status":"enabled","using":["web"],"name":"hey-web@file","provider":"file"}`))
		case "/api/http/routers/admin@file":
			w.Write([]byte(`{"entryPoints":["web"],"middlewares":["auth@file"],"service":"hey-web","rule":"PathPrefix(` + "`/admin`" + `)","error":["middleware \"auth@file\" does not exist"],"status":"disabled","name":"admin@file","provider":"file"}`))
		case "/api/http/routers/bad@file":
			w.Write([]byte(`[`))
		case "/api/http/routers/down@file":
			http.Error(w, "no", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := serverClient(srv)
	for _, tc := range []struct {
		name    string
		enabled bool
		says    string
		wantErr bool
	}{
		{"hey-web", true, "enabled", false},
		{"admin", false, `disabled: middleware "auth@file" does not exist`, false},
		{"gone", false, "not loaded", false},
		{"bad", false, "", true},
		{"down", false, "", true},
	} {
		got, err := Router(context.Background(), client, "10.0.0.9", tc.name)
		if (err != nil) != tc.wantErr {
			t.Errorf("Router(%s) error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && (got.Enabled() != tc.enabled || got.String() != tc.says) {
			t.Errorf("Router(%s) = %+v (%s), want enabled %v, %q", tc.name, got, got, tc.enabled, tc.says)
		}
	}
}

// serverClient is an HTTP client that reaches srv whatever address it is
// asked for, as the SSH connection reaches Traefik's.
func serverClient(srv *httptest.Server) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
}
