package timeline

import (
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"slices"
	"time"
)

// Sizes of the picture, in pixels: small enough to attach to a CI run.
const (
	svgWidth  = 760
	svgLabel  = 110 // the host names' column
	svgLaneH  = 34
	svgBarH   = 18
	svgTop    = 22 // the time axis
	svgMargin = 10
)

// colour gives a phase its colour: mrsk's phases a fixed one each (in
// the order of a deploy, neighbours apart), others one by their name's hash.
func colour(name string) string {
	fixed := map[string]string{
		Other: "#d9d9d9", "config": "#9c755f", "connect": "#bab0ac", "lock": "#e15759", "login": "#f28e2b",
		"build": "#8cd17d", "push": "#b6992d", "pull": "#76b7b2", "traefik": "#edc948", "ps": "#86bcb6",
		"run": "#4e79a7", "start": "#4e79a7", "healthy": "#59a14f", "routed": "#b07aa1", "stopped": "#ff9da7",
		"prune": "#a0cbe8", "audit": "#f1ce63", "unlock": "#d37295", "exit": "#79706e", "tls": "#499894",
	}
	if c, ok := fixed[name]; ok {
		return c
	}
	palette := []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"}
	h := fnv.New32a()
	h.Write([]byte(name))
	return palette[h.Sum32()%uint32(len(palette))]
}

// WriteSVG draws the timeline: one lane per host, one bar per phase (its
// whole extent, labelled with its name and milliseconds), and under each
// lane the critical path, the pieces that sum to the wall time, in the
// phases' colours. Each bar carries data-phase, data-ms and data-critical
// (the milliseconds it spent on the critical path), so a program (or a
// test) can read it back.
// Bars too narrow for their name show it on hover, and in the legend.
func (t *Timeline) WriteSVG(w io.Writer, title string) error {
	wall := t.Wall()
	if wall <= 0 {
		wall = time.Millisecond
	}
	plot := float64(svgWidth - svgLabel - svgMargin)
	x := func(d time.Duration) float64 { return svgLabel + plot*float64(d)/float64(wall) }
	legendY := svgTop + len(t.Lanes)*svgLaneH + 30
	height := legendY + 16
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="10">`+"\n",
		svgWidth, height, svgWidth, height)
	p(`<title>%s</title>`+"\n", html.EscapeString(title))
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="12" font-weight="bold">%s — wall %d ms</text>`+"\n", svgMargin, html.EscapeString(title), t.Wall().Milliseconds())
	step := tick(wall)
	for d := time.Duration(0); d <= wall; d += step {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`, x(d), svgTop, x(d), svgTop+len(t.Lanes)*svgLaneH)
		p(`<text x="%.1f" y="%d" fill="#888" text-anchor="middle">%d</text>`+"\n", x(d), svgTop+len(t.Lanes)*svgLaneH+12, d.Milliseconds())
	}
	p(`<text x="%d" y="%d" fill="#888" text-anchor="end">ms</text>`+"\n", svgWidth-svgMargin, svgTop+len(t.Lanes)*svgLaneH+24)
	for i, l := range t.Lanes {
		y := svgTop + i*svgLaneH
		p(`<g class="lane" data-host="%s">`+"\n", html.EscapeString(l.Host))
		p(`<text x="%d" y="%d">%s</text>`+"\n", svgMargin, y+svgBarH/2+4, html.EscapeString(l.Host))
		for _, b := range l.Bars {
			bw := max(x(b.End)-x(b.Start), 1)
			crit := onPath(l, b)
			stroke := ""
			if crit > 0 {
				stroke = ` stroke="black" stroke-width="1"`
			}
			p(`<rect class="bar" data-phase="%s" data-ms="%d" data-critical="%d" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"%s><title>%s %d ms</title></rect>`+"\n",
				html.EscapeString(b.Name), b.Len().Milliseconds(), crit.Milliseconds(), x(b.Start), y, bw, svgBarH, colour(b.Name), stroke, html.EscapeString(b.Name), b.Len().Milliseconds())
			if label := b.Name; float64(len(label))*6 < bw {
				p(`<text x="%.1f" y="%d" fill="white">%s</text>`+"\n", x(b.Start)+2, y+svgBarH-5, html.EscapeString(label))
			}
		}
		// The critical path: a thick line under the bars.
		for _, c := range l.Path {
			p(`<rect class="path" data-phase="%s" data-ms="%d" x="%.1f" y="%d" width="%.1f" height="4" fill="%s"/>`+"\n",
				html.EscapeString(c.Name), c.Len().Milliseconds(), x(c.Start), y+svgBarH+3, max(x(c.End)-x(c.Start), 0.5), colour(c.Name))
		}
		p("</g>\n")
	}
	// The legend: every phase, in order, with its colour.
	lx := float64(svgMargin)
	for _, name := range append(slices.Clone(t.Phases), Other) {
		p(`<rect x="%.1f" y="%d" width="10" height="10" fill="%s"/><text x="%.1f" y="%d">%s</text>`+"\n", lx, legendY, colour(name), lx+13, legendY+9, html.EscapeString(name))
		lx += 13 + 6*float64(len(name)) + 12
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

// onPath is how much of bar b lies on lane l's critical path.
func onPath(l Lane, b Bar) time.Duration {
	var d time.Duration
	for _, c := range l.Path {
		if c.Name != b.Name {
			continue
		}
		lo, hi := max(c.Start, b.Start), min(c.End, b.End)
		if hi > lo {
			d += hi - lo
		}
	}
	return d
}

// tick is a round step for the time axis: about 8 ticks.
func tick(wall time.Duration) time.Duration {
	for _, s := range []time.Duration{10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000} {
		if d := s * time.Millisecond; wall/d <= 10 {
			return d
		}
	}
	return 5 * time.Minute
}
