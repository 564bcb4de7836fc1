package builtins

import "testing"

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
