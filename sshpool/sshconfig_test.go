package sshpool

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSSHConfigLookup(t *testing.T) {
	const cfg = `
# global settings come first
IdentityFile ~/.ssh/global_key

Host web1 web2
    HostName 10.0.0.1
    User deploy
    Port 2222

Host web*
    HostName 10.0.0.99
    User other
    IdentityFile ~/.ssh/web_key
    ProxyJump bastion

Host db? !db9
    HostName=10.0.1.1
    Port = 2200

Host "quoted host"
    User quoted

Host bastion
    HostName bastion.example.com # trailing comment
    ProxyJump none

Match exec "test -f /x"
    User never

Match all
    User everyone

Host *
    User fallback
    Port 22
`
	c, err := parseSSHConfig(strings.NewReader(cfg), "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		alias string
		want  hostConfig
	}{
		{"web1", hostConfig{HostName: "10.0.0.1", User: "deploy", Port: 2222,
			IdentityFiles: []string{"~/.ssh/global_key", "~/.ssh/web_key"}, ProxyJump: "bastion"}},
		{"WEB2", hostConfig{HostName: "10.0.0.1", User: "deploy", Port: 2222,
			IdentityFiles: []string{"~/.ssh/global_key", "~/.ssh/web_key"}, ProxyJump: "bastion"}},
		{"web3", hostConfig{HostName: "10.0.0.99", User: "other", Port: 22,
			IdentityFiles: []string{"~/.ssh/global_key", "~/.ssh/web_key"}, ProxyJump: "bastion"}},
		{"db1", hostConfig{HostName: "10.0.1.1", User: "everyone", Port: 2200,
			IdentityFiles: []string{"~/.ssh/global_key"}}},
		{"db9", hostConfig{User: "everyone", Port: 22, IdentityFiles: []string{"~/.ssh/global_key"}}},
		{"db10", hostConfig{User: "everyone", Port: 22, IdentityFiles: []string{"~/.ssh/global_key"}}},
		{"quoted host", hostConfig{User: "quoted", Port: 22, IdentityFiles: []string{"~/.ssh/global_key"}}},
		{"bastion", hostConfig{HostName: "bastion.example.com", User: "everyone", Port: 22,
			IdentityFiles: []string{"~/.ssh/global_key"}, ProxyJump: "none"}},
		{"x.example.com", hostConfig{User: "everyone", Port: 22, IdentityFiles: []string{"~/.ssh/global_key"}}},
	}
	for _, tt := range tests {
		got := c.lookup(tt.alias)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("lookup(%q):\n got %+v\nwant %+v", tt.alias, got, tt.want)
		}
	}
}

func TestSSHConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{"Host a\n  Port http\n", `line 2: bad Port "http"`},
		{"Host a\n  Port 70000\n", `line 2: bad Port "70000"`},
		{"Host\n", "line 1: Host needs at least one pattern"},
		{"Host \"unterminated\n", "line 1: unterminated quote"},
		{"Host a\n  User\n", "line 2: user needs a value"},
	}
	for _, tt := range tests {
		_, err := parseSSHConfig(strings.NewReader(tt.cfg), "cfg")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.cfg, err, tt.want)
		}
	}
	// Unknown keywords are ignored, not errors.
	if _, err := parseSSHConfig(strings.NewReader("ForwardAgent yes\nHost a\n  ServerAliveInterval 5\n"), "cfg"); err != nil {
		t.Errorf("unknown keyword: %v", err)
	}
}

func TestSplitConfigLine(t *testing.T) {
	tests := []struct {
		line string
		key  string
		args []string
	}{
		{"", "", nil},
		{"   # comment", "", nil},
		{"HostName 1.2.3.4", "hostname", []string{"1.2.3.4"}},
		{"\tUser=me", "user", []string{"me"}},
		{"User = me", "user", []string{"me"}},
		{"Host a b  c", "host", []string{"a", "b", "c"}},
		{`IdentityFile "~/my keys/id" # why`, "identityfile", []string{"~/my keys/id"}},
		{"Host", "host", nil},
	}
	for _, tt := range tests {
		key, args, err := splitConfigLine(tt.line)
		if err != nil || key != tt.key || !reflect.DeepEqual(args, tt.args) {
			t.Errorf("splitConfigLine(%q) = %q %q %v, want %q %q", tt.line, key, args, err, tt.key, tt.args)
		}
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"web?", "web1", true},
		{"web?", "web12", false},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"10.0.*.1", "10.0.55.1", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := wildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
	if matchHostPatterns([]string{"*", "!bad"}, "bad") {
		t.Error("negation ignored")
	}
	if matchHostPatterns([]string{"!bad"}, "good") {
		t.Error("a lone negated pattern must not match")
	}
}

func TestSSHConfigInclude(t *testing.T) {
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	os.MkdirAll(filepath.Join(sshDir, "conf.d"), 0o700)
	os.WriteFile(filepath.Join(sshDir, "conf.d", "a.conf"), []byte("User from-a\nHost other\n  User other-user\n"), 0o600)
	os.WriteFile(filepath.Join(sshDir, "conf.d", "b.conf"), []byte("Host inc\n  HostName 10.9.9.9\n"), 0o600)
	os.WriteFile(filepath.Join(sshDir, "config"), []byte("Include conf.d/b.conf\nHost web\n  Include conf.d/a.conf\nHost *\n  User last\n"), 0o600)

	c, err := loadSSHConfig(filepath.Join(sshDir, "config"), home)
	if err != nil {
		t.Fatal(err)
	}
	// a.conf is only read for "web"; its "Host other" block applies only
	// when both web and other match, i.e. never here.
	if got := c.lookup("web").User; got != "from-a" {
		t.Errorf("web user %q", got)
	}
	if got := c.lookup("other").User; got != "last" {
		t.Errorf("other user %q", got)
	}
	if got := c.lookup("inc").HostName; got != "10.9.9.9" {
		t.Errorf("inc hostname %q", got)
	}

	// A missing config file is an empty config.
	c, err = loadSSHConfig(filepath.Join(home, "missing"), home)
	if err != nil || c.lookup("x").User != "" {
		t.Errorf("missing file: %v", err)
	}
}

func TestExpandTokens(t *testing.T) {
	tk := tokens{home: "/home/me", host: "10.0.0.1", user: "root", localUser: "me", alias: "web", port: 22}
	tests := map[string]string{
		"~/.ssh/id":           "/home/me/.ssh/id",
		"%d/.ssh/%r@%h":       "/home/me/.ssh/root@10.0.0.1",
		"/keys/%n-%p-%u-%%-%": "/keys/web-22-me-%-%",
		"/abs/path":           "/abs/path",
	}
	for in, want := range tests {
		if got := expandTokens(in, tk); got != want {
			t.Errorf("expandTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseHostSpec(t *testing.T) {
	tests := []struct {
		in   string
		want hostSpec
		err  bool
	}{
		{"10.0.0.1", hostSpec{host: "10.0.0.1"}, false},
		{"10.0.0.1:2222", hostSpec{host: "10.0.0.1", port: 2222}, false},
		{"deploy@web", hostSpec{user: "deploy", host: "web"}, false},
		{"deploy@web:2200", hostSpec{user: "deploy", host: "web", port: 2200}, false},
		{"ssh://deploy@web:2200", hostSpec{user: "deploy", host: "web", port: 2200}, false},
		{"[::1]:22", hostSpec{host: "::1", port: 22}, false},
		{"u@[fe80::1]", hostSpec{user: "u", host: "fe80::1"}, false},
		{"fe80::1", hostSpec{host: "fe80::1"}, false},
		{"web:0", hostSpec{}, true},
		{"web:http", hostSpec{}, true},
		{"@web", hostSpec{}, true},
		{"u@", hostSpec{}, true},
		{"", hostSpec{}, true},
	}
	for _, tt := range tests {
		got, err := parseHostSpec(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("parseHostSpec(%q) = %+v, %v; want %+v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestResolvePrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfgFile := filepath.Join(home, "config")
	os.WriteFile(cfgFile, []byte(`
Host web
  HostName 10.0.0.5
  User cfguser
  Port 2200
  IdentityFile %d/.ssh/%h.key
Host direct
  ProxyJump none
Host chained
  ProxyJump j1,j2:2022
Host j1
  User j1user
  ProxyJump loop1
Host loop1
  ProxyJump loop2
Host loop2
  ProxyJump loop1
Host selfloop
  ProxyJump selfloop
`), 0o600)
	p := New(Options{User: "optuser", Port: 2000, Proxy: "bastion", ConfigFile: cfgFile, ConnectTimeout: time.Second})
	defer p.Close()

	ep, err := p.resolve("web", true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ep.label != "cfguser@10.0.0.5:2200" || ep.jump == nil || ep.jump.label != "root@bastion:22" {
		t.Errorf("web: %s via %v", ep.label, ep.jump)
	}
	if want := []string{filepath.Join(home, ".ssh", "10.0.0.5.key")}; !reflect.DeepEqual(ep.identityFiles, want) {
		t.Errorf("identity files %q, want %q", ep.identityFiles, want)
	}
	ep, _ = p.resolve("me@web:22", true, nil, 0)
	if ep.label != "me@10.0.0.5:22" {
		t.Errorf("explicit: %s", ep.label)
	}
	ep, _ = p.resolve("plain", true, nil, 0)
	if ep.label != "optuser@plain:2000" || ep.key != "optuser@plain:2000 via root@bastion:22" {
		t.Errorf("options: %s / %s", ep.label, ep.key)
	}
	ep, _ = p.resolve("direct", true, nil, 0)
	if ep.jump != nil {
		t.Errorf("ProxyJump none ignored: %s", ep.key)
	}
	// "j1,j2:2022" reaches j2 through j1; j1 is first in the chain, so its
	// own ProxyJump applies, and that one loops.
	_, err = p.resolve("chained", true, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "ProxyJump chain deeper") {
		t.Errorf("loop through j1's config not detected: %v", err)
	}
	_, err = p.resolve("selfloop", true, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "ProxyJump chain deeper") {
		t.Errorf("self loop: %v", err)
	}
}

func TestResolveJumpChain(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	p := New(Options{Proxy: "a@j1,j2:2022", ConfigFile: "none"})
	defer p.Close()
	ep, err := p.resolve("target", true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "root@target:22 via root@j2:2022 via a@j1:22"
	if ep.key != want {
		t.Errorf("key %q, want %q", ep.key, want)
	}
}
