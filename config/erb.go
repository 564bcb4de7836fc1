package config

// ERB in config files, as Kamal renders deploy.yml with Ruby's ERB before
// parsing the YAML: mrsk renders a subset (package erb) with the same
// variables as ${NAME} and Rails credentials decrypted in Go (package
// railscreds). YAML positions are mapped back to the template, so errors
// name the lines the user wrote. Values from credentials are secrets: the
// scalars that received one are marked, and only secret settings take them.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mrsk-go/mrsk/erb"
	"github.com/mrsk-go/mrsk/railscreds"
)

// templates renders the ERB of one project: ENV reads the loader's lookup
// (process environment, then .env files), credentials are decrypted on
// first use only, so a project that never names them needs no key.
type templates struct {
	root, dest string
	lookup     func(string) (string, bool)

	mu       sync.Mutex // guards the lazy decryption
	loaded   bool
	creds    *railscreds.Credentials
	credsErr error
	used     []string // the credential values rendered, for redact
}

func (t *templates) credential(path []string) (string, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loaded {
		t.creds, t.credsErr = railscreds.Load(t.root, t.dest, t.lookup)
		t.loaded = true
	}
	if t.credsErr != nil {
		return "", false, t.credsErr
	}
	v, ok, err := t.creds.Lookup(path)
	if ok && v != "" {
		t.used = append(t.used, v)
	}
	return v, ok, err
}

// redact hides the credential values rendered so far in msg: a config
// error may quote a value (an env var name read from [NAME], say), and a
// credential must not reach the terminal that way either.
func (t *templates) redact(msg string) string {
	if t == nil {
		return msg
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	used := slices.Clone(t.used)
	sort.Slice(used, func(i, j int) bool { return len(used[i]) > len(used[j]) })
	for _, v := range used {
		msg = strings.ReplaceAll(msg, v, "[REDACTED]")
	}
	return msg
}

// context is the ERB context; extra variables (an accessory's clear env,
// which Kamal loads into ENV while rendering its files) win.
func (t *templates) context(extra map[string]string) erb.Context {
	return erb.Context{
		LookupEnv: func(name string) (string, bool) {
			if v, ok := extra[name]; ok {
				return v, true
			}
			return t.lookup(name)
		},
		Credential: t.credential,
	}
}

// parse renders data (from file) when it holds ERB, then parses the YAML.
func (t *templates) parse(file string, data []byte) (*node, *Error) {
	if t == nil || !bytes.Contains(data, []byte("<%")) {
		return parseYAML(file, data)
	}
	r, err := erb.Render(file, data, t.context(nil))
	if err != nil {
		return nil, erbError(err)
	}
	n, e := parseYAML(file, r.Output)
	if e != nil {
		mapErrorPos(e, r)
		return nil, e
	}
	if e := markCredentials(n, r); e != nil {
		return nil, e
	}
	remapNodes(n, r, map[*node]bool{})
	return n, nil
}

// erbError turns a template error into an *Error at the tag's line.
func erbError(err error) *Error {
	var e *erb.Error
	if !errors.As(err, &e) {
		return &Error{Msg: err.Error(), err: err}
	}
	msg := e.Msg
	if e.Tag != "" {
		msg = e.Tag + ": " + msg
	}
	return &Error{File: e.File, Line: e.Line, Msg: msg, err: err}
}

var firstDefinedRE = regexp.MustCompile(`first defined at line (\d+)`)

// mapErrorPos moves a YAML error from the rendered text to the template.
func mapErrorPos(e *Error, r *erb.Result) {
	if e.Line > 0 {
		p := r.Source(erb.Pos{Line: e.Line, Col: max(e.Col, 1)})
		e.Line = p.Line
		if e.Col > 0 {
			e.Col = p.Col
		}
	}
	e.Msg = firstDefinedRE.ReplaceAllStringFunc(e.Msg, func(m string) string {
		line, _ := strconv.Atoi(firstDefinedRE.FindStringSubmatch(m)[1])
		return "first defined at line " + strconv.Itoa(r.Source(erb.Pos{Line: line, Col: 1}).Line)
	})
}

// remapNodes moves every node's position to the template's. Merge keys
// share nodes between mappings, hence seen.
func remapNodes(n *node, r *erb.Result, seen map[*node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.line > 0 {
		p := r.Source(erb.Pos{Line: n.line, Col: max(n.col, 1)})
		n.line, n.col = p.Line, p.Col
	}
	for _, p := range n.pairs {
		remapNodes(p.key, r, seen)
		remapNodes(p.val, r, seen)
	}
	for _, it := range n.items {
		remapNodes(it, r, seen)
	}
}

type scalarAt struct {
	n   *node
	key bool
}

// markCredentials marks the scalars that hold a Rails credential: the
// scalar that starts last at or before where the value was rendered
// (a value inside a quoted or block scalar belongs to that scalar). A
// credential as a key would escape every check, so it is refused.
func markCredentials(root *node, r *erb.Result) *Error {
	secrets := r.Secrets()
	if len(secrets) == 0 {
		return nil
	}
	var all []scalarAt
	seen := map[*node]bool{}
	var walk func(n *node, key bool)
	walk = func(n *node, key bool) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.kind == scalarKind {
			all = append(all, scalarAt{n, key})
		}
		for _, p := range n.pairs {
			walk(p.key, true)
			walk(p.val, false)
		}
		for _, it := range n.items {
			walk(it, false)
		}
	}
	walk(root, false)
	before := func(a, b *node) bool { return a.line < b.line || a.line == b.line && a.col < b.col }
	sort.SliceStable(all, func(i, j int) bool { return before(all[i].n, all[j].n) })
	for _, s := range secrets {
		at := &node{line: s.Line, col: s.Col}
		i := sort.Search(len(all), func(i int) bool { return before(at, all[i].n) }) - 1
		if i < 0 {
			continue // in a comment before any value
		}
		first := all[i].n
		for ; i >= 0 && all[i].n.line == first.line && all[i].n.col == first.col; i-- {
			if all[i].key {
				p := r.Source(erb.Pos{Line: first.line, Col: first.col})
				return &Error{File: first.file, Line: p.Line, Col: p.Col,
					Msg: "a Rails credential cannot be a key: credentials are secrets, and keys are printed"}
			}
			all[i].n.cred = true
		}
	}
	return nil
}

// credentialInPlainSetting is the message for a credential where the
// setting is not a secret. Refusing (rather than redacting) because a
// plain setting travels in plans, docker command lines and `docker
// inspect`; only env.secret, registry.username/password and the TLS key
// are kept out of all of those.
const credentialInPlainSetting = "holds a Rails credential, which is a secret, but this setting is not secret " +
	"(it shows in plans and docker command lines): pass it through env.secret instead " +
	"(e.g. write it to .env with mrsk envify)"

// plainNode returns n, or a copy without its credential mark, for the
// settings that keep values secret.
func plainNode(n *node) *node {
	if n == nil || !n.cred {
		return n
	}
	c := *n
	c.cred = false
	return &c
}

// renderAccessoryFiles renders the accessories' files ending in .erb, as
// Kamal does before uploading them, with the accessory's clear env over
// the variables (Kamal loads it into ENV while rendering). Rendering at
// load makes a broken template a config error, before any host is
// touched; the content is kept as a secret since it may hold credentials.
func (t *templates) renderAccessoryFiles(c *Config) *Error {
	for _, a := range c.Accessories {
		for _, f := range a.Files {
			local := f.Local
			if !strings.HasSuffix(local, ".erb") {
				continue
			}
			name := filepath.Join(c.Root, local) // as config files are named: from the working directory
			data, err := os.ReadFile(name)
			if err != nil {
				return &Error{File: c.File, Path: "accessories." + a.Name + ".files",
					Msg: "cannot read " + local + ": " + err.Error(), err: err}
			}
			r, err := erb.Render(name, data, t.context(a.Env.Clear))
			if err != nil {
				return erbError(err)
			}
			if a.RenderedFiles == nil {
				a.RenderedFiles = map[string]Secret{}
			}
			a.RenderedFiles[local] = NewSecret(string(r.Output))
		}
	}
	return nil
}

// RenderTemplate renders the project's ERB file (e.g. .env.erb for mrsk
// envify) with the variables and Rails credentials that Load with opts
// would use; file is relative to the project root.
func RenderTemplate(opts LoadOptions, file string) ([]byte, error) {
	cfg := opts.File
	if cfg == "" {
		cfg = DefaultFile
	}
	root := filepath.Join(filepath.Dir(cfg), "..")
	if opts.Destination != "" && !destinationRE.MatchString(opts.Destination) {
		return nil, fmt.Errorf("invalid destination %q: use letters, digits, '.', '-' and '_'", opts.Destination)
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env, _, e := dotenvLookup(root, opts.Destination, lookup)
	if e != nil {
		return nil, e
	}
	name := filepath.Join(root, file)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	t := &templates{root: root, dest: opts.Destination, lookup: env}
	r, err := erb.Render(name, data, t.context(nil))
	if err != nil {
		return nil, err
	}
	return r.Output, nil
}
