// Package timeline turns the phases of one mrsk run (spans per host) into
// what --timings prints: a table whose every column sums to the wall time,
// and an SVG with one lane per host, one bar per phase and the critical
// path marked. It knows nothing of mrsk's commands: spans come in, text
// and pictures go out.
package timeline

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Span is one phase of the run on one host. Host "" is this machine
// (loading the config, a local docker login, the build): every host waits
// for it, so it belongs to every lane.
type Span struct {
	Host, Name string
	Start, End time.Time
}

// Other names the time of a lane that no phase covers: mrsk's own work
// between steps, and waiting for other hosts.
const Other = "other"

// Timeline is a run from Start to End, one lane per host.
type Timeline struct {
	Start, End time.Time
	Lanes      []Lane
	// Phases are the phase names in the order they first began.
	Phases []string
}

// Lane is one host's view of the run.
type Lane struct {
	Host string
	// Bars are the phases the host went through (its own and this
	// machine's), in start order.
	Bars []Bar
	// Path cuts Start..End into consecutive pieces, each given to the
	// phase that held the host up then: of the phases running, the one
	// that ended last, else Other. It is the lane's critical path, and
	// its pieces sum to the wall time.
	Path []Bar
}

// Bar is a phase's extent, as offsets from the run's start.
type Bar struct {
	Name       string
	Start, End time.Duration
}

// Len is the bar's duration.
func (b Bar) Len() time.Duration { return b.End - b.Start }

// Build lays spans out on lanes, one per host in hosts (in that order);
// spans of hosts not listed are dropped, those of host "" go to every
// lane. Spans are clipped to start..end.
func Build(start, end time.Time, hosts []string, spans []Span) *Timeline {
	t := &Timeline{Start: start, End: end}
	clip := func(x time.Time) time.Duration {
		switch {
		case x.Before(start):
			return 0
		case x.After(end):
			return end.Sub(start)
		}
		return x.Sub(start)
	}
	sorted := slices.Clone(spans)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	for _, s := range sorted {
		if (s.Host == "" || slices.Contains(hosts, s.Host)) && !slices.Contains(t.Phases, s.Name) {
			t.Phases = append(t.Phases, s.Name)
		}
	}
	for _, h := range hosts {
		l := Lane{Host: h}
		for _, s := range sorted {
			if s.Host == h || s.Host == "" {
				l.Bars = append(l.Bars, Bar{Name: s.Name, Start: clip(s.Start), End: clip(s.End)})
			}
		}
		l.Path = criticalPath(l.Bars, end.Sub(start))
		t.Lanes = append(t.Lanes, l)
	}
	return t
}

// criticalPath gives each instant of 0..wall to the bar that, of those
// running then, ended last (the one the host was waiting for), else to
// Other; neighbouring pieces of one name merge.
func criticalPath(bars []Bar, wall time.Duration) []Bar {
	cuts := []time.Duration{0, wall}
	for _, b := range bars {
		cuts = append(cuts, b.Start, b.End)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var path []Bar
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		name, best := Other, time.Duration(-1)
		for _, b := range bars {
			if b.Start <= from && b.End >= to && b.End > best {
				name, best = b.Name, b.End
			}
		}
		if n := len(path); n > 0 && path[n-1].Name == name {
			path[n-1].End = to
			continue
		}
		path = append(path, Bar{Name: name, Start: from, End: to})
	}
	return path
}

// Wall is the run's duration.
func (t *Timeline) Wall() time.Duration { return t.End.Sub(t.Start) }

// OnPath is the time lane spent in phase on its critical path.
func (l Lane) OnPath(phase string) time.Duration {
	var d time.Duration
	for _, p := range l.Path {
		if p.Name == phase {
			d += p.Len()
		}
	}
	return d
}

// Total is the time phase ran on lane, critical or not.
func (l Lane) Total(phase string) time.Duration {
	var d time.Duration
	for _, b := range l.Bars {
		if b.Name == phase {
			d += b.Len()
		}
	}
	return d
}

// Rows are the table's row names: the phases in order, Other, and "wall".
func (t *Timeline) Rows() []string {
	return append(slices.Clone(t.Phases), Other, "wall")
}

// maxColumns is how many hosts get a column of their own; beyond, the
// table shows the median and the slowest host.
const maxColumns = 6

// WriteTable prints the phase table, each line starting with prefix: a
// row per phase with the milliseconds each host spent in it on its
// critical path (so a column sums to the wall time), and, after "∥", what
// ran beside the critical path; then Other, the wall time, and commands
// (the remote commands per host, from counts).
func (t *Timeline) WriteTable(w io.Writer, prefix string, counts map[string]int) {
	ms := func(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }
	cell := func(l Lane, row string) string {
		if row == "wall" {
			return ms(t.Wall())
		}
		on := l.OnPath(row)
		s := ms(on)
		if row != Other {
			if off := l.Total(row) - on; off >= time.Millisecond {
				s += " ∥" + ms(off)
			}
		}
		return s
	}
	header := []string{"phase"}
	var cols []func(row string) string
	if len(t.Lanes) <= maxColumns {
		for _, l := range t.Lanes {
			header = append(header, l.Host)
			cols = append(cols, func(row string) string {
				if row == "commands" {
					return fmt.Sprint(counts[l.Host])
				}
				return cell(l, row)
			})
		}
	} else {
		header = append(header, "median", "max", "slowest")
		pick := func(row string) []Lane {
			ls := slices.Clone(t.Lanes)
			val := func(l Lane) time.Duration {
				if row == "commands" {
					return time.Duration(counts[l.Host])
				}
				return l.OnPath(row)
			}
			sort.SliceStable(ls, func(i, j int) bool { return val(ls[i]) < val(ls[j]) })
			return ls
		}
		get := func(l Lane, row string) string {
			if row == "commands" {
				return fmt.Sprint(counts[l.Host])
			}
			return cell(l, row)
		}
		cols = append(cols,
			func(row string) string { ls := pick(row); return get(ls[len(ls)/2], row) },
			func(row string) string { ls := pick(row); return get(ls[len(ls)-1], row) },
			func(row string) string { ls := pick(row); return ls[len(ls)-1].Host })
	}
	rows := append(t.Rows(), "commands")
	table := [][]string{header}
	for _, r := range rows {
		line := []string{r}
		for _, c := range cols {
			line = append(line, c(r))
		}
		table = append(table, line)
	}
	width := make([]int, len(header))
	for _, line := range table {
		for i, c := range line {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, line := range table {
		var b strings.Builder
		b.WriteString(prefix)
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
