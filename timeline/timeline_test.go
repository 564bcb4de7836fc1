package timeline

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"
)

// run is two hosts: this machine loads the config, h1 takes the lock,
// both pull and boot, then prune and audit run side by side.
func run() *Timeline {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	spans := []Span{
		{"", "config", at(0), at(40)},
		{"h1", "connect", at(40), at(90)},
		{"h2", "connect", at(40), at(100)},
		{"h1", "lock", at(100), at(120)},
		{"h1", "pull", at(125), at(300)},
		{"h2", "pull", at(125), at(250)},
		{"h1", "healthy", at(300), at(350)},
		{"h2", "healthy", at(250), at(330)},
		{"h1", "routed", at(350), at(420)},
		{"h2", "routed", at(330), at(400)},
		{"h1", "prune", at(430), at(520)},
		{"h1", "audit", at(430), at(470)},
		{"h2", "audit", at(430), at(460)},
		{"h1", "unlock", at(520), at(540)},
		{"h3", "pull", at(0), at(10)}, // not a lane: dropped
	}
	return Build(t0, at(550), []string{"h1", "h2"}, spans)
}

// Every column of the table sums to the wall time, and a phase that ran
// beside the critical path shows after ∥.
func TestTableSumsToWall(t *testing.T) {
	tl := run()
	var buf bytes.Buffer
	tl.WriteTable(&buf, "timings ", map[string]int{"h1": 7, "h2": 5})
	out := buf.String()
	sums := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "timings "))
		if f[0] == "phase" || f[0] == "wall" || f[0] == "commands" {
			continue
		}
		col := 0
		for _, c := range f[1:] {
			if strings.HasPrefix(c, "∥") {
				continue
			}
			n, err := strconv.Atoi(c)
			if err != nil {
				t.Fatalf("cell %q in %q", c, line)
			}
			sums[col] += n
			col++
		}
	}
	if sums[0] != 550 || sums[1] != 550 {
		t.Errorf("columns sum to %v, want 550 each:\n%s", sums, out)
	}
	for _, want := range []string{"timings phase        h1   h2", "timings audit     0 ∥40   30", "timings prune        90    0", "timings commands      7    5", "timings wall        550  550"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "h3") {
		t.Errorf("a host that is not a lane is in the table:\n%s", out)
	}
}

// On more hosts than columns, the table shows the median, the slowest
// host's value and its name.
func TestTableManyHosts(t *testing.T) {
	t0 := time.Unix(0, 0)
	var hosts []string
	var spans []Span
	for i := range 9 {
		h := "h" + strconv.Itoa(i)
		hosts = append(hosts, h)
		spans = append(spans, Span{h, "pull", t0, t0.Add(time.Duration(10*(i+1)) * time.Millisecond)})
	}
	var buf bytes.Buffer
	Build(t0, t0.Add(100*time.Millisecond), hosts, spans).WriteTable(&buf, "", nil)
	if !strings.Contains(buf.String(), "pull          50   90       h8\n") {
		t.Errorf("table:\n%s", buf.String())
	}
}

type svgDoc struct {
	Lanes []struct {
		Host  string `xml:"data-host,attr"`
		Rects []struct {
			Class    string `xml:"class,attr"`
			Phase    string `xml:"data-phase,attr"`
			MS       int    `xml:"data-ms,attr"`
			Critical int    `xml:"data-critical,attr"`
		} `xml:"rect"`
	} `xml:"g"`
}

// The SVG has a lane per host of the table, a bar per phase the host went
// through (with its duration), and a critical path whose pieces are the
// table's column.
func TestSVGMatchesTable(t *testing.T) {
	tl := run()
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf, "mrsk deploy"); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 20000 {
		t.Errorf("SVG is %d bytes: too big to attach", buf.Len())
	}
	var doc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("SVG does not parse: %v\n%s", err, buf.String())
	}
	if len(doc.Lanes) != len(tl.Lanes) {
		t.Fatalf("%d lanes, want %d", len(doc.Lanes), len(tl.Lanes))
	}
	for i, lane := range doc.Lanes {
		l := tl.Lanes[i]
		if lane.Host != l.Host {
			t.Errorf("lane %d is %q, want %q", i, lane.Host, l.Host)
		}
		bars, path := map[string]int{}, map[string]int{}
		crit := map[string]int{}
		for _, r := range lane.Rects {
			switch r.Class {
			case "bar":
				bars[r.Phase] += r.MS
				crit[r.Phase] += r.Critical
			case "path":
				path[r.Phase] += r.MS
			}
		}
		sum := 0
		for _, row := range tl.Rows() {
			if row == "wall" {
				continue
			}
			on, total := int(l.OnPath(row).Milliseconds()), int(l.Total(row).Milliseconds())
			if row != Other && bars[row] != total {
				t.Errorf("%s: bar %s is %d ms, the table says %d", l.Host, row, bars[row], total)
			}
			if row != Other && crit[row] != on {
				t.Errorf("%s: bar %s has %d ms on the critical path, the table says %d", l.Host, row, crit[row], on)
			}
			if path[row] != on {
				t.Errorf("%s: critical path has %d ms of %s, the table says %d", l.Host, path[row], row, on)
			}
			sum += path[row]
		}
		if sum != int(tl.Wall().Milliseconds()) {
			t.Errorf("%s: critical path sums to %d ms, wall is %d", l.Host, sum, tl.Wall().Milliseconds())
		}
	}
	// h1's audit ran beside prune: drawn, but not on the critical path.
	if !strings.Contains(buf.String(), `data-phase="audit" data-ms="40" data-critical="0"`) {
		t.Errorf("h1's audit bar is missing or critical:\n%s", buf.String())
	}
}
