package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/railscreds"
)

const (
	credKey   = "00112233445566778899aabbccddeeff"
	credsYAML = "registry:\n  username: cred-user\n  password: cred-pass\ndb:\n  password: db-secret\nupper: UPPER_SECRET\n"
)

// withCredentials adds an encrypted config/credentials.yml.enc and its key.
func withCredentials(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	enc, err := railscreds.Encrypt([]byte(credsYAML), credKey, []byte("0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	files["config/credentials.yml.enc"] = string(enc)
	files["config/master.key"] = credKey + "\n"
	return files
}

func TestERBConfig(t *testing.T) {
	deploy := `service: <%= ENV.fetch("SERVICE", "fallback") %>
image: <%= ENV["IMAGE_OWNER"] %>/app
servers:
<% if ENV["TWO_HOSTS"] -%>
  - 10.0.0.1
  - 10.0.0.2
<% else -%>
  - 10.0.0.9
<% end -%>
env:
  clear:
    <%# Kamal configs keep comments in ERB too %>
    GREETING: <%= 'hi' %>
    FROM_DOTENV: <%= ENV.fetch("DOTENV_ONLY") %>
`
	c, _, err := loadProject(t, map[string]string{"config/deploy.yml": deploy, ".env": "DOTENV_ONLY=from-file\nIMAGE_OWNER=ignored\n"},
		"", map[string]string{"IMAGE_OWNER": "me", "TWO_HOSTS": ""})
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != "fallback" || c.Image != "me/app" {
		t.Errorf("service %q image %q", c.Service, c.Image)
	}
	if got := strings.Join(c.AllHosts(), ","); got != "10.0.0.1,10.0.0.2" {
		t.Errorf("hosts %s", got)
	}
	if c.Env.Clear["GREETING"] != "hi" || c.Env.Clear["FROM_DOTENV"] != "from-file" {
		t.Errorf("env %v", c.Env.Clear)
	}
}

func TestERBErrorPositions(t *testing.T) {
	head := "service: app\nimage: me/app\nservers: [10.0.0.1]\n"
	block := "<% if ENV[\"NOPE\"] %>\nsome: 1\nlines: 2\nremoved: 3\n<% end %>\n" // lines 4-8
	tests := []struct {
		name  string
		files map[string]string
		dest  string
		want  string
	}{
		{"yaml error after a removed block",
			map[string]string{"config/deploy.yml": head + block + "env: a: b\n"},
			"", "config/deploy.yml:9: invalid YAML: mapping values are not allowed in this context"},
		{"schema error after a removed block, with column",
			map[string]string{"config/deploy.yml": head + block + "healthcheck:\n  prot: 3\n"},
			"", `config/deploy.yml:10:3: healthcheck.prot: unknown key; did you mean "port"?`},
		{"error after a value on the same line",
			map[string]string{"config/deploy.yml": head + "ssh: {user: <%= ENV['U'] %>, port: nope}\n"},
			"", "config/deploy.yml:4:36: ssh.port: must be an integer"},
		{"duplicate key names both original lines",
			map[string]string{"config/deploy.yml": head + block + "stop_wait_time: 1\n<%# x %>\nstop_wait_time: 2\n"},
			"", "config/deploy.yml:11:1: stop_wait_time: duplicate key (first defined at line 9)"},
		{"ruby is refused",
			map[string]string{"config/deploy.yml": head + "\nenv:\n  clear:\n    X: <%= `whoami` %>\n"},
			"", "config/deploy.yml:7: <%= `whoami` %>: Ruby is not evaluated"},
		{"missing variable",
			map[string]string{"config/deploy.yml": head + "registry:\n  username: <%= ENV[\"REG_USER\"] %>\n"},
			"", `config/deploy.yml:5: <%= ENV["REG_USER"] %>: environment variable "REG_USER" is not set`},
		{"destination file",
			map[string]string{"config/deploy.yml": head, "config/deploy.staging.yml": "\n\n<%= ENV.fetch('NOPE') %>\n"},
			"staging", `config/deploy.staging.yml:3: <%= ENV.fetch('NOPE') %>: environment variable "NOPE" is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := loadProject(t, tt.files, tt.dest, map[string]string{"U": "deploy"})
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestERBCredentials(t *testing.T) {
	base := "service: app\nimage: me/app\nservers: [10.0.0.1]\n"
	tests := []struct {
		name  string
		yml   string
		env   map[string]string
		noKey bool
		err   string
	}{
		{name: "registry from credentials", yml: base + "registry:\n  username: <%= Rails.application.credentials.registry[\"username\"] %>\n" +
			"  password: \"<%= Rails.application.credentials.dig(:registry, :password) %>\"\n"},
		{name: "RAILS_MASTER_KEY", noKey: true, env: map[string]string{"RAILS_MASTER_KEY": credKey},
			yml: base + "registry:\n  username: <%= Rails.application.credentials[:registry][:username] %>\n  password: <%= Rails.application.credentials.registry.password %>\n"},
		{name: "plain setting refused", yml: base + "env:\n  clear:\n    DB: <%= Rails.application.credentials.db.password %>\n",
			err: "config/deploy.yml:6:9: env.clear.DB: holds a Rails credential, which is a secret, but this setting is not secret"},
		{name: "inside a longer plain value", yml: base + "labels:\n  note: \"x-<%= Rails.application.credentials.db.password %>\"\n",
			err: "config/deploy.yml:5:9: labels.note: holds a Rails credential"},
		{name: "as a key", yml: base + "env:\n  clear:\n    <%= Rails.application.credentials.db.password %>: x\n",
			err: "config/deploy.yml:6:5: a Rails credential cannot be a key"},
		{name: "missing key", noKey: true, yml: base + "registry:\n  password: <%= Rails.application.credentials.db.password %>\n",
			err: "config/deploy.yml:5: <%= Rails.application.credentials.db.password %>: Rails credentials: cannot decrypt config/credentials.yml.enc: config/master.key is missing and RAILS_MASTER_KEY is not set"},
		{name: "wrong key", env: map[string]string{"RAILS_MASTER_KEY": strings.Repeat("ab", 16)}, yml: base + "registry:\n  password: <%= Rails.application.credentials.db.password %>\n",
			err: "Rails credentials: the key (from RAILS_MASTER_KEY) does not decrypt config/credentials.yml.enc"},
		{name: "absent credential", yml: base + "registry:\n  password: <%= Rails.application.credentials.db.nope %>\n",
			err: "config/deploy.yml:5: <%= Rails.application.credentials.db.nope %>: Rails credentials have no db.nope"},
		{name: "never quoted in an error", yml: base + "registry:\n  password: [<%= Rails.application.credentials.upper %>]\n",
			err: `config/deploy.yml:5:14: registry.password: environment variable "[REDACTED]" is not set`},
		{name: "unused credentials need no key", noKey: true, yml: base + "# <%# Rails.application.credentials.x %>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := withCredentials(t, map[string]string{"config/deploy.yml": tt.yml})
			if tt.noKey {
				delete(files, "config/master.key")
			}
			c, dir, err := loadProject(t, files, "", tt.env)
			if tt.err != "" {
				if err == nil {
					t.Fatal("no error")
				}
				if got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""); !strings.Contains(got, tt.err) {
					t.Fatalf("got  %s\nwant %s", got, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tt.yml, "registry") {
				return
			}
			if c.Registry.Username.Reveal() != "cred-user" || c.Registry.Password.Reveal() != "cred-pass" {
				t.Errorf("registry %q %q", c.Registry.Username.Reveal(), c.Registry.Password.Reveal())
			}
			y, err := c.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(y), "cred-") || !strings.Contains(string(y), "username: '[REDACTED]'") {
				t.Errorf("mrsk config output does not redact:\n%s", y)
			}
		})
	}
}

func TestERBAccessoryFiles(t *testing.T) {
	deploy := "service: app\nimage: me/app\nservers: [10.0.0.1]\naccessories:\n  db:\n    image: mysql:8\n    host: 10.0.0.1\n" +
		"    env:\n      clear:\n        DB_USER: app\n    files:\n      - config/my.cnf.erb:/etc/mysql/my.cnf\n      - config/plain.erb.txt:/etc/plain\n"
	tmpl := "[client]\nuser=<%= ENV['DB_USER'] %>\npassword=<%= Rails.application.credentials.db.password %>\n"
	files := withCredentials(t, map[string]string{"config/deploy.yml": deploy, "config/my.cnf.erb": tmpl, "config/plain.erb.txt": "<%= not rendered %>"})
	c, _, err := loadProject(t, files, "", map[string]string{"DB_USER": "overridden by the accessory env"})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accessory("db")
	if got := a.RenderedFiles["config/my.cnf.erb"].Reveal(); got != "[client]\nuser=app\npassword=db-secret\n" {
		t.Errorf("rendered %q", got)
	}
	if _, ok := a.RenderedFiles["config/plain.erb.txt"]; ok || len(a.RenderedFiles) != 1 {
		t.Errorf("only .erb files render: %v", a.RenderedFiles)
	}

	files["config/my.cnf.erb"] = "[client]\n\nuser=<%= ENV.fetch('NOPE') %>\n"
	_, dir, err := loadProject(t, files, "", nil)
	if err == nil || strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)) != `config/my.cnf.erb:3: <%= ENV.fetch('NOPE') %>: environment variable "NOPE" is not set` {
		t.Errorf("got %v", err)
	}
	delete(files, "config/my.cnf.erb")
	_, _, err = loadProject(t, files, "", nil)
	if err == nil || !strings.Contains(err.Error(), "accessories.db.files: cannot read config/my.cnf.erb") {
		t.Errorf("got %v", err)
	}
}

func TestRenderTemplate(t *testing.T) {
	dir := project(t, withCredentials(t, map[string]string{
		".env.erb":         "A=<%= ENV['A'] %>\nPW=<%= Rails.application.credentials.db.password %>\n",
		".env.staging.erb": "B=<%= ENV.fetch('B') %>\n",
		".env.staging":     "B=from-dotenv\n",
	}))
	opts := LoadOptions{File: filepath.Join(dir, "config", "deploy.yml"), LookupEnv: envOf(map[string]string{"A": "a"})}
	got, err := RenderTemplate(opts, ".env.erb")
	if err != nil || string(got) != "A=a\nPW=db-secret\n" {
		t.Errorf("got %q, %v", got, err)
	}
	opts.Destination = "staging"
	got, err = RenderTemplate(opts, ".env.staging.erb")
	if err != nil || string(got) != "B=from-dotenv\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := RenderTemplate(opts, ".env.nope.erb"); !os.IsNotExist(err) {
		t.Errorf("missing template: %v", err)
	}
}
