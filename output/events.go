package output

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Schema is the version of the JSON event stream (--output json). It
// changes only when a field changes meaning or goes away; new fields and
// new event types keep it.
const Schema = 1

// TimeFormat is RFC 3339 with nanoseconds always written, so that every
// event's time has the same width and sorts as text.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Event is one line of the JSON stream. Which fields are set depends on
// Type (see README, "JSON output"); the pointers tell "zero" from "absent".
type Event struct {
	Schema int    `json:"schema"`
	Time   string `json:"time"`
	Type   string `json:"type"` // step, log, command, host_result, result
	Host   string `json:"host,omitempty"`

	Title   string  `json:"title,omitempty"`   // step
	Message *string `json:"message,omitempty"` // log

	Cmd        string `json:"cmd,omitempty"`         // command: as displayed, secrets [REDACTED]
	Exit       *int   `json:"exit,omitempty"`        // command
	DurationMS *int64 `json:"duration_ms,omitempty"` // command, result

	Command   string    `json:"command,omitempty"` // result: "deploy", "app containers", ...
	OK        *bool     `json:"ok,omitempty"`      // host_result, result
	Version   string    `json:"version,omitempty"` // host_result, result
	Hosts     *[]string `json:"hosts,omitempty"`   // result
	HealthyMS *int64    `json:"healthy_ms,omitempty"`
	RoutedMS  *int64    `json:"routed_ms,omitempty"`
	Error     string    `json:"error,omitempty"`     // result, on failure
	ExitCode  *int      `json:"exit_code,omitempty"` // result
	Data      any       `json:"data,omitempty"`      // result of read-only commands
}

// Stream writes events as newline-delimited JSON, one whole line per write
// under a lock, so events from hosts working in parallel never interleave.
type Stream struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewStream returns a Stream writing to w.
func NewStream(w io.Writer) *Stream { return &Stream{w: w, now: time.Now} }

// Emit stamps e with the schema and the time and writes it.
func (s *Stream) Emit(e Event) {
	if s == nil {
		return
	}
	e.Schema = Schema
	e.Time = s.now().UTC().Format(TimeFormat)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Commands hold <, > and &: keep them readable, not \u003c.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		// Data is built from plain values; a failure here is a bug, and
		// the stream must still say so in a line that parses.
		b.Reset()
		enc.Encode(Event{Schema: Schema, Time: e.Time, Type: "log", Message: Ptr("mrsk: cannot encode event: " + err.Error())})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(b.Bytes())
}

// Ptr returns a pointer to v: the optional fields of Event.
func Ptr[T any](v T) *T { return &v }
