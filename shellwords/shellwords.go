// Package shellwords quotes words for a POSIX shell and splits a command
// line into words the way such a shell would. Every remote command mrsk
// runs is one shell line, so quoting is where injection is stopped.
package shellwords

import (
	"strconv"
	"strings"
)

// Quote makes s one shell word. Plain words stay unquoted, so plans (the
// printed command lines) read as a person would type them.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them into one command line.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// QuoteError is a quote opened and never closed.
type QuoteError struct {
	Kind string // "single" or "double"
	Line string // the whole line being split
}

func (e *QuoteError) Error() string {
	return "unterminated " + e.Kind + " quote in " + strconv.Quote(e.Line)
}

// Split splits a command the way a POSIX shell would split words, honouring
// single and double quotes and backslashes. It expands nothing ($VAR, globs
// and ~ stay as written): the words go to a container as its command, with
// no shell in between. An unbalanced quote is a *QuoteError.
func Split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, &QuoteError{Kind: "single", Line: s}
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, &QuoteError{Kind: "double", Line: s}
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
