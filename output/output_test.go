package output

import (
	"bytes"
	"fmt"
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

func TestCollapse(t *testing.T) {
	type line struct{ host, text string }
	hosts := func(n int, text string) []line {
		var ls []line
		for i := 1; i <= n; i++ {
			ls = append(ls, line{fmt.Sprintf("h%d", i), text})
		}
		return ls
	}
	for _, tc := range []struct {
		name  string
		fleet int
		quiet bool
		lines []line
		want  string
	}{
		{"small fleets print every line", 3, false, hosts(3, "pulled app:v2"),
			"== Pull\n[h1] pulled app:v2\n[h2] pulled app:v2\n[h3] pulled app:v2\n== Next\n"},
		{"same text from many hosts prints once", 12, false, hosts(12, "pulled app:v2"),
			"== Pull\n[12/12 hosts] pulled app:v2\n== Next\n"},
		{"a line from one host stays as it was", 12, false, append(hosts(11, "pulled app:v2"), line{"h12", "pull failed"}),
			"== Pull\n[11/12 hosts] pulled app:v2\n[h12] pull failed\n== Next\n"},
		{"durations become a range", 12, false, []line{{"h1", "web is healthy (0.1s)"}, {"h2", "web is healthy (0.4s)"}, {"h3", "web is healthy (0.2s)"}},
			"== Pull\n[3/12 hosts] web is healthy (0.1s-0.4s)\n== Next\n"},
		{"one duration stays one", 12, false, []line{{"h1", "web is healthy (0.3s)"}, {"h2", "web is healthy (0.3s)"}},
			"== Pull\n[2/12 hosts] web is healthy (0.3s)\n== Next\n"},
		{"groups keep the order of first appearance", 12, false, []line{{"h1", "started"}, {"h2", "started"}, {"h1", "stopped"}, {"h2", "stopped"}},
			"== Pull\n[2/12 hosts] started\n[2/12 hosts] stopped\n== Next\n"},
		{"unprefixed lines are counted", 12, false, []line{{"", "hook pre_boot"}, {"", "hook pre_boot"}, {"", "registry: skipped"}},
			"== Pull\nhook pre_boot (2 times)\nregistry: skipped\n== Next\n"},
		{"quiet still summarizes what always prints", 12, true, hosts(12, "web runs v1"),
			"[12/12 hosts] web runs v1\n"},
		{"long host lists are shortened", 12, false, []line{{"", "deployed v2 to h1, h2, h3, h4, h5, h6, h7, h8"}, {"h1", "version v0 is not on h1, h2"}},
			"== Pull\ndeployed v2 to h1, h2, h3 and 5 more\n[h1] version v0 is not on h1, h2\n== Next\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := New(&buf, tc.quiet)
			p.Collapse(tc.fleet)
			p.Step("Pull")
			for _, l := range tc.lines {
				if tc.quiet {
					p.Always(l.host, l.text)
				} else {
					p.Line(l.host, l.text)
				}
			}
			p.Step("Next")
			p.Flush()
			if got := buf.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestCollapseShortensStepTitles(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, false)
	title := "Boot v2 on web (h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12)"
	p.Step(title)
	p.Collapse(12)
	p.Step(title)
	want := "== " + title + "\n== Boot v2 on web (h1, h2, h3 and 9 more)\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCollapseHoldsUntilFlushButNotStreams(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, false)
	p.Collapse(20)
	p.Line("h1", "released the deploy lock")
	w := p.Writer("h2", true)
	w.Write([]byte("log line\n"))
	if got, want := buf.String(), "[h2] log line\n"; got != want {
		t.Fatalf("before Flush: got %q, want %q (streams print at once, lines wait)", got, want)
	}
	p.Flush()
	if got, want := buf.String(), "[h2] log line\n[h1] released the deploy lock\n"; got != want {
		t.Errorf("after Flush: got %q, want %q", got, want)
	}
	p.Always("h1", "timings: 1ms")
	if got, want := buf.String(), "[h2] log line\n[h1] released the deploy lock\n[h1] timings: 1ms\n"; got != want {
		t.Errorf("after Flush, lines print at once: got %q, want %q", got, want)
	}
}
