package railscreds

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Ruby's Marshal format 4.8, only as far as a dumped String goes: Rails
// serializes the credentials YAML with Marshal.dump(string). A UTF-8 string
// is `I"<len><bytes>` followed by one instance variable, :E => true; a
// binary one (read with binread, as `rails credentials:edit` does after
// the editor closes) is a bare `"<len><bytes>`; other encodings carry
// :encoding => "NAME". Symbols after the first are back-references (;n).

const marshalMajor, marshalMinor = 4, 8

var errNotMarshal = errors.New("not Ruby Marshal data")

type marshalReader struct {
	b       []byte
	pos     int
	symbols []string
}

// UnmarshalString decodes Marshal.dump(string) and returns the string.
// Anything else (a Hash, an Integer, ...) is an error: credentials never
// hold one.
func UnmarshalString(b []byte) (string, error) {
	if len(b) < 2 || b[0] != marshalMajor || b[1] != marshalMinor {
		return "", errNotMarshal
	}
	r := &marshalReader{b: b, pos: 2}
	s, err := r.string()
	if err != nil {
		return "", fmt.Errorf("ruby marshal: %w", err)
	}
	if r.pos != len(b) {
		return "", fmt.Errorf("ruby marshal: %d bytes left after the string", len(b)-r.pos)
	}
	return s, nil
}

// MarshalString is Marshal.dump of a UTF-8 string, as Ruby writes it.
func MarshalString(s string) []byte {
	out := []byte{marshalMajor, marshalMinor, 'I', '"'}
	out = appendFixnum(out, len(s))
	out = append(out, s...)
	out = append(out, 0x06, ':', 0x06, 'E', 'T') // 1 ivar, :E => true
	return out
}

func (r *marshalReader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errors.New("truncated")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// fixnum reads Marshal's variable-length integer.
func (r *marshalReader) fixnum() (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	v := int(int8(c))
	switch {
	case v == 0:
		return 0, nil
	case v >= 5:
		return v - 5, nil
	case v <= -5:
		return v + 5, nil
	case v > 0: // 1..4 little-endian bytes follow
		n := 0
		for i := 0; i < v; i++ {
			c, err := r.byte()
			if err != nil {
				return 0, err
			}
			n |= int(c) << (8 * i)
		}
		return n, nil
	default: // -1..-4: a negative number in that many bytes
		n := -1
		for i := 0; i < -v; i++ {
			c, err := r.byte()
			if err != nil {
				return 0, err
			}
			n &^= 0xff << (8 * i)
			n |= int(c) << (8 * i)
		}
		return n, nil
	}
}

func appendFixnum(out []byte, n int) []byte {
	switch {
	case n == 0:
		return append(out, 0)
	case n > 0 && n < 123:
		return append(out, byte(n+5))
	}
	var buf []byte
	for v := n; v != 0 && len(buf) < 4; v >>= 8 {
		buf = append(buf, byte(v))
	}
	return append(append(out, byte(len(buf))), buf...)
}

func (r *marshalReader) bytes() ([]byte, error) {
	n, err := r.fixnum()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > len(r.b)-r.pos {
		return nil, errors.New("truncated")
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

// symbol reads a Symbol (:) or a back-reference to one (;).
func (r *marshalReader) symbol() (string, error) {
	c, err := r.byte()
	if err != nil {
		return "", err
	}
	switch c {
	case ':':
		b, err := r.bytes()
		if err != nil {
			return "", err
		}
		r.symbols = append(r.symbols, string(b))
		return string(b), nil
	case ';':
		i, err := r.fixnum()
		if err != nil {
			return "", err
		}
		if i < 0 || i >= len(r.symbols) {
			return "", fmt.Errorf("symbol link %d out of range", i)
		}
		return r.symbols[i], nil
	}
	return "", fmt.Errorf("expected a symbol, found type %q", c)
}

// string reads a String, bare or wrapped with its encoding ivars.
func (r *marshalReader) string() (string, error) {
	c, err := r.byte()
	if err != nil {
		return "", err
	}
	wrapped := c == 'I'
	if wrapped {
		if c, err = r.byte(); err != nil {
			return "", err
		}
	}
	if c != '"' {
		return "", fmt.Errorf("expected a String, found type %q", c)
	}
	b, err := r.bytes()
	if err != nil {
		return "", err
	}
	if !wrapped {
		return string(b), nil // ASCII-8BIT: the bytes as they are
	}
	n, err := r.fixnum()
	if err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		name, err := r.symbol()
		if err != nil {
			return "", err
		}
		v, err := r.byte()
		if err != nil {
			return "", err
		}
		switch {
		case name == "E" && (v == 'T' || v == 'F'):
			// UTF-8 (T) or US-ASCII (F): both read as Go strings.
		case name == "encoding" && v == '"':
			enc, err := r.bytes()
			if err != nil {
				return "", err
			}
			if !utf8.Valid(b) {
				return "", fmt.Errorf("a string in encoding %s, which mrsk does not convert", enc)
			}
		default:
			return "", fmt.Errorf("unexpected instance variable %s on the string", name)
		}
	}
	return string(b), nil
}
