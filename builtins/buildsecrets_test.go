package builtins

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
)

// recorder is an Executor that records commands and runs nothing.
type recorder struct {
	mu   sync.Mutex
	cmds []executor.Command
}

func (r *recorder) Run(_ context.Context, c executor.Command) (executor.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, c)
	return executor.Result{}, nil
}
func (r *recorder) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, executor.ErrDryRun
}
func (r *recorder) DryRun() bool { return false }
func (r *recorder) Close() error { return nil }

// TestBuildSecrets checks that builder.secrets reach the build process's
// environment whether they are set in the environment or only in .env
// (the environment winning), and never its command line or output; and
// that an unset one stops build_check, before anything runs.
func TestBuildSecrets(t *testing.T) {
	tests := []struct {
		name    string
		dotenv  string
		env     map[string]string
		wantEnv []string // NAME=VALUE in the build's environment
		wantErr string
	}{
		{name: "only in .env", dotenv: "GITHUB_TOKEN=dotenv-token\nNPM_TOKEN='npm dotenv'\n",
			wantEnv: []string{"GITHUB_TOKEN=dotenv-token", "NPM_TOKEN=npm dotenv", "DOCKER_BUILDKIT=1"}},
		{name: "environment wins", dotenv: "GITHUB_TOKEN=dotenv-token\nNPM_TOKEN=npm-dotenv\n", env: map[string]string{"GITHUB_TOKEN": "env-token"},
			wantEnv: []string{"GITHUB_TOKEN=env-token", "NPM_TOKEN=npm-dotenv"}},
		{name: "only in environment", env: map[string]string{"GITHUB_TOKEN": "env-token", "NPM_TOKEN": "npm-env"},
			wantEnv: []string{"GITHUB_TOKEN=env-token", "NPM_TOKEN=npm-env"}},
		{name: "unset", dotenv: "GITHUB_TOKEN=dotenv-token\n",
			wantErr: `builder.secrets in ` + "CONFIG" + `: "NPM_TOKEN" not set (in the environment or .env)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, data string) {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("config/deploy.yml", "service: app\nimage: me/app\nservers: [h1]\nbuilder:\n  multiarch: false\n  secrets: [GITHUB_TOKEN, NPM_TOKEN]\n")
			write("Dockerfile", "FROM scratch\n")
			if tt.dotenv != "" {
				write(".env", tt.dotenv)
			}
			file := filepath.Join(dir, "config", "deploy.yml")
			cfg, err := config.Load(config.LoadOptions{File: file, LookupEnv: func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			}})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			var out bytes.Buffer
			rt := NewRuntime(cfg, rec, output.New(&out, false), Options{Version: "v1", ProjectRoot: dir})
			thread := &starlark.Thread{Name: "test"}
			thread.SetLocal(LocalRuntime, rt)

			_, checkErr := starlark.Call(thread, starlark.NewBuiltin("build_check", bind(bBuildCheck)), nil, nil)
			_, buildErr := starlark.Call(thread, starlark.NewBuiltin("docker_build", bind(bDockerBuild)), nil, nil)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "CONFIG", file)
				for _, err := range []error{checkErr, buildErr} {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("error %v, want %q", err, want)
					}
				}
				if len(rec.cmds) != 0 {
					t.Errorf("ran %d commands with a secret unset", len(rec.cmds))
				}
				return
			}
			if checkErr != nil || buildErr != nil {
				t.Fatalf("build_check: %v; docker_build: %v", checkErr, buildErr)
			}
			// Besides the build: the arch check's look at the local
			// engine and the primary host.
			var builds []executor.Command
			for _, c := range rec.cmds {
				if !c.Query && c.Host == "" {
					builds = append(builds, c)
				}
			}
			if len(builds) != 1 {
				t.Fatalf("%d commands, want 1 (the build)", len(builds))
			}
			c := builds[0]
			if want := "--secret id=GITHUB_TOKEN,env=GITHUB_TOKEN --secret id=NPM_TOKEN,env=NPM_TOKEN"; !strings.Contains(c.Line, want) {
				t.Errorf("build line %q lacks %q", c.Line, want)
			}
			for _, kv := range tt.wantEnv {
				found := false
				for _, e := range c.Env {
					found = found || e == kv
				}
				if !found {
					t.Errorf("build env %q lacks %q", c.Env, kv)
				}
				if _, v, _ := strings.Cut(kv, "="); v != "1" {
					for _, leak := range []string{c.Line, c.Shown(), out.String()} {
						if strings.Contains(leak, v) {
							t.Errorf("secret value %q printed or in argv: %q", v, leak)
						}
					}
				}
			}
		})
	}
}
