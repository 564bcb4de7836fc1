// Package output prints progress for humans: steps, and lines prefixed by the
// host they came from. One mutex guards the writer so lines from hosts
// working in parallel never interleave mid-line.
//
// On a large fleet the lines of one step are summarized instead (see
// Collapse): 200 hosts each saying "pulled app:v2" print one line, not 200.
package output

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CollapseAbove is the fleet size from which Collapse summarizes: up to
// this many hosts, one line per host stays readable.
const CollapseAbove = 10

// Printer writes progress lines. The zero value is not usable; use New.
type Printer struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	events *Stream // --output json: every step, line and command is an event too
	github bool    // GitHub Actions: each step is a ::group:: of the log
	inGrp  bool    // a ::group:: is open
	live   *liveView

	fleet  int               // > 0 while collapsing: the number of hosts
	groups []*group          // held lines of the current step, in order
	byKey  map[string]*group // groups by host kind and text
}

// group is the lines of one step that say the same thing.
type group struct {
	host     string // the first host that printed it ("" for unprefixed lines)
	text     string // the line, its duration replaced by durationMark
	count    int
	min, max float64 // the durations seen, when the text has one
	timed    bool
}

// New returns a Printer writing to w. A quiet Printer prints only errors and
// the output of commands the user asked to see (Always).
func New(w io.Writer, quiet bool) *Printer { return &Printer{w: w, quiet: quiet} }

// Options are what a Printer does beyond plain lines.
type Options struct {
	Quiet bool
	// Events receives every step, line and (Command) finished command as
	// a JSON event, whatever Quiet says: the stream is for programs.
	Events *Stream
	// GitHub folds each step into a ::group:: of a GitHub Actions log.
	GitHub bool
	// Live, for a terminal, keeps a status line per host below the
	// printed lines, updated in place (see live.go); Width is its width.
	Live  bool
	Width int
}

// NewWith returns a Printer writing to w with o. Close it when done.
func NewWith(w io.Writer, o Options) *Printer {
	p := &Printer{w: w, quiet: o.Quiet, events: o.Events, github: o.GitHub}
	if o.Live {
		p.live = newLiveView(p, o.Width)
	}
	return p
}

// Close ends what is open: the held lines of Collapse, a ::group::, and
// the live view (its status lines are erased). Call it before printing
// the final error.
func (p *Printer) Close() {
	p.Flush()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endGroupLocked()
	if p.live != nil {
		p.live.stopLocked()
		p.live = nil
	}
}

// writeLocked writes one line (with its newline) to w, under the live
// view's status lines when there is one.
func (p *Printer) writeLocked(line string) {
	if p.live != nil {
		p.live.writeLocked(line)
		return
	}
	io.WriteString(p.w, line)
}

func (p *Printer) endGroupLocked() {
	if p.inGrp {
		p.writeLocked("::endgroup::\n")
		p.inGrp = false
	}
}

// logEvent emits a log event for a printed line.
func (p *Printer) logEvent(host, text string) {
	if p.events != nil {
		p.events.Emit(Event{Type: "log", Host: host, Message: Ptr(text)})
	}
}

// Command reports a finished command (a JSON event; nothing is printed).
// cmd is its display form, which never holds a secret.
func (p *Printer) Command(host, cmd string, exit int, d time.Duration) {
	if p.events != nil {
		p.events.Emit(Event{Type: "command", Host: host, Cmd: cmd, Exit: Ptr(exit), DurationMS: Ptr(d.Milliseconds())})
	}
}

// Emit writes e to the event stream, if there is one.
func (p *Printer) Emit(e Event) { p.events.Emit(e) }

// JSON reports whether events go to a JSON stream.
func (p *Printer) JSON() bool { return p.events != nil }

func prefix(host string) string {
	if host == "" {
		return ""
	}
	return "[" + host + "] "
}

// Line prints one line, prefixed by host when host is not empty.
func (p *Printer) Line(host, text string) {
	if p.quiet {
		p.logEvent(host, text)
		return
	}
	p.Always(host, text)
}

// Always prints even in quiet mode: command output the user asked for.
func (p *Printer) Always(host, text string) {
	p.logEvent(host, text)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live != nil && host != "" {
		p.live.setLocked(host, "") // a line for host: what it waited for is over
	}
	if p.fleet > 0 {
		p.holdLocked(host, text)
		return
	}
	p.writeLocked(prefix(host) + text + "\n")
}

// print writes a line at once, even while collapsing: streamed command
// output, which may never end (logs -f), is not held.
func (p *Printer) print(host, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeLocked(prefix(host) + text + "\n")
}

// Step announces a step of a flow; while collapsing, it first prints the
// summary of the step before.
func (p *Printer) Step(title string) {
	if p.events != nil {
		p.events.Emit(Event{Type: "step", Title: title})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	if p.fleet > 0 {
		title = shortenLists(title)
	}
	if p.live != nil {
		p.live.stepLocked(title)
	}
	if p.quiet {
		return
	}
	if p.github {
		// One fold per step; the title line stays as it always was.
		p.endGroupLocked()
		p.writeLocked("::group::" + title + "\n")
		p.inGrp = true
	}
	p.writeLocked("== " + title + "\n")
}

// longListRE finds lists of more than 6 comma-separated words: on a large
// fleet, host lists in step titles and messages.
var longListRE = regexp.MustCompile(`[^\s,()]+(?:, [^\s,()]+){6,}`)

// shortenLists keeps the first 3 items of long lists: "a, b, c and 197 more".
func shortenLists(s string) string {
	return longListRE.ReplaceAllStringFunc(s, func(list string) string {
		items := strings.Split(list, ", ")
		return fmt.Sprintf("%s and %d more", strings.Join(items[:3], ", "), len(items)-3)
	})
}

// Collapse makes the printer summarize a fleet of hosts: until Flush, the
// lines of a step are held, and lines that say the same thing (durations
// aside) print once when the step ends, with how many hosts said it:
//
//	[200/200 hosts] pulled app:v2
//	[200/200 hosts] app-web-v2 is healthy (0.1s-0.4s)
//
// A line only one host printed stays as it was. Streamed command output
// (Writer) is never held. For CollapseAbove hosts or fewer it does nothing.
func (p *Printer) Collapse(hosts int) {
	if hosts <= CollapseAbove {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fleet = hosts
	if p.byKey == nil {
		p.byKey = map[string]*group{}
	}
}

// Flush prints what is held and ends Collapse: later lines print at once.
// Call it when the flow ends, before anything else writes where the
// printer does (the final error, --timings).
func (p *Printer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	p.fleet = 0
}

// durationRE finds a duration such as "(0.3s)" in a progress line.
var durationRE = regexp.MustCompile(`\((\d+(?:\.\d+)?)s\)`)

const durationMark = "\x00"

func (p *Printer) holdLocked(host, text string) {
	text = shortenLists(text)
	key := text
	var secs float64
	timed := false
	if m := durationRE.FindStringSubmatchIndex(text); m != nil {
		secs, _ = strconv.ParseFloat(text[m[2]:m[3]], 64)
		key, timed = text[:m[0]]+durationMark+text[m[1]:], true
	}
	text = key
	if host == "" {
		key = "local\x00" + key
	} else {
		key = "host\x00" + key
	}
	g := p.byKey[key]
	if g == nil {
		g = &group{host: host, text: text, min: secs, max: secs, timed: timed}
		p.byKey[key] = g
		p.groups = append(p.groups, g)
	}
	g.count++
	g.min, g.max = min(g.min, secs), max(g.max, secs)
}

func (p *Printer) flushLocked() {
	for _, g := range p.groups {
		p.writeLocked(g.format(p.fleet) + "\n")
	}
	p.groups = p.groups[:0]
	clear(p.byKey)
}

func (g *group) format(fleet int) string {
	text := g.text
	if g.timed {
		d := fmt.Sprintf("(%.1fs)", g.min)
		if fmt.Sprintf("%.1f", g.min) != fmt.Sprintf("%.1f", g.max) {
			d = fmt.Sprintf("(%.1fs-%.1fs)", g.min, g.max)
		}
		text = strings.Replace(text, durationMark, d, 1)
	}
	switch {
	case g.host == "" && g.count > 1:
		return fmt.Sprintf("%s (%d times)", text, g.count)
	case g.host == "" || g.count == 1:
		return prefix(g.host) + text
	}
	return fmt.Sprintf("[%d/%d hosts] %s", g.count, fleet, text)
}

// Writer returns an io.Writer that prints each complete line prefixed by
// host. Call Flush (via the returned func) to print a trailing partial line.
func (p *Printer) Writer(host string, always bool) *LineWriter {
	return &LineWriter{p: p, host: host, always: always}
}

// LineWriter splits a byte stream into lines for a Printer.
type LineWriter struct {
	p      *Printer
	host   string
	always bool
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *LineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(l.buf.Next(i + 1))
		l.emit(line[:len(line)-1])
	}
	return len(b), nil
}

func (l *LineWriter) emit(line string) {
	line = string(bytes.TrimRight([]byte(line), "\r"))
	l.p.logEvent(l.host, line)
	if !l.always && l.p.status(l.host, line) {
		// On a terminal, a long command's output is its host's status
		// line (pull and push progress), not lines that scroll away.
		return
	}
	if l.always || !l.p.quiet {
		l.p.print(l.host, line)
	}
}

// Flush prints what is left without a trailing newline.
func (l *LineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.emit(l.buf.String())
		l.buf.Reset()
	}
}
