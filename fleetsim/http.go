package fleetsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/mrsk-go/mrsk/traefik/dynamic"
)

// traefikAPIPort is where Traefik's API listens (mrsk's "traefik" entry point).
const traefikAPIPort = 8080

// directTCPIP answers a port-forward to a container address on the host's
// network: the Traefik container's API on 8080, an app container's HTTP on
// any other port. Anything else is refused, as sshd would report a failed
// connect.
func (h *Host) directTCPIP(nc ssh.NewChannel) {
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	h.dials.Add(1)
	c, ok := h.docker.byIP(p.Host)
	if !ok {
		nc.Reject(ssh.ConnectionFailed, "connect failed: no route to "+p.Host)
		return
	}
	traefik := c.Name == "traefik"
	if traefik && p.Port != traefikAPIPort {
		nc.Reject(ssh.ConnectionFailed, "connect failed: connection refused")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	defer ch.Close()
	br := bufio.NewReader(ch)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
		code, body := h.answer(c, traefik, req)
		resp := &http.Response{
			StatusCode:    code,
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Close:         req.Close,
		}
		if err := resp.Write(ch); err != nil || req.Close {
			return
		}
	}
}

func (h *Host) answer(c Container, traefik bool, req *http.Request) (int, string) {
	if traefik {
		return h.traefikAPI(req.URL.Path)
	}
	// The container may have stopped since the channel opened.
	cur, ok := h.docker.byIP(c.IP)
	if !ok || cur.ID != c.ID {
		return http.StatusBadGateway, "gone\n"
	}
	switch req.URL.Path {
	case h.fleet.opts.HealthPath:
		if !cur.Healthy() {
			return http.StatusServiceUnavailable, "unhealthy\n"
		}
		return http.StatusOK, "OK\n"
	case "/":
		return http.StatusOK, fmt.Sprintf("hello from %s on %s\n", cur.Name, h.addr)
	}
	return http.StatusNotFound, "not found\n"
}

// traefikAPI serves /api/http/services/<name>@file from the route files in
// the host's .mrsk/traefik/dynamic, as Traefik's file provider would load
// them.
func (h *Host) traefikAPI(path string) (int, string) {
	if path == "/ping" {
		return http.StatusOK, "OK"
	}
	if router, ok := strings.CutPrefix(path, "/api/http/routers/"); ok {
		// A router of a loaded route file is enabled: the simulation
		// knows no middleware or resolver to refuse.
		key, ok := strings.CutSuffix(router, "@file")
		if !ok || !h.hasRouter(key) {
			return http.StatusNotFound, `{"message":"router not found"}`
		}
		return http.StatusOK, fmt.Sprintf(`{"name":%q,"provider":"file","status":"enabled"}`, router)
	}
	name, ok := strings.CutPrefix(path, "/api/http/services/")
	if !ok {
		return http.StatusNotFound, "404 page not found\n"
	}
	key, ok := strings.CutSuffix(name, "@file")
	if !ok {
		return http.StatusNotFound, "404 page not found\n"
	}
	servers, found := h.routes(key)
	if !found {
		return http.StatusNotFound, `{"message":"service not found"}`
	}
	type server struct {
		URL string `json:"url"`
	}
	var svc struct {
		LoadBalancer struct {
			Servers []server `json:"servers"`
		} `json:"loadBalancer"`
		Status   string `json:"status"`
		Name     string `json:"name"`
		Provider string `json:"provider"`
	}
	for _, u := range servers {
		svc.LoadBalancer.Servers = append(svc.LoadBalancer.Servers, server{u})
	}
	svc.Status, svc.Name, svc.Provider = "enabled", name, "file"
	b, _ := json.Marshal(svc)
	return http.StatusOK, string(b)
}

// hasRouter reports whether a route file defines router key.
func (h *Host) hasRouter(key string) bool {
	files, _ := filepath.Glob(filepath.Join(h.dir, ".mrsk", "traefik", "dynamic", "*.yml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var cfg struct {
			HTTP struct {
				Routers map[string]any `yaml:"routers"`
			} `yaml:"http"`
		}
		if yaml.Unmarshal(b, &cfg) == nil {
			if _, ok := cfg.HTTP.Routers[key]; ok {
				return true
			}
		}
	}
	return false
}

// routes reads every route file and returns the servers of service key.
func (h *Host) routes(key string) ([]string, bool) {
	files, _ := filepath.Glob(filepath.Join(h.dir, ".mrsk", "traefik", "dynamic", "*.yml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		services, err := dynamic.ServiceServers(b)
		if err != nil {
			continue // Traefik skips a file it cannot parse
		}
		if urls, ok := services[key]; ok {
			return urls, true
		}
	}
	return nil, false
}
