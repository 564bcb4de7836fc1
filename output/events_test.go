package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStreamEvents(t *testing.T) {
	var buf bytes.Buffer
	s := NewStream(&buf)
	s.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC) }
	p := NewWith(&bytes.Buffer{}, Options{Events: s, Quiet: true})
	p.Step("Pull app:v2")
	p.Line("h1", "pulled")
	p.Command("h1", "a < b && c > d", 3, 1500*time.Millisecond)
	w := p.Writer("local", false)
	w.Write([]byte("streamed\n"))

	want := []string{
		`{"schema":1,"time":"2026-01-02T03:04:05.000000600Z","type":"step","title":"Pull app:v2"}`,
		`{"schema":1,"time":"2026-01-02T03:04:05.000000600Z","type":"log","host":"h1","message":"pulled"}`,
		`{"schema":1,"time":"2026-01-02T03:04:05.000000600Z","type":"command","host":"h1","cmd":"a < b && c > d","exit":3,"duration_ms":1500}`,
		`{"schema":1,"time":"2026-01-02T03:04:05.000000600Z","type":"log","host":"local","message":"streamed"}`,
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
}

// The live view draws its block below printed lines and erases it on
// Close; without it, Status prints nothing.
func TestLiveView(t *testing.T) {
	var plain bytes.Buffer
	p := New(&plain, false)
	p.Step("Boot")
	p.Status("h1", "waiting")
	p.Line("h1", "healthy")
	if got := plain.String(); got != "== Boot\n[h1] healthy\n" {
		t.Errorf("plain output changed: %q", got)
	}

	var tty bytes.Buffer
	p = NewWith(&tty, Options{Live: true, Width: 40})
	p.Step("Boot")
	p.Status("", "batch 1 of 2")
	p.Status("h1", "waiting for a very long health check that does not fit the width")
	p.Line("h1", "healthy")
	p.Close()
	s := tty.String()
	for _, want := range []string{"== Boot\n", "batch 1 of 2", "[h1] healthy\n", "\x1b[J"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in %q", want, s)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if i := strings.LastIndex(line, "\x1b[J"); i >= 0 {
			line = line[i+3:]
		}
		if n := len([]rune(line)); n > 40 {
			t.Errorf("a status line of %d runes is wider than the terminal: %q", n, line)
		}
	}
	if !strings.HasSuffix(s, "\x1b[J") {
		t.Errorf("Close did not erase the block: %q", s[max(0, len(s)-60):])
	}
}
