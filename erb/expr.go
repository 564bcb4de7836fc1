package erb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// notRuby is the message for anything outside the subset.
const notRuby = "Ruby is not evaluated: mrsk's ERB understands ENV[\"NAME\"], ENV.fetch(\"NAME\"[, \"default\"]), " +
	"string literals, ||, == and !=, Rails.application.credentials (.a.b, [:a], [\"a\"], .dig(:a, :b)), " +
	"if/elsif/else/unless/end and <%# comments %>"

type valueKind int

const (
	nilV valueKind = iota
	strV
	boolV
)

// value is a Ruby value of the subset: nil, a String or a boolean.
type value struct {
	kind   valueKind
	s      string
	b      bool
	secret bool
	// missing says why a nil is nil (an unset variable, an absent
	// credential): rendering such a nil is an error, testing it is not.
	missing string
}

func (v value) truthy() bool {
	switch v.kind {
	case nilV:
		return false
	case boolV:
		return v.b
	}
	return true // "" is true in Ruby
}

func (v value) String() string {
	switch v.kind {
	case strV:
		return v.s
	case boolV:
		return strconv.FormatBool(v.b)
	}
	return ""
}

type expr interface {
	eval(ctx *Context) (value, error)
}

type litExpr struct{ v value }

func (e litExpr) eval(*Context) (value, error) { return e.v, nil }

// envExpr is ENV["NAME"] (nil when unset) or ENV.fetch("NAME"[, default])
// (an error when unset without a default).
type envExpr struct {
	name  string
	fetch bool
	def   expr // fetch's default, or nil
}

func (e envExpr) eval(ctx *Context) (value, error) {
	if ctx.LookupEnv != nil {
		if v, ok := ctx.LookupEnv(e.name); ok {
			return value{kind: strV, s: v}, nil
		}
	}
	if e.def != nil {
		return e.def.eval(ctx)
	}
	msg := fmt.Sprintf("environment variable %s is not set", strconv.Quote(e.name))
	if e.fetch {
		return value{}, errors.New(msg)
	}
	return value{missing: msg}, nil
}

// credExpr is Rails.application.credentials followed by keys.
type credExpr struct{ path []string }

// credError carries a credentials error (decryption, a map where a value
// was expected) through eval unchanged.
type credError struct{ err error }

func (e *credError) Error() string { return e.err.Error() }

func (e credExpr) eval(ctx *Context) (value, error) {
	if len(e.path) == 0 {
		return value{}, errors.New("Rails.application.credentials is a map: name a key, e.g. credentials.registry.password")
	}
	if ctx.Credential == nil {
		return value{}, errors.New("Rails credentials cannot be read here")
	}
	s, ok, err := ctx.Credential(e.path)
	if err != nil {
		return value{}, &credError{err}
	}
	if !ok {
		return value{missing: "Rails credentials have no " + strings.Join(e.path, ".")}, nil
	}
	return value{kind: strV, s: s, secret: true}, nil
}

type orExpr struct{ a, b expr }

func (e orExpr) eval(ctx *Context) (value, error) {
	a, err := e.a.eval(ctx)
	if err != nil || a.truthy() {
		return a, err
	}
	return e.b.eval(ctx)
}

type cmpExpr struct {
	a, b expr
	neq  bool
}

func (e cmpExpr) eval(ctx *Context) (value, error) {
	a, err := e.a.eval(ctx)
	if err != nil {
		return value{}, err
	}
	b, err := e.b.eval(ctx)
	if err != nil {
		return value{}, err
	}
	eq := a.kind == b.kind && a.s == b.s && a.b == b.b
	return value{kind: boolV, b: eq != e.neq}, nil
}

// Lexer.

type tokKind int

const (
	kEOF tokKind = iota
	kIdent
	kString
	kSymbol
	kPunct // . [ ] ( ) ,
	kOp    // == != ||
)

type lexTok struct {
	kind tokKind
	s    string
}

func lex(code string) ([]lexTok, error) {
	var out []lexTok
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(code) && isIdentChar(code[j]) {
				j++
			}
			if j < len(code) && (code[j] == '?' || code[j] == '!') {
				j++
			}
			out = append(out, lexTok{kIdent, code[i:j]})
			i = j
		case c == '"' || c == '\'':
			s, n, err := lexString(code[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, lexTok{kString, s})
			i += n
		case c == ':' && i+1 < len(code) && isIdentStart(code[i+1]):
			j := i + 2
			for j < len(code) && isIdentChar(code[j]) {
				j++
			}
			out = append(out, lexTok{kSymbol, code[i+1 : j]})
			i = j
		case c == ':' && i+1 < len(code) && (code[i+1] == '"' || code[i+1] == '\''):
			s, n, err := lexString(code[i+1:])
			if err != nil {
				return nil, err
			}
			out = append(out, lexTok{kSymbol, s})
			i += 1 + n
		case strings.ContainsRune(".[](),", rune(c)):
			out = append(out, lexTok{kPunct, string(c)})
			i++
		case strings.HasPrefix(code[i:], "==") || strings.HasPrefix(code[i:], "!=") || strings.HasPrefix(code[i:], "||"):
			out = append(out, lexTok{kOp, code[i : i+2]})
			i += 2
		default:
			return nil, errors.New(notRuby)
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// lexString reads a Ruby string literal at the start of s, returning its
// value and its length in s. Interpolation (#{...}) is Ruby, so refused.
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			i++
			d := s[i]
			if q == '\'' {
				if d != '\'' && d != '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(d)
				continue
			}
			switch d {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 's':
				b.WriteByte(' ')
			case '0':
				b.WriteByte(0)
			case 'e':
				b.WriteByte(0x1b)
			default:
				b.WriteByte(d)
			}
		case q == '"' && c == '#' && i+1 < len(s) && strings.ContainsRune("{@$", rune(s[i+1])):
			return "", 0, errors.New("string interpolation (#{...}) is Ruby: " + notRuby)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated string")
}

// Parser: expr := cmp ('||' cmp)*; cmp := primary (('=='|'!=') primary)?

type exprParser struct {
	toks []lexTok
	i    int
}

func parseExpr(code string) (expr, error) {
	if code == "" {
		return nil, errors.New("empty <%= %> tag")
	}
	toks, err := lex(code)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, errors.New(notRuby)
	}
	return e, nil
}

func (p *exprParser) peek() lexTok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return lexTok{}
}

func (p *exprParser) next() lexTok {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

// accept consumes the next token if it is s (punctuation, an operator or
// an identifier).
func (p *exprParser) accept(s string) bool {
	t := p.peek()
	if (t.kind == kPunct || t.kind == kOp || t.kind == kIdent) && t.s == s {
		p.i++
		return true
	}
	return false
}

func (p *exprParser) expect(s string) error {
	if !p.accept(s) {
		return errors.New(notRuby)
	}
	return nil
}

func (p *exprParser) or() (expr, error) {
	a, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for p.accept("||") {
		b, err := p.cmp()
		if err != nil {
			return nil, err
		}
		a = orExpr{a, b}
	}
	return a, nil
}

func (p *exprParser) cmp() (expr, error) {
	a, err := p.primary()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!="} {
		if p.accept(op) {
			b, err := p.primary()
			if err != nil {
				return nil, err
			}
			return cmpExpr{a: a, b: b, neq: op == "!="}, nil
		}
	}
	return a, nil
}

func (p *exprParser) primary() (expr, error) {
	t := p.next()
	switch {
	case t.kind == kString:
		return litExpr{value{kind: strV, s: t.s}}, nil
	case t.kind == kIdent && t.s == "nil":
		return litExpr{value{}}, nil
	case t.kind == kIdent && (t.s == "true" || t.s == "false"):
		return litExpr{value{kind: boolV, b: t.s == "true"}}, nil
	case t.kind == kIdent && t.s == "ENV":
		return p.env()
	case t.kind == kIdent && t.s == "Rails":
		return p.credentials()
	case t.kind == kPunct && t.s == "(":
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	}
	return nil, errors.New(notRuby)
}

// env parses what follows ENV: ["NAME"] or .fetch("NAME"[, default]).
func (p *exprParser) env() (expr, error) {
	if p.accept("[") {
		name := p.next()
		if name.kind != kString {
			return nil, errors.New(notRuby)
		}
		return envExpr{name: name.s}, p.expect("]")
	}
	if !p.accept(".") || !p.accept("fetch") {
		return nil, errors.New(notRuby)
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	name := p.next()
	if name.kind != kString {
		return nil, errors.New(notRuby)
	}
	e := envExpr{name: name.s, fetch: true}
	if p.accept(",") {
		d, err := p.primary()
		if err != nil {
			return nil, err
		}
		e.def = d
	}
	return e, p.expect(")")
}

// credentials parses .application.credentials and the keys after it:
// .key, [:key], ["key"] and .dig(:a, "b", ...).
func (p *exprParser) credentials() (expr, error) {
	if !p.accept(".") || !p.accept("application") || !p.accept(".") || !p.accept("credentials") {
		return nil, errors.New(notRuby)
	}
	var e credExpr
	for {
		switch {
		case p.accept("."):
			t := p.next()
			if t.kind != kIdent || strings.ContainsAny(t.s, "?!") {
				return nil, errors.New(notRuby)
			}
			if t.s != "dig" {
				e.path = append(e.path, t.s)
				continue
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			for {
				k := p.next()
				if k.kind != kSymbol && k.kind != kString {
					return nil, errors.New(notRuby)
				}
				e.path = append(e.path, k.s)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
		case p.accept("["):
			k := p.next()
			if k.kind != kSymbol && k.kind != kString {
				return nil, errors.New(notRuby)
			}
			e.path = append(e.path, k.s)
			if err := p.expect("]"); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}
