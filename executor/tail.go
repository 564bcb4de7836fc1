package executor

// tailBuffer keeps the last max bytes written to it. A streamed command
// (app logs -f, a long build) prints its output as it arrives; what the
// Result and error messages need is its end, so memory stays bounded
// however long it runs.
type tailBuffer struct {
	max   int
	buf   []byte // ring, len(buf) <= max
	start int    // index of the oldest byte once the ring is full
	total int64  // bytes ever written
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	if t.max <= 0 {
		return n, nil
	}
	if len(p) >= t.max {
		// Only the end of p survives: start over with it.
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		t.start = 0
		return n, nil
	}
	if room := t.max - len(t.buf); room > 0 {
		k := min(room, len(p))
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
	}
	// The ring is full: overwrite the oldest bytes.
	for len(p) > 0 {
		k := copy(t.buf[t.start:], p)
		p = p[k:]
		t.start = (t.start + k) % len(t.buf)
	}
	return n, nil
}

// String returns the kept bytes, oldest first.
func (t *tailBuffer) String() string {
	if t.start == 0 {
		return string(t.buf)
	}
	return string(t.buf[t.start:]) + string(t.buf[:t.start])
}

// Truncated reports whether bytes were dropped.
func (t *tailBuffer) Truncated() bool { return t.total > int64(len(t.buf)) }
