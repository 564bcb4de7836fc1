package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
	"github.com/mrsk-go/mrsk/timeline"
)

// processStart is when this process began (as near as Go lets us see):
// --timings counts the wall time from here, so loading the config and
// the scripts is a phase too. Set once, never written after.
var processStart = time.Now()

// writeTimings reports the run's phases (--timings, --timings-svg): per
// host, from process start to now, the time each phase held the host up,
// summing to the wall time, and the remote commands run there. The
// benchmark (scripts/bench) reads the table's lines, which start with
// "timings ".
func writeTimings(out *output.Printer, g *Globals, title string, ctx starlark.HasAttrs, flowStart, flowEnd time.Time, rt *builtins.Runtime, ex executor.Executor) error {
	end := time.Now()
	var hosts []string
	if v, err := ctx.Attr("hosts"); err == nil {
		if l, ok := v.(*starlark.List); ok {
			for i := range l.Len() {
				if s, ok := starlark.AsString(l.Index(i)); ok {
					hosts = append(hosts, s)
				}
			}
		}
	}
	spans := append(rt.Spans(),
		timeline.Span{Name: "config", Start: processStart, End: flowStart},
		timeline.Span{Name: "exit", Start: flowEnd, End: end})
	// A lane per host that did something: the command's hosts first, then
	// others in order of appearance (the lock's primary host when -H
	// leaves it out, accessory hosts).
	var lanes []string
	for _, h := range hosts {
		if slices.ContainsFunc(spans, func(s timeline.Span) bool { return s.Host == h }) {
			lanes = append(lanes, h)
		}
	}
	for _, s := range spans {
		if s.Host != "" && !slices.Contains(lanes, s.Host) {
			lanes = append(lanes, s.Host)
		}
	}
	if len(lanes) == 0 {
		lanes = []string{"local"}
	}
	tl := timeline.Build(processStart, end, lanes, spans)
	counts := map[string]int{}
	if live, ok := ex.(*executor.Live); ok {
		counts = live.Counts()
	}
	if g.Timings {
		var buf bytes.Buffer
		tl.WriteTable(&buf, "timings ", counts)
		for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			out.Always("", line)
		}
		if n := counts[""]; n > 0 {
			out.Always("", fmt.Sprintf("timings local commands %d", n))
		}
	}
	if g.TimingsSVG != "" {
		var buf bytes.Buffer
		if err := tl.WriteSVG(&buf, title); err != nil {
			return err
		}
		if err := os.WriteFile(g.TimingsSVG, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--timings-svg: %w", err)
		}
	}
	return nil
}
