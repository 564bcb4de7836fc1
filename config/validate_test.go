package config

import (
	"strings"
	"testing"
)

// TestChecksAccept lists values the checks must keep accepting: the forms
// Docker, OpenSSH and Kamal configs use. (TestErrors has the rejections.)
func TestChecksAccept(t *testing.T) {
	tests := []struct {
		check func(string) string
		vals  []string
	}{
		{checkRepository, []string{"app", "me/app", "ghcr.io/me/app", "localhost:5000/app", "10.77.0.1:5000/hello", "registry.example.com/a/b/c", "my_app", "my-app", "a__b", "[::1]:5000/app"}},
		{checkImageRef, []string{"mysql", "mysql:8.0", "redis:7", "traefik:v3.6", "10.77.0.1:5000/traefik:v3.6.12", "me/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "me/db:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{checkRegistryServer, []string{"ghcr.io", "registry.example.com:5000", "10.77.0.1:5000", "localhost", "registry.digitalocean.com/me", "[::1]:5000"}},
		{checkHost, []string{"a", "10.0.0.1", "10.0.0.1:2222", "web-1.example.com", "deploy@web1", "app.user@10.0.0.1:22", "[::1]", "[::1]:22", "::1", "fe80::1", "ssh://root@h1", "my_alias", "h1."}},
		{checkPublish, []string{"3306", "4000:3000", "127.0.0.1:3306:3306", "127.0.0.1::3306", "53:53/udp", "8080:80/tcp", "[::1]:3306:3306"}},
		{checkVolume, []string{"/data", "data:/var/lib/mysql", "/data/storage:/rails/storage", "/a:/b:ro", "/a:/b:ro,Z", "./x:/x", "~/x:/x"}},
		{checkLabelKey, []string{"traefik.http.routers.hey.rule", "com.example/x", "a"}},
		{checkHealthPath, []string{"/", "/up", "/health?full=1", "/a/b.json"}},
		{checkWords, []string{"", "bin/jobs", `sh -c 'echo "hi"'`, `a "b \" c"`, `a\'b`, `'it'"'"'s'`}},
	}
	for _, tt := range tests {
		for _, v := range tt.vals {
			if msg := tt.check(v); msg != "" {
				t.Errorf("%q rejected: %s", v, msg)
			}
		}
	}
	for _, v := range []string{"v1", "1.2.3", "abc_DEF-1.2", "a", "0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567_uncommitted_1a2b3c4d"} {
		if !TagRE.MatchString(v) {
			t.Errorf("tag %q rejected", v)
		}
	}
	for _, v := range []string{"", "a;b", "-x", ".x", "a b", "a/b", "a:b", strings.Repeat("a", 129)} {
		if TagRE.MatchString(v) {
			t.Errorf("tag %q accepted", v)
		}
	}
}
