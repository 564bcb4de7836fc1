package sshpool

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestHostKeyPolicy runs StrictHostKeyChecking and UserKnownHostsFile, set
// in ~/.ssh/config, against a real SSH handshake, and checks what OpenSSH
// would do: connect or refuse, and which known_hosts file changes.
func TestHostKeyPolicy(t *testing.T) {
	type state int
	const (
		unknown state = iota // no file records the host
		known                // the file records the host's key
		changed              // the file records another key for the host
	)
	tests := []struct {
		name string
		// config is the body of a "Host 127.0.0.1" block; %s is the home dir.
		config string
		// recorded says where the host is recorded (relative to home) and how.
		recordIn string
		state    state
		// wantErr is a substring of the error; "" means the command runs.
		wantErr []string
		// wantAdded is the file (relative to home) that gains the host's
		// line; "" means no file changes (and none is created).
		wantAdded string
		// wantNotice is a substring of the one notice expected, if any.
		wantNotice string
	}{
		{name: "default is accept-new", state: unknown, wantAdded: ".ssh/known_hosts", wantNotice: "added host key ED25519"},
		{name: "yes refuses an unknown host", config: "StrictHostKeyChecking yes", state: unknown,
			wantErr: []string{"is not known and StrictHostKeyChecking is yes", "did not log in", "ssh-keyscan -t ed25519 -p ", ">> ~/.ssh/known_hosts", "connect once with ssh"}},
		{name: "ask is yes when nobody can answer", config: "StrictHostKeyChecking ask", state: unknown,
			wantErr: []string{"StrictHostKeyChecking is ask (mrsk never prompts: ask refuses like yes)"}},
		{name: "yes connects to a known host", config: "StrictHostKeyChecking=yes", recordIn: ".ssh/known_hosts", state: known},
		{name: "yes refuses a changed key", config: "StrictHostKeyChecking yes", recordIn: ".ssh/known_hosts", state: changed,
			wantErr: []string{"changed (known_hosts line 1)"}},
		{name: "accept-new learns", config: "StrictHostKeyChecking accept-new", state: unknown, wantAdded: ".ssh/known_hosts", wantNotice: "added host key"},
		{name: "accept-new refuses a changed key", config: "StrictHostKeyChecking accept-new", recordIn: ".ssh/known_hosts", state: changed,
			wantErr: []string{"changed (known_hosts line 1); if the host was rebuilt, remove that line from ~/.ssh/known_hosts"}},
		{name: "no learns", config: "StrictHostKeyChecking no", state: unknown, wantAdded: ".ssh/known_hosts", wantNotice: "added host key"},
		{name: "off learns", config: "StrictHostKeyChecking off", state: unknown, wantAdded: ".ssh/known_hosts", wantNotice: "added host key"},
		{name: "no connects to a changed key and keeps the record", config: "StrictHostKeyChecking no", recordIn: ".ssh/known_hosts", state: changed,
			wantNotice: "WARNING: host key for [127.0.0.1]:"},
		{name: "every user file is read", config: "StrictHostKeyChecking yes\n  UserKnownHostsFile ~/kh/first %d/kh/second", recordIn: "kh/second", state: known},
		{name: "the first user file is written", config: "UserKnownHostsFile ~/kh/first ~/kh/second", recordIn: "kh/second", state: unknown, wantAdded: "kh/first", wantNotice: "to ~/kh/first"},
		{name: "global files are read", config: "StrictHostKeyChecking yes\n  GlobalKnownHostsFile %d/etc/ssh_known_hosts", recordIn: "etc/ssh_known_hosts", state: known},
		{name: "global files are never written", config: "GlobalKnownHostsFile %d/etc/ssh_known_hosts", recordIn: "etc/ssh_known_hosts", state: unknown, wantAdded: ".ssh/known_hosts", wantNotice: "to ~/.ssh/known_hosts"},
		{name: "dev null with yes refuses", config: "StrictHostKeyChecking yes\n  UserKnownHostsFile /dev/null", state: unknown,
			wantErr: []string{"is not known"}},
		{name: "dev null with accept-new connects and records nothing", config: "UserKnownHostsFile /dev/null", state: unknown},
		{name: "dev null with no connects and records nothing", config: "StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null", state: unknown},
		{name: "none records nothing", config: "UserKnownHostsFile none", state: unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.server()
			cfgFile := filepath.Join(e.home, ".ssh", "config")
			if err := os.MkdirAll(filepath.Dir(cfgFile), 0o700); err != nil {
				t.Fatal(err)
			}
			cfg := "Host 127.0.0.1\n  " + strings.ReplaceAll(tt.config, "%d", e.home) + "\n"
			if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.recordIn != "" {
				key := s.hostKey()
				if tt.state == changed {
					key = newEd25519Signer(t).PublicKey()
				}
				if tt.state == unknown {
					key = newEd25519Signer(t).PublicKey()
					writeFile(t, filepath.Join(e.home, tt.recordIn), knownhosts.Line([]string{"other.example"}, key)+"\n")
				} else {
					writeFile(t, filepath.Join(e.home, tt.recordIn), knownhosts.Line([]string{s.host}, key)+"\n")
				}
			}
			before := snapshot(t, e.home)
			p := e.pool(func(o *Options) {
				o.ConfigFile = cfgFile
				if strings.Contains(tt.config, "GlobalKnownHostsFile") {
					o.GlobalKnownHostsFile = "" // let the config say
				}
			})
			_, _, err := run(t, p, s.host, "true")

			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("connected; want a refusal")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\ndoes not contain %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), "deployer@"+s.host) {
					t.Errorf("error %q does not name the host", err)
				}
				if s.totalExecs.Load() != 0 {
					t.Error("the command ran")
				}
			} else if err != nil {
				t.Fatalf("refused: %v", err)
			}

			after := snapshot(t, e.home)
			var added []string
			for f, data := range after {
				if f == ".ssh/config" {
					continue
				}
				if old, ok := before[f]; !ok || old != data {
					added = append(added, f)
					want := old + knownhosts.Line([]string{s.host}, s.hostKey()) + "\n"
					if data != want {
						t.Errorf("%s = %q, want %q", f, data, want)
					}
				}
			}
			var wantAdded []string
			if tt.wantAdded != "" {
				wantAdded = []string{tt.wantAdded}
			}
			if !reflect.DeepEqual(added, wantAdded) {
				t.Errorf("files changed: %q, want %q", added, wantAdded)
			}
			for f := range before {
				if _, ok := after[f]; !ok {
					t.Errorf("%s removed", f)
				}
			}

			notices := e.noticeList()
			switch {
			case tt.wantNotice == "" && len(notices) > 0:
				t.Errorf("unexpected notices %q", notices)
			case tt.wantNotice != "" && (len(notices) != 1 || !strings.Contains(notices[0], tt.wantNotice)):
				t.Errorf("notices %q, want one containing %q", notices, tt.wantNotice)
			}
		})
	}
}

// TestAcceptAnyChangedKeyType: with StrictHostKeyChecking no, a host whose
// recorded key is of a type it no longer offers is still reached (OpenSSH
// does so); with accept-new it is refused.
func TestAcceptAnyChangedKeyType(t *testing.T) {
	e := newEnv(t)
	s := e.server() // ed25519 only
	content := knownhosts.Line([]string{s.host}, newRSASigner(t).PublicKey()) + "\n"
	writeFile(t, e.knownHosts, content)
	_, _, err := run(t, e.pool(nil), s.host, "true")
	if err == nil {
		t.Fatal("accept-new connected to a host whose key type changed")
	}
	mustRun(t, e.pool(func(o *Options) { o.StrictHostKeyChecking = "no" }), s.host, "true")
	if data, _ := os.ReadFile(e.knownHosts); string(data) != content {
		t.Errorf("known_hosts changed: %q", data)
	}
	if n := e.noticeList(); len(n) != 1 || !strings.Contains(n[0], "WARNING: host key for") {
		t.Errorf("notices %q, want one warning", n)
	}
}

func TestHostKeyUnknownErrorUnwraps(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	p := e.pool(func(o *Options) { o.StrictHostKeyChecking = "yes" })
	_, _, err := run(t, p, s.host, "true")
	var hu *HostKeyUnknownError
	var ke *knownhosts.KeyError
	if !errors.As(err, &hu) || !errors.As(err, &ke) || len(ke.Want) != 0 {
		t.Fatalf("error %#v does not unwrap to HostKeyUnknownError and an empty KeyError", err)
	}
	if hu.Fingerprint != ssh.FingerprintSHA256(s.hostKey()) {
		t.Errorf("fingerprint %s, want the server's", hu.Fingerprint)
	}
	if _, err := os.Stat(filepath.Join(e.home, ".ssh")); !os.IsNotExist(err) {
		t.Errorf("~/.ssh was created: %v", err)
	}
	// Recording the key (what the message suggests) makes the next
	// attempt work, on the same pool: refusals are not cached.
	writeFile(t, e.knownHosts, knownhosts.Line([]string{s.host}, s.hostKey())+"\n")
	mustRun(t, p, s.host, "true")
}

func TestParseStrictHostKeyChecking(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want HostKeyPolicy
		err  bool
	}{
		{"yes", Strict, false}, {"YES", Strict, false}, {"ask", Strict, false}, {"true", Strict, false},
		{"accept-new", AcceptNew, false},
		{"no", AcceptAny, false}, {"off", AcceptAny, false}, {"false", AcceptAny, false},
		{"maybe", 0, true}, {"", 0, true},
	} {
		got, err := parseStrictHostKeyChecking(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseStrictHostKeyChecking(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestSSHConfigHostKeyKeywords(t *testing.T) {
	c, err := parseSSHConfig(strings.NewReader(`
Host a
  StrictHostKeyChecking Yes
  UserKnownHostsFile ~/one "/two files"
Host *
  StrictHostKeyChecking no
  UserKnownHostsFile /ignored
  GlobalKnownHostsFile none
`), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	got := c.lookup("a")
	if got.StrictHostKeyChecking != "yes" || !reflect.DeepEqual(got.UserKnownHostsFiles, []string{"~/one", "/two files"}) ||
		!reflect.DeepEqual(got.GlobalKnownHostsFiles, []string{"none"}) {
		t.Errorf("lookup(a) = %+v", got)
	}
	if _, err := parseSSHConfig(strings.NewReader("StrictHostKeyChecking sometimes\n"), "cfg"); err == nil ||
		!strings.Contains(err.Error(), `line 1: bad StrictHostKeyChecking "sometimes"`) {
		t.Errorf("bad value: %v", err)
	}
}

func TestHostKeySettingsPrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfgFile := filepath.Join(home, "config")
	writeFile(t, cfgFile, "Host cfg\n  StrictHostKeyChecking no\n  UserKnownHostsFile ~/kh_%h\n")
	for _, tt := range []struct {
		opts       Options
		host       string
		wantPolicy HostKeyPolicy
		wantUser   []string
		wantGlobal []string
	}{
		{Options{}, "plain", AcceptNew,
			[]string{home + "/.ssh/known_hosts", home + "/.ssh/known_hosts2"}, []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}},
		{Options{}, "cfg", AcceptAny, []string{home + "/kh_cfg"}, []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}},
		{Options{StrictHostKeyChecking: "yes", KnownHostsFile: "/x /y", GlobalKnownHostsFile: "none"}, "cfg", Strict, []string{"/x", "/y"}, nil},
	} {
		tt.opts.ConfigFile = cfgFile
		p := New(tt.opts)
		ep, err := p.resolve(tt.host, true, nil, 0)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ep.policy != tt.wantPolicy || !reflect.DeepEqual(ep.knownHosts.user, tt.wantUser) || !reflect.DeepEqual(ep.knownHosts.global, tt.wantGlobal) {
			t.Errorf("%+v %s: policy %v user %q global %q; want %v %q %q", tt.opts, tt.host, ep.policy, ep.knownHosts.user, ep.knownHosts.global,
				tt.wantPolicy, tt.wantUser, tt.wantGlobal)
		}
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every regular file under dir, by slash path relative to dir.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "keys") {
			return nil
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
