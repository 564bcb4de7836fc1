package config

import (
	"strings"
	"testing"
)

// TestRuntime: the runtime of each host from the top level, a role, an
// accessory or a destination file; one runtime per host.
func TestRuntime(t *testing.T) {
	base := "service: app\nimage: me/app\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		dest  string
		want  map[string]string // host -> runtime
		err   string
	}{
		{name: "default docker", files: map[string]string{"config/deploy.yml": base + "servers: [10.0.0.1]\n"},
			want: map[string]string{"10.0.0.1": "docker"}},
		{name: "top level", files: map[string]string{"config/deploy.yml": base + "runtime: podman\nservers: [10.0.0.1]\naccessories:\n  db: {image: mysql:8, host: 10.0.0.2}\n"},
			want: map[string]string{"10.0.0.1": "podman", "10.0.0.2": "podman"}},
		{name: "per role and accessory", files: map[string]string{"config/deploy.yml": base + "servers:\n  web: [10.0.0.1]\n  jobs: {hosts: [10.0.0.2], runtime: podman}\naccessories:\n  db: {image: mysql:8, host: 10.0.0.3, runtime: podman}\n"},
			want: map[string]string{"10.0.0.1": "docker", "10.0.0.2": "podman", "10.0.0.3": "podman"}},
		{name: "destination file", dest: "staging", files: map[string]string{
			"config/deploy.yml":         base + "servers: [10.0.0.1]\n",
			"config/deploy.staging.yml": "runtime: podman\n"},
			want: map[string]string{"10.0.0.1": "podman"}},
		{name: "accessory over a role's host", files: map[string]string{"config/deploy.yml": base + "runtime: podman\nservers: [10.0.0.1]\naccessories:\n  db: {image: mysql:8, host: 10.0.0.1, runtime: docker}\n"},
			err: "config/deploy.yml:6:49: accessories.db.runtime: accessory db runs docker on 10.0.0.1, where role web runs podman: one runtime per host"},
		{name: "two roles on a host", files: map[string]string{"config/deploy.yml": base + "servers:\n  web: [10.0.0.1]\n  jobs: {hosts: [10.0.0.1], runtime: podman}\n"},
			err: "config/deploy.yml:5:38: servers.jobs.runtime: role jobs runs podman on 10.0.0.1, where role web runs docker"},
		{name: "bad value", files: map[string]string{"config/deploy.yml": base + "runtime: lxc\nservers: [10.0.0.1]\n"},
			err: "config/deploy.yml:3:10: runtime: must be docker or podman"},
		{name: "bad builder runtime", files: map[string]string{"config/deploy.yml": base + "servers: [10.0.0.1]\nbuilder: {runtime: buildah}\n"},
			err: "config/deploy.yml:4:20: builder.runtime: must be docker or podman"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := loadProject(t, tc.files, tc.dest, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for h, want := range tc.want {
				if got := c.HostRuntime(h); got != want {
					t.Errorf("HostRuntime(%s) = %s, want %s", h, got, want)
				}
			}
		})
	}
}
