package output

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The live view: on a terminal, below the printed lines, a block of status
// lines (the step running, with its elapsed time and batch; one line per
// busy host: the last line of its pull or push, or what it waits for, with
// the time spent) is redrawn in place. Printed lines go above it: the block
// is erased, the line written, the block drawn again, all under the
// Printer's lock. Nothing of it reaches a pipe or a file: the caller turns
// it on only for a terminal.

const (
	liveTick     = 150 * time.Millisecond
	liveMaxHosts = 8 // status lines shown; the rest are counted
	eraseUp      = "\x1b[%dA\r\x1b[J"
)

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

type liveView struct {
	p      *Printer
	width  int
	title  string
	since  time.Time // the step's start
	header string    // set by Status("", text): batch n of m
	order  []string
	hosts  map[string]hostStatus
	drawn  int // lines of the block on screen now
	frame  int
	stop   chan struct{}
	now    func() time.Time
}

type hostStatus struct {
	text  string
	since time.Time
}

func newLiveView(p *Printer, width int) *liveView {
	if width <= 0 {
		width = 80
	}
	v := &liveView{p: p, width: width, hosts: map[string]hostStatus{}, stop: make(chan struct{}), now: time.Now}
	go v.tick()
	return v
}

// tick redraws the block, so elapsed times and the spinner move while
// nothing is printed.
func (v *liveView) tick() {
	t := time.NewTicker(liveTick)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
		}
		v.p.mu.Lock()
		if v.p.live == v {
			v.frame++
			v.redrawLocked()
		}
		v.p.mu.Unlock()
	}
}

func (v *liveView) stopLocked() {
	close(v.stop)
	v.eraseLocked()
}

func (v *liveView) eraseLocked() {
	if v.drawn > 0 {
		fmt.Fprintf(v.p.w, eraseUp, v.drawn)
		v.drawn = 0
	}
}

func (v *liveView) redrawLocked() {
	v.eraseLocked()
	v.drawLocked()
}

func (v *liveView) writeLocked(line string) {
	v.eraseLocked()
	fmt.Fprint(v.p.w, line)
	v.drawLocked()
}

func (v *liveView) drawLocked() {
	if v.title == "" {
		return
	}
	now := v.now()
	head := fmt.Sprintf("%s %s", spinner[v.frame%len(spinner)], v.title)
	if v.header != "" {
		head += " (" + v.header + ")"
	}
	lines := []string{fmt.Sprintf("%s %s", head, elapsed(now.Sub(v.since)))}
	for i, h := range v.order {
		if i == liveMaxHosts {
			lines = append(lines, fmt.Sprintf("  ... and %d more hosts", len(v.order)-liveMaxHosts))
			break
		}
		s := v.hosts[h]
		lines = append(lines, fmt.Sprintf("  [%s] %s %s", h, s.text, elapsed(now.Sub(s.since))))
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(clip(l, v.width-1))
		b.WriteString("\n")
	}
	fmt.Fprint(v.p.w, b.String())
	v.drawn = len(lines)
}

func (v *liveView) stepLocked(title string) {
	v.title, v.since, v.header = title, v.now(), ""
	v.order, v.hosts = nil, map[string]hostStatus{}
	v.redrawLocked()
}

// setLocked sets (text "" clears) host's status line; host "" is the
// step's own (batch n of m).
func (v *liveView) setLocked(host, text string) {
	if host == "" {
		v.header = text
		return
	}
	old, ok := v.hosts[host]
	switch {
	case text == "":
		if ok {
			delete(v.hosts, host)
			for i, h := range v.order {
				if h == host {
					v.order = append(v.order[:i], v.order[i+1:]...)
					break
				}
			}
		}
		return
	case !ok:
		v.order = append(v.order, host)
		old.since = v.now()
	}
	v.hosts[host] = hostStatus{text: text, since: old.since}
}

func elapsed(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// clip cuts s to n runes, so a status line never wraps (a wrapped line
// would break the count of lines to erase).
func clip(s string, n int) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// Status sets host's status line in the live view (host "" sets the step's:
// "batch 1 of 2"); text "" clears it. Without a live view it does nothing:
// plain output has no status lines.
func (p *Printer) Status(host, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live != nil {
		p.live.setLocked(host, text)
		p.live.redrawLocked()
	}
}

// status makes a streamed line host's status, when there is a live view.
func (p *Printer) status(host, line string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil || strings.TrimSpace(line) == "" {
		return p.live != nil
	}
	p.live.setLocked(host, strings.TrimSpace(line))
	p.live.redrawLocked()
	return true
}

// Live reports whether a live view is drawn.
func (p *Printer) Live() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live != nil
}
