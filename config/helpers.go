package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AllHosts returns every role host, in file order, without duplicates.
func (c *Config) AllHosts() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.Roles {
		for _, h := range r.Hosts {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// Runtimes a host may run.
const (
	Docker = "docker"
	Podman = "podman"
)

// HostRuntime is the container runtime of host: docker unless the config
// (top level, its role or its accessory) says podman.
func (c *Config) HostRuntime(host string) string {
	if r := c.HostRuntimes[host]; r != "" {
		return r
	}
	if c.Runtime != "" {
		return c.Runtime
	}
	return Docker
}

// Role returns the role named name, or nil.
func (c *Config) Role(name string) *Role {
	for _, r := range c.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Accessory returns the accessory named name, or nil.
func (c *Config) Accessory(name string) *Accessory {
	for _, a := range c.Accessories {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// PrimaryHost returns the first host of the primary role ("" if none).
func (c *Config) PrimaryHost() string {
	if r := c.Role(c.PrimaryRole); r != nil && len(r.Hosts) > 0 {
		return r.Hosts[0]
	}
	return ""
}

// TLSPrimary is the web host whose Traefik orders the ACME certificate
// (the first host of the first HTTP role); "" without ACME. The others
// answer the challenge by forwarding it there and serve a copy.
func (c *Config) TLSPrimary() string {
	if c.Traefik.TLS == nil || c.Traefik.TLS.ACME == nil {
		return ""
	}
	for _, r := range c.HTTPRoles() {
		if len(r.Hosts) > 0 {
			return r.Hosts[0]
		}
	}
	return ""
}

// HTTPRoles returns the roles that serve HTTP through Traefik, in file order.
func (c *Config) HTTPRoles() []*Role {
	var out []*Role
	for _, r := range c.Roles {
		if r.Traefik {
			out = append(out, r)
		}
	}
	return out
}

// BootBatch returns how many of n hosts boot at once: all of them without a
// limit, min(N, n) for "N", and max(1, n*N/100) for "N%".
func (c *Config) BootBatch(n int) int {
	if n <= 0 {
		return 0
	}
	limit := strings.TrimSpace(c.Boot.Limit)
	if limit == "" {
		return n
	}
	if p, ok := strings.CutSuffix(limit, "%"); ok {
		pct, err := strconv.Atoi(p)
		if err != nil || pct <= 0 {
			return n
		}
		return min(n, max(1, n*min(pct, 100)/100))
	}
	k, err := strconv.Atoi(limit)
	if err != nil || k <= 0 {
		return n
	}
	return min(k, n)
}

// YAML returns the resolved configuration as YAML, for `mrsk config`. Secret
// values print as [REDACTED].
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EnvFor is role's env on host: with the env.tags of host's tags over it,
// in the order the host lists them, as Kamal 1.9 merges them.
func (c *Config) EnvFor(r *Role, host string) Env {
	e := r.Env
	for _, t := range r.Tags[host] {
		e = mergeEnv(e, c.EnvTags[t])
	}
	return e
}

// HooksDir is where hook files are: hooks_path (relative to the project
// root unless absolute); by default .mrsk/hooks, or .kamal/hooks when only
// that exists, so a Kamal project's hooks run as they are.
func (c *Config) HooksDir() string {
	if c.HooksPath != "" {
		if filepath.IsAbs(c.HooksPath) {
			return c.HooksPath
		}
		return filepath.Join(c.Root, c.HooksPath)
	}
	dir := filepath.Join(c.Root, ".mrsk", "hooks")
	if _, err := os.Stat(dir); err != nil {
		if k := filepath.Join(c.Root, ".kamal", "hooks"); dirExists(k) {
			return k
		}
	}
	return dir
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
