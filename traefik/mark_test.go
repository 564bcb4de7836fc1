package traefik

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The mark file is dynamic configuration Traefik loads (one headers
// middleware, used by no router), and Mark reads its value back from the
// API's JSON for it, as Traefik v3.6 shows it.
func TestMark(t *testing.T) {
	const key = "hey-web"
	var file struct {
		HTTP struct {
			Middlewares map[string]struct {
				Headers struct {
					Request map[string]string `yaml:"customRequestHeaders"`
				} `yaml:"headers"`
			} `yaml:"middlewares"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal([]byte(MarkContent(key, "ab12.3")), &file); err != nil {
		t.Fatalf("mark file: %v\n%s", err, MarkContent(key, "ab12.3"))
	}
	m, ok := file.HTTP.Middlewares[MarkName(key)]
	if !ok || len(file.HTTP.Middlewares) != 1 || m.Headers.Request[markHeader] != "ab12.3" {
		t.Fatalf("mark file decodes to %+v", file)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/http/middlewares/mrsk-restored-hey-web@file":
			w.Write([]byte(`{"headers":{"customRequestHeaders":{"X-Mrsk-Restored":"ab12.3"}},"status":"enabled","name":"mrsk-restored-hey-web@file","provider":"file","type":"headers"}`))
		case "/api/http/middlewares/mrsk-restored-broken@file":
			w.Write([]byte(`{"headers":`))
		case "/api/http/middlewares/mrsk-restored-down@file":
			http.Error(w, "no", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := serverClient(srv)
	for _, tc := range []struct {
		key, want string
		err       bool
	}{
		{key: "hey-web", want: "ab12.3"},
		{key: "other", want: ""}, // no mark yet
		{key: "broken", err: true},
		{key: "down", err: true},
	} {
		got, err := Mark(context.Background(), client, "10.0.0.1", tc.key)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Mark(%s) = %q, %v; want %q (error %v)", tc.key, got, err, tc.want, tc.err)
		}
	}
}
