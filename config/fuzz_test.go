package config

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzLoad(f *testing.F) {
	f.Add(fullDeploy)
	f.Add("service: app\nimage: me/app\nservers: [a, b]\n")
	f.Add("service: app\nimage: ${IMAGE}\nservers:\n  web:\n    hosts: [a]\n    env:\n      secret: [S]\n  jobs: [b]\naccessories:\n  db: {image: x, roles: [jobs]}\n")
	f.Add("x: &a [*a]\n")
	f.Add("servers: {<<: [{web: [a]}]}\nboot: {limit: 50%}\n")
	f.Add("")
	f.Add("- [\n")

	dir := f.TempDir()
	cfgDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(cfgDir, "deploy.yml")
	env := envOf(map[string]string{"IMAGE": "img", "S": "secret"})
	f.Fuzz(func(t *testing.T, data string) {
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(LoadOptions{File: file, LookupEnv: env})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			_ = err.Error()
			return
		}
		if len(c.AllHosts()) == 0 || c.PrimaryHost() == "" || c.Role(c.PrimaryRole) == nil {
			t.Fatalf("loaded config without hosts or primary role: %+v", c)
		}
		_ = c.HTTPRoles()
		_ = c.BootBatch(len(c.AllHosts()))
		if _, err := c.YAML(); err != nil {
			t.Fatalf("YAML: %v", err)
		}
	})
}
