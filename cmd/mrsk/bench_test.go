package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkDryRunDeploy200 plans a deploy to 200 hosts (two roles): the
// cost of loading the config and the scripts and running every step of the
// flow, without the network.
func BenchmarkDryRunDeploy200(b *testing.B) {
	dir := b.TempDir()
	var web, workers []string
	for i := 0; i < 200; i++ {
		h := fmt.Sprintf("      - 10.1.%d.%d", i/250, i%250+1)
		if i < 150 {
			web = append(web, h)
		} else {
			workers = append(workers, h)
		}
	}
	cfg := fmt.Sprintf(`service: hey
image: app/hey
servers:
  web:
    hosts:
%s
  workers:
    hosts:
%s
    cmd: bin/jobs
registry:
  server: reg.local:5000
  username: bob
  password: secret
env:
  secret: [SECRET_KEY]
boot:
  limit: 25%%
`, strings.Join(web, "\n"), strings.Join(workers, "\n"))
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "deploy.yml"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Chdir(dir)
	env := func(k string) (string, bool) {
		if k == "SECRET_KEY" {
			return "s3cr3t", true
		}
		return os.LookupEnv(k)
	}
	b.ReportAllocs()
	for b.Loop() {
		if code := run([]string{"deploy", "--dry-run", "--version", "v1"}, io.Discard, io.Discard, env); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
