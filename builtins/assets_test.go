package builtins

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/output"
)

// TestAssetsCleanup runs prune's asset clean-up in sh against a stand-in
// docker: the directories a remaining container mounts (and their
// extracted twins) stay, the others of the role go, other services' stay.
func TestAssetsCleanup(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"volumes/hey-web-v1", "volumes/hey-web-v2", "extracted/hey-web-v1", "extracted/hey-web-v2", "volumes/other-web-v1"} {
		if err := os.MkdirAll(filepath.Join(dir, ".mrsk/assets", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	docker := "#!/bin/sh\ncase \"$1\" in ps) echo c2;; inspect) echo \"" + dir + "/.mrsk/assets/volumes/hey-web-v2 \";; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Service: "hey", AssetPath: "/assets", Roles: []*config.Role{{Name: "web", Traefik: true}, {Name: "jobs"}}}
	rt := NewRuntime(cfg, &recorder{}, output.New(&bytes.Buffer{}, false), Options{})
	cmd := exec.Command("sh", "-c", rt.assetsCleanup(container.Docker))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for d, want := range map[string]bool{"volumes/hey-web-v1": false, "extracted/hey-web-v1": false, "volumes/hey-web-v2": true, "extracted/hey-web-v2": true, "volumes/other-web-v1": true} {
		_, err := os.Stat(filepath.Join(dir, ".mrsk/assets", d))
		if (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", d, err == nil, want)
		}
	}
}
