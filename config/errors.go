package config

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Error is every error Load returns. It names the file, the position of the
// offending node (when there is one) and the key path, e.g.
//
//	config/deploy.yml:7:5: servers.web.hosts[1]: must be a string
type Error struct {
	File      string
	Line, Col int
	// Path is the key path of the offending value, like "servers.web.hosts[1]";
	// empty for errors about a whole file.
	Path string
	Msg  string

	err error // underlying cause (I/O errors), for errors.Is/As
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, such as an *fs.PathError.
func (e *Error) Unwrap() error { return e.err }

var yamlLineRE = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// yamlError turns a go.yaml.in/yaml/v3 parse error into an *Error.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2], err: err}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: "), err: err}
}

// suggest returns the known key nearest to key when it is close enough to be
// a likely typo, or "".
func suggest(key string, known []string) string {
	lk := strings.ToLower(key)
	best, bestD := "", -1
	for _, k := range known {
		d := editDistance(lk, k)
		if bestD < 0 || d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	// A truncated key ("health" for "healthcheck").
	if len(lk) >= 4 {
		for _, k := range known {
			if strings.HasPrefix(k, lk) {
				return k
			}
		}
	}
	return ""
}

// unknownKeyMsg is the message for a key that is not one of known.
func unknownKeyMsg(key string, known []string) string {
	if s := suggest(key, known); s != "" {
		return "unknown key; did you mean " + strconv.Quote(s) + "?"
	}
	ks := append([]string(nil), known...)
	sort.Strings(ks)
	return "unknown key; expected one of: " + strings.Join(ks, ", ")
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Keys this long are never typos of ours; avoid quadratic work.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	n, m := len(ra), len(rb)
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
		d[i][0] = i
	}
	for j := 0; j <= m; j++ {
		d[0][j] = j
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[n][m]
}
