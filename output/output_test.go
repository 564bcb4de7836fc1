package output

import (
	"bytes"
	"testing"
)

func TestLineWriter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quiet  bool
		always bool
		writes []string
		want   string
	}{
		{"lines prefixed", false, false, []string{"a\nb\n"}, "[h1] a\n[h1] b\n"},
		{"split writes join", false, false, []string{"he", "llo\nwor", "ld\n"}, "[h1] hello\n[h1] world\n"},
		{"partial line on flush", false, false, []string{"tail"}, "[h1] tail\n"},
		{"crlf trimmed", false, false, []string{"x\r\n"}, "[h1] x\n"},
		{"quiet hides", true, false, []string{"a\n"}, ""},
		{"quiet keeps always", true, true, []string{"a\n"}, "[h1] a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := New(&buf, tc.quiet)
			w := p.Writer("h1", tc.always)
			for _, s := range tc.writes {
				w.Write([]byte(s))
			}
			w.Flush()
			if got := buf.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStepAndUnprefixed(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, false)
	p.Step("Pull")
	p.Line("", "plain")
	if got, want := buf.String(), "== Pull\nplain\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
