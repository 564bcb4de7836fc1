package shellwords

import (
	"errors"
	"slices"
	"testing"
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
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := Join("echo", "a b", "c"); got != "echo 'a b' c" {
		t.Errorf("Join = %s", got)
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string // the QuoteError kind
	}{
		{"bin/jobs --queue default", []string{"bin/jobs", "--queue", "default"}, ""},
		{`a 'b c' "d \"e\"" f\ g`, []string{"a", "b c", `d "e"`, "f g"}, ""},
		{`"a\b" \$x`, []string{`a\b`, "$x"}, ""},
		{"  ", nil, ""},
		{"''", []string{""}, ""},
		{"'open", nil, "single"},
		{`"open`, nil, "double"},
		{`"a\"`, nil, "double"},
	} {
		got, err := Split(tc.in)
		var qe *QuoteError
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Split(%q): %v", tc.in, err)
		case tc.err != "" && (!errors.As(err, &qe) || qe.Kind != tc.err):
			t.Errorf("Split(%q) error = %v, want an unterminated %s quote", tc.in, err, tc.err)
		case !slices.Equal(got, tc.want):
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Quoting then splitting gives back the words: what a plan prints is what
// the container gets.
func TestQuoteSplitRoundTrip(t *testing.T) {
	words := []string{"", "a b", "it's", `"dq"`, `back\slash`, "$HOME", "tab\there", "new\nline"}
	got, err := Split(Join(words...))
	if err != nil || !slices.Equal(got, words) {
		t.Errorf("Split(Join(%q)) = %q, %v", words, got, err)
	}
}
