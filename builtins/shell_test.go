package builtins

import (
	"strings"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"docker", "docker"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"x;rm -rf /", "'x;rm -rf /'"},
		{"label=service=hey", "label=service=hey"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := join("echo", "a b", "c"); got != "echo 'a b' c" {
		t.Errorf("join = %s", got)
	}
}

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"bin/jobs --queue default", []string{"bin/jobs", "--queue", "default"}, false},
		{`a 'b c' "d \"e\"" f\ g`, []string{"a", "b c", `d "e"`, "f g"}, false},
		{"  ", nil, false},
		{"''", []string{""}, false},
		{"'open", nil, true},
		{`"open`, nil, true},
	} {
		got, err := splitWords(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("splitWords(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitWords(%q) = %q, want %q", tc.in, got, tc.want)
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
		got := strings.Join(pruneCandidates(out, tc.retain, tc.olderThan, now), " ")
		if got != tc.want {
			t.Errorf("retain %d older than %s: removes %q, want %q", tc.retain, tc.olderThan, got, tc.want)
		}
	}
}

func TestRouteYAML(t *testing.T) {
	got := routeYAML("hey-web", "Host(`a.example`) && PathPrefix(`/`)", "http://172.18.0.3:3000")
	for _, want := range []string{
		"    hey-web:\n      rule: \"Host(`a.example`) && PathPrefix(`/`)\"\n",
		"      service: hey-web\n",
		"          - url: \"http://172.18.0.3:3000\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("route file lacks %q:\n%s", want, got)
		}
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
		if got := strings.Join(cacheArgs(tc.cache, "reg/app"), " "); got != tc.want {
			t.Errorf("cacheArgs(%v) = %q, want %q", tc.cache, got, tc.want)
		}
	}
}
