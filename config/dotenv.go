package config

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readDotenv reads a .env file. A missing file yields (nil, false, nil).
func readDotenv(path string) (map[string]string, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &Error{File: path, Msg: "cannot read: " + err.Error(), err: err}
	}
	vars, perr := parseDotenv(path, data)
	if perr != nil {
		return nil, true, perr
	}
	return vars, true, nil
}

// parseDotenv parses KEY=VALUE lines. Blank lines and lines starting with #
// are skipped; a leading "export " is allowed; a value in single quotes is
// taken literally, one in double quotes understands \n, \t, \" and \\, and an
// unquoted value ends at " #" (an inline comment). Later lines win.
func parseDotenv(file string, data []byte) (map[string]string, *Error) {
	vars := map[string]string{}
	text := strings.TrimPrefix(string(data), "\ufeff")
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, &Error{File: file, Line: lineNo, Col: 1, Msg: "expected KEY=VALUE"}
		}
		if !envNameRE.MatchString(key) {
			return nil, &Error{File: file, Line: lineNo, Col: 1, Msg: "invalid variable name " + strconv.Quote(key)}
		}
		val = strings.TrimSpace(val)
		switch {
		case strings.HasPrefix(val, "'"):
			end := strings.IndexByte(val[1:], '\'')
			if end < 0 {
				return nil, &Error{File: file, Line: lineNo, Col: 1, Path: key, Msg: "unterminated single quote"}
			}
			val = val[1 : 1+end]
		case strings.HasPrefix(val, `"`):
			var b strings.Builder
			closed := false
			for j := 1; j < len(val); j++ {
				ch := val[j]
				if ch == '\\' && j+1 < len(val) {
					j++
					switch val[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '"', '\\', '$':
						b.WriteByte(val[j])
					default:
						b.WriteByte('\\')
						b.WriteByte(val[j])
					}
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				b.WriteByte(ch)
			}
			if !closed {
				return nil, &Error{File: file, Line: lineNo, Col: 1, Path: key, Msg: "unterminated double quote"}
			}
			val = b.String()
		default:
			if j := strings.Index(val, " #"); j >= 0 {
				val = val[:j]
			} else if j := strings.Index(val, "\t#"); j >= 0 {
				val = val[:j]
			}
			val = strings.TrimSpace(val)
		}
		vars[key] = val
	}
	return vars, nil
}
