package container

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mrsk-go/mrsk/config"
)

func TestParseInspect(t *testing.T) {
	for _, tc := range []struct{ out, id, ip string }{
		{"abc 172.18.0.3\n", "abc", "172.18.0.3"},
		{"abc \n", "abc", ""},
		// Earlier lines are other commands' output in the same script.
		{"started\nabc 10.0.0.2", "abc", "10.0.0.2"},
		{"", "", ""},
	} {
		if id, ip := ParseInspect(tc.out); id != tc.id || ip != tc.ip {
			t.Errorf("ParseInspect(%q) = %q, %q; want %q, %q", tc.out, id, ip, tc.id, tc.ip)
		}
	}
}

func TestPsParse(t *testing.T) {
	f := Filter{Service: "hey", Role: "web", Version: "v2"}
	want := "docker ps --all --filter label=service=hey --filter label=destination= --filter label=role=web --filter label=version=v2 --format '" + Docker.PsFormat() + "' --no-trunc"
	if got := Docker.Ps(f, true); got != want {
		t.Errorf("Ps = %s\nwant %s", got, want)
	}
	out := "id1|hey-web-v2|running|v2|web|reg/hey:v2|2026-11-26 12:00:00 +0000 UTC\nnot a line\n"
	got := ParsePs(out)
	if len(got) != 1 || got[0] != (PsEntry{ID: "id1", Name: "hey-web-v2", State: "running", Version: "v2", Role: "web", Image: "reg/hey:v2", Created: "2026-11-26 12:00:00 +0000 UTC"}) {
		t.Errorf("ParsePs = %+v", got)
	}
	prev, id, ip := ParseRun(out + PsEnd + "\nnew 172.18.0.9\n")
	if len(prev) != 1 || id != "new" || ip != "172.18.0.9" {
		t.Errorf("ParseRun = %+v, %q, %q", prev, id, ip)
	}
}

func TestLogin(t *testing.T) {
	line, display := Docker.Login("reg.example", "it's me")
	if line != `docker login reg.example -u 'it'\''s me' --password-stdin` || display != "docker login reg.example -u [REDACTED] --password-stdin" {
		t.Errorf("Login = %s / %s", line, display)
	}
	if line, _ := Docker.Login("", "u"); line != "docker login -u u --password-stdin" {
		t.Errorf("Login to Docker Hub = %s", line)
	}
}

func TestAppArgs(t *testing.T) {
	base := App{Version: "v1", Service: "hey", Role: "web", Destination: "prod", Image: "reg/hey:v1",
		Labels: map[string]string{"a": "1", "role": "top"}, RoleLabels: map[string]string{"a": "2"},
		Env: map[string]string{"B": "2", "A": "1"}, Volumes: []string{"/d:/d"}, Options: map[string]any{"memory": "512m"}}
	named := base
	named.Name, named.EnvFile = "hey-web-prod-v1", ".mrsk/env/roles/hey-web-prod.env"
	for _, tc := range []struct {
		app  App
		want string
	}{
		{named, "--network mrsk -e MRSK_CONTAINER_NAME=hey-web-prod-v1 -e KAMAL_CONTAINER_NAME=hey-web-prod-v1 -e MRSK_VERSION=v1 -e KAMAL_VERSION=v1 -e A=1 -e B=2 --env-file .mrsk/env/roles/hey-web-prod.env " +
			"--log-opt max-size=10m --label a=2 --label destination=prod --label role=top --label service=hey --label version=v1 --volume /d:/d --memory 512m reg/hey:v1"},
		// A one-off container has no labels: ps and prune never see it.
		{base, "--network mrsk -e MRSK_VERSION=v1 -e KAMAL_VERSION=v1 -e A=1 -e B=2 --log-opt max-size=10m --volume /d:/d --memory 512m reg/hey:v1"},
	} {
		if got := strings.Join(tc.app.Args(), " "); got != tc.want {
			t.Errorf("Args(%q) =\n%s\nwant\n%s", tc.app.Name, got, tc.want)
		}
	}
}

func TestLoggingArgs(t *testing.T) {
	for _, tc := range []struct {
		l    config.Logging
		want string
	}{
		{config.Logging{}, "--log-opt max-size=10m"},
		{config.Logging{Driver: "journald"}, "--log-driver journald"},
		{config.Logging{Options: map[string]string{"max-size": "1m", "max-file": "3"}}, "--log-opt max-file=3 --log-opt max-size=1m"},
	} {
		if got := strings.Join(LoggingArgs(tc.l), " "); got != tc.want {
			t.Errorf("LoggingArgs(%+v) = %q, want %q", tc.l, got, tc.want)
		}
	}
}

func TestOptionArgs(t *testing.T) {
	got := strings.Join(OptionArgs(map[string]any{"init": true, "privileged": false, "tmpfs": nil, "cap-add": []any{"NET_ADMIN", "SYS_TIME"}, "cpus": 2}), " ")
	if want := "--cap-add NET_ADMIN --cap-add SYS_TIME --cpus 2 --init --tmpfs"; got != want {
		t.Errorf("OptionArgs = %q, want %q", got, want)
	}
}

func TestEnvFile(t *testing.T) {
	env := config.Env{Secret: map[string]config.Secret{"B": config.NewSecret("two"), "A": config.NewSecret("o=ne")}}
	got, err := EnvFile(env)
	if err != nil || string(got) != "A=o=ne\nB=two\n" {
		t.Errorf("EnvFile = %q, %v", got, err)
	}
	env.Secret["C"] = config.NewSecret("line\nbreak")
	if _, err := EnvFile(env); err == nil || !strings.Contains(err.Error(), "env.secret C") {
		t.Errorf("EnvFile with a line break: %v", err)
	}
}

func TestBuildLine(t *testing.T) {
	b := Build{Image: "reg/app:v1", Service: "app", Dockerfile: "Dockerfile", Context: ".", Repository: "reg/app",
		Args: map[string]string{"Z": "1", "A": "x y"}, Secrets: []string{"GITHUB_TOKEN"}, Cache: map[string]any{"type": "gha"}}
	if got, want := b.Line(), "docker build -t reg/app:v1 --label service=app -f Dockerfile --build-arg 'A=x y' --build-arg Z=1 --secret id=GITHUB_TOKEN,env=GITHUB_TOKEN ."; got != want {
		t.Errorf("plain build:\n%s\nwant\n%s", got, want)
	}
	b.Buildx, b.Arch, b.Args, b.Secrets = true, "arm64", nil, nil
	want := "{ docker buildx inspect mrsk-app >/dev/null 2>&1 || docker buildx create --name mrsk-app --driver docker-container >/dev/null; } && " +
		"docker buildx build --builder mrsk-app --push --platform linux/arm64 -t reg/app:v1 --label service=app -f Dockerfile --cache-from type=gha --cache-to type=gha ."
	if got := b.Line(); got != want {
		t.Errorf("buildx build:\n%s\nwant\n%s", got, want)
	}
}

func TestCacheArgs(t *testing.T) {
	for _, tc := range []struct {
		cache map[string]any
		want  string
	}{
		{nil, ""},
		{map[string]any{"type": "gha"}, "--cache-from type=gha --cache-to type=gha"},
		{map[string]any{"type": "registry", "options": "mode=max"}, "--cache-from type=registry,ref=reg/app-build-cache --cache-to type=registry,ref=reg/app-build-cache,mode=max"},
		{map[string]any{"type": "registry", "image": "reg/cache"}, "--cache-from type=registry,ref=reg/cache --cache-to type=registry,ref=reg/cache"},
	} {
		if got := strings.Join(CacheArgs(tc.cache, "reg/app"), " "); got != tc.want {
			t.Errorf("CacheArgs(%v) = %q, want %q", tc.cache, got, tc.want)
		}
	}
}

func TestPruneCandidates(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	line := func(name string, running bool, finishedAgo, createdAgo time.Duration) string {
		return "id-" + name + "|/" + name + "|" + map[bool]string{true: "true", false: "false"}[running] + "|" +
			now.Add(-finishedAgo).Format(time.RFC3339Nano) + "|" + now.Add(-createdAgo).Format(time.RFC3339Nano)
	}
	out := strings.Join([]string{
		line("v5", true, 0, 1*time.Hour),
		line("v4", false, 1*time.Hour, 2*time.Hour),
		line("v3", false, 80*time.Hour, 90*time.Hour),
		line("v2", false, 90*time.Hour, 100*time.Hour),
		line("v1", false, 100*time.Hour, 110*time.Hour),
	}, "\n")
	for _, tc := range []struct {
		retain    int
		olderThan time.Duration
		want      string
	}{
		{5, 0, ""},
		{1, 0, "v3 v2 v1"},
		{2, 0, "v2 v1"},
		{0, 72 * time.Hour, "v3 v2 v1"}, // v4 stopped an hour ago stays
		{2, 72 * time.Hour, "v2 v1"},
		{1, 95 * time.Hour, "v1"},
	} {
		got := strings.Join(PruneCandidates(out, tc.retain, tc.olderThan, now), " ")
		if got != tc.want {
			t.Errorf("retain %d older than %s: removes %q, want %q", tc.retain, tc.olderThan, got, tc.want)
		}
	}
}

func TestPruneList(t *testing.T) {
	f := Filter{Service: "hey", Destination: "prod"}
	want := "docker image prune --all --force --filter label=service=hey >/dev/null; " +
		`ids=$(docker ps --all --quiet --filter label=service=hey --filter label=destination=prod); [ -z "$ids" ] || docker inspect -f '` + pruneFormat + `' $ids`
	if got := Docker.PruneList(f, true); got != want {
		t.Errorf("PruneList =\n%s\nwant\n%s", got, want)
	}
	if got := Docker.PruneRemove([]string{"a", "b"}); got != "docker rm a b >/dev/null" {
		t.Errorf("PruneRemove = %s", got)
	}
	if !slices.Equal(Filter{Service: "s"}.Args(), []string{"--filter", "label=service=s", "--filter", "label=destination="}) {
		t.Errorf("Filter.Args without a destination = %q", Filter{Service: "s"}.Args())
	}
}
