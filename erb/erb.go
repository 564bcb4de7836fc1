// Package erb renders the part of Ruby's ERB that deploy configs use:
// ENV lookups, string literals, comments, if/unless blocks and Rails
// credentials. No Ruby is evaluated: anything outside the subset is an
// error naming the file, the line and the expression, so a template never
// renders half-right.
//
// The rendered text is what Ruby would produce (removed blocks and trimmed
// newlines are gone), and a Result maps every output position back to the
// template, so errors found later (YAML's) still name the template's lines.
package erb

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Context is what templates can read.
type Context struct {
	// LookupEnv reads ENV; nil means an empty environment.
	LookupEnv func(string) (string, bool)
	// Credential reads Rails.application.credentials at a key path; ok is
	// false when a key is absent (nil in Ruby). nil means the template
	// cannot use credentials.
	Credential func(path []string) (value string, ok bool, err error)
}

// Error is a template error at a line of File.
type Error struct {
	File string
	Line int
	Tag  string // the tag as written, e.g. `<%= foo %>`; "" for errors about the whole file
	Msg  string
	Err  error // the cause, e.g. a credentials decryption error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Tag != "" {
		b.WriteString(": " + e.Tag)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Pos is a 1-based line and column (in characters, as YAML counts them).
type Pos struct{ Line, Col int }

// Result is a rendered template.
type Result struct {
	Output []byte
	src    []byte
	segs   []segment // in output order, covering Output

	outLines, srcLines []int // line start offsets of Output and src
}

// segment is a run of output: copied template text (literal) or a value
// rendered by a tag at src.
type segment struct {
	out, src, n int
	literal     bool
	secret      bool // a Rails credential value
}

// Render renders src (read from file, named in errors) with ctx.
func Render(file string, src []byte, ctx Context) (*Result, error) {
	p := &parser{file: file, src: src}
	toks, err := p.tokens()
	if err != nil {
		return nil, err
	}
	body, rest, err := p.block(toks, 0)
	if err != nil {
		return nil, err
	}
	if rest < len(toks) {
		t := toks[rest]
		return nil, p.errAt(t, "`"+t.word+"` without a matching if or unless")
	}
	r := &renderer{file: file, ctx: ctx, res: &Result{src: src}}
	if err := r.nodes(body); err != nil {
		return nil, err
	}
	r.res.outLines, r.res.srcLines = lineStarts(r.res.Output), lineStarts(src)
	return r.res, nil
}

// Source maps a position in Output to the template's position. A position
// inside a rendered value maps to the start of its tag.
func (r *Result) Source(p Pos) Pos {
	off := offsetOf(r.Output, r.outLines, p)
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].out+r.segs[i].n > off })
	var s int
	switch {
	case i < len(r.segs):
		g := r.segs[i]
		s = g.src
		if g.literal {
			s += max(0, off-g.out)
		}
	case len(r.segs) > 0:
		g := r.segs[len(r.segs)-1]
		s = g.src
		if g.literal {
			s += g.n
		}
	}
	return posOf(r.src, r.srcLines, s)
}

// Secrets returns where Rails credential values start in Output.
func (r *Result) Secrets() []Pos {
	var out []Pos
	for _, g := range r.segs {
		if g.secret {
			out = append(out, posOf(r.Output, r.outLines, g.out))
		}
	}
	return out
}

// lineStarts returns the offset of each line's first byte.
func lineStarts(b []byte) []int {
	starts := []int{0}
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf converts a position to a byte offset in b (clamped to b).
func offsetOf(b []byte, starts []int, p Pos) int {
	if p.Line > len(starts) {
		return len(b)
	}
	off := starts[max(p.Line, 1)-1]
	for col := 1; col < p.Col && off < len(b) && b[off] != '\n'; col++ {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// posOf converts a byte offset in b to a position.
func posOf(b []byte, starts []int, off int) Pos {
	off = min(max(off, 0), len(b))
	line := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) // >= 1
	return Pos{Line: line, Col: 1 + utf8.RuneCount(b[starts[line-1]:off])}
}

// Token kinds of the template.
const (
	tText = iota
	tOutput
	tCode
)

type token struct {
	kind int
	text string // text, or the code inside the tag, trimmed
	tag  string // the tag as written
	src  int    // offset in the template
	line int
	word string // for code: if, unless, elsif, else, end, or ""
	expr expr   // parsed expression of output, if, unless and elsif tags
	// escaped marks the "<%" that <%% writes: its length differs from
	// the template's, so it maps like a value.
	escaped bool
}

type parser struct {
	file string
	src  []byte
}

func (p *parser) errAt(t token, msg string) *Error {
	return &Error{File: p.file, Line: t.line, Tag: t.tag, Msg: msg}
}

// tokens splits the template into text and tags, applying the trim
// markers (-%> drops the newline after the tag, <%- the indentation
// before it) and parsing each tag's Ruby.
func (p *parser) tokens() ([]token, error) {
	s := string(p.src)
	var toks []token
	pos, line, counted := 0, 1, 0
	for pos < len(s) {
		i := strings.Index(s[pos:], "<%")
		if i < 0 {
			toks = append(toks, token{kind: tText, text: s[pos:], src: pos})
			break
		}
		start := pos + i
		if start > pos {
			toks = append(toks, token{kind: tText, text: s[pos:start], src: pos})
		}
		line += strings.Count(s[counted:start], "\n") // counted incrementally: no rescans
		counted = start
		if strings.HasPrefix(s[start:], "<%%") { // a literal <%
			toks = append(toks, token{kind: tText, text: "<%", src: start, escaped: true})
			pos = start + 3
			continue
		}
		end := strings.Index(s[start+2:], "%>")
		if end < 0 {
			return nil, &Error{File: p.file, Line: line, Tag: firstLine(s[start:]), Msg: "tag not closed: missing %>"}
		}
		end += start + 2
		tag := s[start : end+2]
		body := s[start+2 : end]
		pos = end + 2
		if strings.HasSuffix(body, "-") {
			body = body[:len(body)-1]
			if strings.HasPrefix(s[pos:], "\r\n") {
				pos += 2
			} else if strings.HasPrefix(s[pos:], "\n") {
				pos++
			}
		}
		t := token{tag: tag, src: start, line: line}
		switch {
		case strings.HasPrefix(body, "#"):
			continue // a comment
		case strings.HasPrefix(body, "="):
			t.kind = tOutput
			t.text = strings.TrimSpace(body[1:])
		case strings.HasPrefix(body, "-"):
			trimIndent(toks)
			t.kind = tCode
			t.text = strings.TrimSpace(body[1:])
		default:
			t.kind = tCode
			t.text = strings.TrimSpace(body)
		}
		if err := p.parseTag(&t); err != nil {
			return nil, err
		}
		if t.kind == tCode && t.word == "" {
			continue // an empty tag or a Ruby comment
		}
		toks = append(toks, t)
	}
	return toks, nil
}

// trimIndent drops the spaces and tabs before a <%- tag when only they
// stand between the tag and the start of its line.
func trimIndent(toks []token) {
	if len(toks) == 0 || toks[len(toks)-1].kind != tText {
		return
	}
	t := &toks[len(toks)-1]
	trimmed := strings.TrimRight(t.text, " \t")
	if trimmed == "" || strings.HasSuffix(trimmed, "\n") {
		t.text = trimmed
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// parseTag classifies a tag's code and parses its expression.
func (p *parser) parseTag(t *token) error {
	code := t.text
	if t.kind == tOutput {
		e, err := parseExpr(code)
		if err != nil {
			return p.errAt(*t, err.Error())
		}
		t.expr = e
		return nil
	}
	if code == "" || strings.HasPrefix(code, "#") {
		return nil
	}
	word, rest, _ := strings.Cut(code, " ")
	word = strings.TrimRight(word, ";")
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), " then"))
	switch word {
	case "if", "unless", "elsif":
		if rest == "" {
			return p.errAt(*t, "`"+word+"` needs a condition")
		}
		e, err := parseExpr(rest)
		if err != nil {
			return p.errAt(*t, err.Error())
		}
		t.word, t.expr = word, e
		return nil
	case "else", "end":
		if strings.TrimSpace(strings.TrimPrefix(code, word)) != "" {
			return p.errAt(*t, notRuby)
		}
		t.word = word
		return nil
	}
	return p.errAt(*t, notRuby)
}

// Template tree.
type tnode interface{}

type textNode struct {
	text    string
	src     int
	escaped bool
}

type outNode struct{ tok token }

type ifNode struct {
	conds  []token // if/unless, then elsif...
	bodies [][]tnode
	els    []tnode // nil without else
}

// block parses tokens from i up to an elsif, else or end (or the end),
// returning the nodes and the index where it stopped.
func (p *parser) block(toks []token, i int) ([]tnode, int, error) {
	var out []tnode
	for i < len(toks) {
		t := toks[i]
		switch t.kind {
		case tText:
			out = append(out, textNode{text: t.text, src: t.src, escaped: t.escaped})
			i++
			continue
		case tOutput:
			out = append(out, outNode{tok: t})
			i++
			continue
		}
		switch t.word {
		case "elsif", "else", "end":
			return out, i, nil
		}
		// if or unless
		n := &ifNode{}
		open := t
		for {
			body, j, err := p.block(toks, i+1)
			if err != nil {
				return nil, 0, err
			}
			n.conds = append(n.conds, toks[i])
			n.bodies = append(n.bodies, body)
			if j >= len(toks) {
				return nil, 0, p.errAt(open, "no matching <% end %>")
			}
			i = j
			if toks[i].word == "elsif" {
				continue
			}
			if toks[i].word == "else" {
				els, k, err := p.block(toks, i+1)
				if err != nil {
					return nil, 0, err
				}
				if k >= len(toks) || toks[k].word != "end" {
					return nil, 0, p.errAt(open, "no matching <% end %>")
				}
				n.els = append([]tnode{}, els...)
				i = k
			}
			break
		}
		i++ // the end
		out = append(out, n)
	}
	return out, i, nil
}

type renderer struct {
	file string
	ctx  Context
	res  *Result
}

func (r *renderer) emit(s string, src int, literal, secret bool) {
	if s == "" {
		return
	}
	r.res.segs = append(r.res.segs, segment{out: len(r.res.Output), src: src, n: len(s), literal: literal, secret: secret})
	r.res.Output = append(r.res.Output, s...)
}

func (r *renderer) nodes(ns []tnode) error {
	for _, n := range ns {
		switch n := n.(type) {
		case textNode:
			r.emit(n.text, n.src, !n.escaped, false)
		case outNode:
			v, err := r.eval(n.tok)
			if err != nil {
				return err
			}
			if v.kind == nilV && v.missing != "" {
				return &Error{File: r.file, Line: n.tok.line, Tag: n.tok.tag, Msg: v.missing}
			}
			r.emit(v.String(), n.tok.src, false, v.secret)
		case *ifNode:
			taken := false
			for i, c := range n.conds {
				v, err := r.eval(c)
				if err != nil {
					return err
				}
				if v.truthy() != (c.word == "unless") {
					taken = true
					if err := r.nodes(n.bodies[i]); err != nil {
						return err
					}
					break
				}
			}
			if !taken {
				if err := r.nodes(n.els); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r *renderer) eval(t token) (value, error) {
	v, err := t.expr.eval(&r.ctx)
	if err != nil {
		e := &Error{File: r.file, Line: t.line, Tag: t.tag, Msg: err.Error()}
		if ce, ok := err.(*credError); ok {
			e.Msg, e.Err = ce.err.Error(), ce.err
		}
		return value{}, e
	}
	return v, nil
}
