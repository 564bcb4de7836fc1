// Package output prints progress for humans: steps, and lines prefixed by the
// host they came from. One mutex guards the writer so lines from hosts
// working in parallel never interleave mid-line.
package output

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Printer writes progress lines. The zero value is not usable; use New.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
}

// New returns a Printer writing to w. A quiet Printer prints only errors and
// the output of commands the user asked to see (Always).
func New(w io.Writer, quiet bool) *Printer { return &Printer{w: w, quiet: quiet} }

func prefix(host string) string {
	if host == "" {
		return ""
	}
	return "[" + host + "] "
}

// Line prints one line, prefixed by host when host is not empty.
func (p *Printer) Line(host, text string) {
	if p.quiet {
		return
	}
	p.Always(host, text)
}

// Always prints even in quiet mode: command output the user asked for.
func (p *Printer) Always(host, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s\n", prefix(host), text)
}

// Step announces a step of a flow.
func (p *Printer) Step(title string) { p.Line("", "== "+title) }

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
	if l.always {
		l.p.Always(l.host, line)
	} else {
		l.p.Line(l.host, line)
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
