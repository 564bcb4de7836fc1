package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/config"
)

// A host's env file and -e flags carry env.tags of its tags only: the
// tagged secret goes to the tagged host's env file, never to another's.
func TestAppRunEnvTags(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	yml := `service: hey
image: app/hey
servers:
  - 10.0.0.1
  - 10.0.0.2: replica
env:
  clear: {MYSQL_USER: app}
  tags:
    replica:
      clear: {MYSQL_USER: readonly}
      secret: [REPLICA_PASSWORD]
`
	if err := os.WriteFile(filepath.Join(dir, "config", "deploy.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: filepath.Join(dir, "config", "deploy.yml"), LookupEnv: func(n string) (string, bool) {
		if n == "REPLICA_PASSWORD" {
			return "r3plica", true
		}
		return "", false
	}})
	if err != nil {
		t.Fatal(err)
	}
	rt := NewRuntime(cfg, nil, nil, Options{})
	role := cfg.Role("web")

	plain, err := rt.appRun("10.0.0.1", role, "v1", "hey-web-v1")
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(plain.args, " ")
	if !strings.Contains(args, "-e MYSQL_USER=app ") || strings.Contains(args, "--env-file") || len(plain.stdin) != 0 {
		t.Errorf("untagged host: %s (stdin %q)", args, plain.stdin)
	}

	tagged, err := rt.appRun("10.0.0.2", role, "v1", "hey-web-v1")
	if err != nil {
		t.Fatal(err)
	}
	args = strings.Join(tagged.args, " ")
	if !strings.Contains(args, "-e MYSQL_USER=readonly ") || !strings.Contains(args, "--env-file .mrsk/env/roles/hey-web.env") {
		t.Errorf("tagged host: %s", args)
	}
	if string(tagged.stdin) != "REPLICA_PASSWORD=r3plica\n" {
		t.Errorf("tagged host's env file: %q", tagged.stdin)
	}
	if strings.Contains(args, "r3plica") {
		t.Errorf("the secret is in the command line: %s", args)
	}
}
