package erb

import (
	"errors"
	"strings"
	"testing"
)

func testContext() Context {
	env := map[string]string{"USER_NAME": "alice", "EMPTY": "", "STAGE": "prod"}
	creds := map[string]string{"registry.username": "ruser", "registry.password": "rpass", "a.b.c": "deep"}
	return Context{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Credential: func(path []string) (string, bool, error) {
			k := strings.Join(path, ".")
			if k == "registry" {
				return "", false, errors.New("registry is a map of credentials, not one value")
			}
			v, ok := creds[k]
			return v, ok, nil
		},
	}
}

func TestRender(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "a: b\n", "a: b\n"},
		{"env brackets", `u: <%= ENV["USER_NAME"] %>`, "u: alice"},
		{"env single quotes", `u: <%= ENV['USER_NAME'] %>`, "u: alice"},
		{"fetch", `u: <%= ENV.fetch("USER_NAME") %>`, "u: alice"},
		{"fetch default unused", `u: <%= ENV.fetch("USER_NAME", "x") %>`, "u: alice"},
		{"fetch default", `u: <%= ENV.fetch("NOPE", "dflt") %>`, "u: dflt"},
		{"fetch nil default", `u: <%= ENV.fetch("NOPE", nil) %>.`, "u: ."},
		{"or default", `u: <%= ENV["NOPE"] || "d" %>`, "u: d"},
		{"empty is set", `u: "<%= ENV["EMPTY"] %>"`, `u: ""`},
		{"string", `<%= "x\ty" %>|<%= 'its' %>`, "x\ty|its"},
		{"single quote escapes", `<%= 'a\'b\n' %>`, `a'b\n`},
		{"comment", "a<%# anything: ENV[] `ls` %>b", "ab"},
		{"ruby comment in code tag", "a<% # just a note %>b", "ab"},
		{"literal tag", "<%%= x %>", "<%= x %>"},
		{"if true", "<% if ENV[\"USER_NAME\"] %>yes<% end %>", "yes"},
		{"if unset", "<% if ENV[\"NOPE\"] %>yes<% end %>", ""},
		{"if empty is true", "<% if ENV[\"EMPTY\"] %>yes<% end %>", "yes"},
		{"if else", "<% if ENV[\"NOPE\"] %>a<% else %>b<% end %>", "b"},
		{"elsif", "<% if ENV[\"NOPE\"] %>a<% elsif ENV[\"STAGE\"] == \"prod\" %>p<% else %>b<% end %>", "p"},
		{"unless", "<% unless ENV[\"NOPE\"] %>u<% end %>", "u"},
		{"not equal", "<% if ENV[\"STAGE\"] != 'prod' %>a<% else %>b<% end %>", "b"},
		{"nested", "<% if true %><% unless ENV['NOPE'] %>in<% end %><% end %>", "in"},
		{"then", "<% if true then %>t<% end %>", "t"},
		{"trim newline", "a\n<% if true -%>\nb\n<% end -%>\nc\n", "a\nb\nc\n"},
		{"trim indent", "x:\n  <%- if true -%>\n  y: 1\n  <%- end -%>\n", "x:\n  y: 1\n"},
		{"no trim", "<% if true %>\nb\n<% end %>\n", "\nb\n\n"},
		{"credentials dots", `<%= Rails.application.credentials.registry.username %>`, "ruser"},
		{"credentials string index", `<%= Rails.application.credentials.registry["password"] %>`, "rpass"},
		{"credentials symbol index", `<%= Rails.application.credentials[:registry][:username] %>`, "ruser"},
		{"credentials mixed", `<%= Rails.application.credentials.registry[:username] %>`, "ruser"},
		{"credentials dig", `<%= Rails.application.credentials.dig(:a, :b, "c") %>`, "deep"},
		{"credentials in condition", `<% if Rails.application.credentials.nope %>x<% else %>y<% end %>`, "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render("t.yml", []byte(tt.in), testContext())
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.Output); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ruby method", "a\nb: <%= `op read x` %>", "t.yml:2: <%= `op read x` %>: Ruby is not evaluated"},
		{"ruby call", "<%= File.read('x') %>", "t.yml:1: <%= File.read('x') %>: Ruby is not evaluated"},
		{"interpolation", `<%= "a#{1}" %>`, "string interpolation"},
		{"code", "\n\n<% x = 1 %>", "t.yml:3: <% x = 1 %>: Ruby is not evaluated"},
		{"missing env", "\n<%= ENV[\"NOPE\"] %>", `t.yml:2: <%= ENV["NOPE"] %>: environment variable "NOPE" is not set`},
		{"missing fetch", `<%= ENV.fetch("NOPE") %>`, `environment variable "NOPE" is not set`},
		{"missing fetch in condition", `<% if ENV.fetch("NOPE") %><% end %>`, `environment variable "NOPE" is not set`},
		{"unclosed tag", "a\n<%= ENV[\"X\"]\n", "t.yml:2: <%= ENV[\"X\"]: tag not closed"},
		{"no end", "<% if true %>\nx\n", "t.yml:1: <% if true %>: no matching <% end %>"},
		{"stray end", "x\n<% end %>", "t.yml:2: <% end %>: `end` without a matching if"},
		{"empty output", "<%= %>", "empty <%= %> tag"},
		{"missing credential", "<%= Rails.application.credentials.nope.x %>", "Rails credentials have no nope.x"},
		{"credential map", "<%= Rails.application.credentials.registry %>", "registry is a map of credentials"},
		{"bare credentials", "<%= Rails.application.credentials %>", "is a map: name a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render("t.yml", []byte(tt.in), testContext())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to contain %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
		})
	}
}

func TestCredentialsNeedContext(t *testing.T) {
	_, err := Render("t", []byte("<%= Rails.application.credentials.a %>"), Context{})
	if err == nil || !strings.Contains(err.Error(), "cannot be read here") {
		t.Fatal(err)
	}
}

func TestSourceAndSecrets(t *testing.T) {
	in := "a: 1\n" +
		"<% if ENV[\"NOPE\"] %>\n" +
		"gone: 1\n" +
		"gone: 2\n" +
		"<% end -%>\n" +
		"user: <%= ENV[\"USER_NAME\"] %> # c\n" +
		"pw: <%= Rails.application.credentials.registry.password %>\n" +
		"z: ü<%= \"multi\nline\" %>x\n" +
		"last: 1\n"
	r, err := Render("t.yml", []byte(in), testContext())
	if err != nil {
		t.Fatal(err)
	}
	want := "a: 1\nuser: alice # c\npw: rpass\nz: ümulti\nlinex\nlast: 1\n"
	if string(r.Output) != want {
		t.Fatalf("output %q, want %q", r.Output, want)
	}
	tests := []struct{ out, src Pos }{
		{Pos{1, 1}, Pos{1, 1}},
		{Pos{1, 5}, Pos{1, 5}},   // the newline before <% if %>
		{Pos{2, 1}, Pos{6, 1}},   // user:, after the removed block
		{Pos{2, 7}, Pos{6, 7}},   // the value maps to its tag
		{Pos{2, 11}, Pos{6, 7}},  // inside the value too
		{Pos{2, 13}, Pos{6, 31}}, // the comment after the tag
		{Pos{3, 5}, Pos{7, 5}},
		{Pos{4, 4}, Pos{8, 4}}, // ü is one column
		{Pos{5, 1}, Pos{8, 5}}, // the second line of a value
		{Pos{5, 5}, Pos{9, 9}}, // x after the tag (the literal held a line break)
		{Pos{6, 1}, Pos{10, 1}},
	}
	for _, tt := range tests {
		if got := r.Source(tt.out); got != tt.src {
			t.Errorf("Source(%v) = %v, want %v", tt.out, got, tt.src)
		}
	}
	if got := r.Secrets(); len(got) != 1 || got[0] != (Pos{3, 5}) {
		t.Errorf("Secrets() = %v, want [{3 5}]", got)
	}
}
