package builtins

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
)

// answering records commands and answers the arch questions.
type answering struct {
	recorder
	local, remote string
}

func (a *answering) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	a.recorder.Run(ctx, c)
	switch {
	case strings.HasPrefix(c.Line, "docker version"):
		return executor.Result{Stdout: a.local + "\n"}, nil
	case c.Line == "uname -m":
		return executor.Result{Stdout: a.remote + "\n"}, nil
	}
	return executor.Result{}, nil
}

// TestArchWarning: a single-arch build on this machine says, before it
// builds, when the primary host runs another arch (an arm64 Mac deploying
// to amd64 hosts), and is silent when they match or a remote builder builds.
func TestArchWarning(t *testing.T) {
	for _, tt := range []struct {
		name, builder, local, remote string
		warn                         bool
	}{
		{name: "mac to amd64", builder: "multiarch: false", local: "arm64", remote: "x86_64", warn: true},
		{name: "same arch", builder: "multiarch: false", local: "amd64", remote: "x86_64"},
		{name: "arm host", builder: "multiarch: false", local: "amd64", remote: "aarch64", warn: true},
		{name: "remote builder", builder: "remote: {arch: amd64, host: 'tcp://10.0.0.9:2375'}", local: "arm64", remote: "x86_64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "config"), 0o755)
			os.WriteFile(filepath.Join(dir, "config", "deploy.yml"), []byte("service: app\nimage: me/app\nservers: [h1]\nbuilder: {"+tt.builder+"}\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
			cfg, err := config.Load(config.LoadOptions{File: filepath.Join(dir, "config", "deploy.yml"), LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			ex := &answering{local: tt.local, remote: tt.remote}
			var out bytes.Buffer
			rt := NewRuntime(cfg, ex, output.New(&out, false), Options{Version: "v1", ProjectRoot: dir})
			thread := &starlark.Thread{Name: "test"}
			thread.SetLocal(LocalRuntime, rt)
			if _, err := starlark.Call(thread, starlark.NewBuiltin("docker_build", bind(bDockerBuild)), nil, nil); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, "warning: building for") != tt.warn {
				t.Errorf("warning %v, want %v:\n%s", !tt.warn, tt.warn, got)
			}
			if tt.warn && !strings.Contains(got, "builder.remote {arch: "+goArch(tt.remote)) {
				t.Errorf("the warning does not say how to fix it:\n%s", got)
			}
			// The warning comes before the build.
			last := ex.cmds[len(ex.cmds)-1]
			if !strings.Contains(last.Line, "docker build") {
				t.Errorf("last command %q, want the build", last.Line)
			}
		})
	}
}
