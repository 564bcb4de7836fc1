package sshpool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file holds a deliberately small ~/.ssh/config reader. It understands
// the keywords MRSK needs (HostName, User, Port, IdentityFile, ProxyJump),
// Host blocks with * / ? / ! patterns, "Match all", and Include. Every other
// keyword is ignored. Match blocks with any other criteria never match, since
// evaluating them (exec, canonical, localuser...) is out of scope.
// /etc/ssh/ssh_config is not read.

// hostConfig is what ~/.ssh/config says about one host alias. Empty strings
// and zero mean "not set".
type hostConfig struct {
	HostName      string
	User          string
	Port          int
	IdentityFiles []string
	ProxyJump     string
	// StrictHostKeyChecking is the keyword's value as written (lower case,
	// validated by the parser); see parseStrictHostKeyChecking.
	StrictHostKeyChecking string
	// UserKnownHostsFiles and GlobalKnownHostsFiles are the files as
	// written (not expanded). nil means "not set".
	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
}

// sshConfig is a parsed config, flattened: every setting carries the list of
// Host conditions (its own block plus the blocks enclosing the Include that
// brought it in) that must all match.
type sshConfig struct {
	entries []cfgEntry
}

type cfgEntry struct {
	conds  []cfgCond
	key    string // lower case keyword
	value  string
	values []string // every argument, for the keywords that take a list
}

type cfgCond struct {
	never    bool     // a Match block we do not evaluate
	patterns []string // Host patterns; nil with never=false means "always"
}

func (c cfgCond) match(alias string) bool {
	if c.never {
		return false
	}
	if c.patterns == nil {
		return true
	}
	return matchHostPatterns(c.patterns, alias)
}

// lookup returns the settings that apply to alias. As in OpenSSH, the first
// value obtained for a keyword wins, except IdentityFile which accumulates.
func (c *sshConfig) lookup(alias string) hostConfig {
	var hc hostConfig
	if c == nil {
		return hc
	}
	seen := map[string]bool{}
	for _, e := range c.entries {
		if !allMatch(e.conds, alias) {
			continue
		}
		if e.key == "identityfile" {
			if !strings.EqualFold(e.value, "none") {
				hc.IdentityFiles = append(hc.IdentityFiles, e.value)
			}
			continue
		}
		if seen[e.key] {
			continue
		}
		seen[e.key] = true
		switch e.key {
		case "hostname":
			hc.HostName = e.value
		case "user":
			hc.User = e.value
		case "port":
			hc.Port, _ = strconv.Atoi(e.value) // validated by the parser
		case "proxyjump":
			hc.ProxyJump = e.value
		case "stricthostkeychecking":
			hc.StrictHostKeyChecking = strings.ToLower(e.value)
		case "userknownhostsfile":
			hc.UserKnownHostsFiles = e.values
		case "globalknownhostsfile":
			hc.GlobalKnownHostsFiles = e.values
		}
	}
	return hc
}

func allMatch(conds []cfgCond, alias string) bool {
	for _, c := range conds {
		if !c.match(alias) {
			return false
		}
	}
	return true
}

// matchHostPatterns implements a Host line: the alias must match at least one
// plain pattern and none of the negated (!) ones. Matching is case-insensitive.
func matchHostPatterns(patterns []string, alias string) bool {
	alias = strings.ToLower(alias)
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if !wildcard(strings.ToLower(p), alias) {
			continue
		}
		if neg {
			return false
		}
		matched = true
	}
	return matched
}

// wildcard matches s against pattern with * (any run) and ? (one char).
func wildcard(pattern, s string) bool {
	// Iterative matcher with single-star backtracking.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case starP >= 0:
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// configParser reads a config file and the files it includes.
type configParser struct {
	home     string // for ~ and relative Include paths (~/.ssh)
	readFile func(name string) ([]byte, error)
	glob     func(pattern string) ([]string, error)
	cfg      *sshConfig
}

const maxIncludeDepth = 16

// loadSSHConfig parses the config file at path. A missing file is an empty
// config.
func loadSSHConfig(path, home string) (*sshConfig, error) {
	p := &configParser{home: home, readFile: os.ReadFile, glob: filepath.Glob, cfg: &sshConfig{}}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return p.cfg, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	if err := p.parse(data, path, nil, 0); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// parseSSHConfig parses config text without touching the file system
// (Include lines are ignored). Used by tests.
func parseSSHConfig(r io.Reader, name string) (*sshConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	p := &configParser{
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		glob:     func(string) ([]string, error) { return nil, nil },
		cfg:      &sshConfig{},
	}
	if err := p.parse(data, name, nil, 0); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func (p *configParser) parse(data []byte, name string, outer []cfgCond, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("ssh config %s: Include nested too deeply", name)
	}
	// conds applying to the current line: outer conditions plus the current
	// Host/Match block, if any.
	conds := outer
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("ssh config %s line %d: %v", name, lineNo, err)
		}
		if key == "" {
			continue
		}
		where := func(format string, a ...any) error {
			return fmt.Errorf("ssh config %s line %d: %s", name, lineNo, fmt.Sprintf(format, a...))
		}
		switch key {
		case "host":
			if len(args) == 0 {
				return where("Host needs at least one pattern")
			}
			conds = appendCond(outer, cfgCond{patterns: args})
		case "match":
			if len(args) == 1 && strings.EqualFold(args[0], "all") {
				conds = appendCond(outer, cfgCond{})
			} else {
				conds = appendCond(outer, cfgCond{never: true})
			}
		case "include":
			for _, a := range args {
				if err := p.include(a, conds, depth); err != nil {
					return err
				}
			}
		case "hostname", "user", "port", "identityfile", "proxyjump":
			if len(args) == 0 {
				return where("%s needs a value", key)
			}
			if key == "port" {
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 || n > 65535 {
					return where("bad Port %q", args[0])
				}
			}
			p.cfg.entries = append(p.cfg.entries, cfgEntry{conds: conds, key: key, value: args[0]})
		case "stricthostkeychecking":
			if len(args) == 0 {
				return where("StrictHostKeyChecking needs a value")
			}
			if _, err := parseStrictHostKeyChecking(args[0]); err != nil {
				return where("%v", err)
			}
			p.cfg.entries = append(p.cfg.entries, cfgEntry{conds: conds, key: key, value: args[0]})
		case "userknownhostsfile", "globalknownhostsfile":
			if len(args) == 0 {
				return where("%s needs a value", key)
			}
			p.cfg.entries = append(p.cfg.entries, cfgEntry{conds: conds, key: key, value: args[0], values: args})
		}
	}
	return sc.Err()
}

func appendCond(outer []cfgCond, c cfgCond) []cfgCond {
	out := make([]cfgCond, 0, len(outer)+1)
	out = append(out, outer...)
	return append(out, c)
}

func (p *configParser) include(pattern string, conds []cfgCond, depth int) error {
	if strings.HasPrefix(pattern, "~/") && p.home != "" {
		pattern = filepath.Join(p.home, pattern[2:])
	} else if !filepath.IsAbs(pattern) && p.home != "" {
		pattern = filepath.Join(p.home, ".ssh", pattern)
	}
	files, err := p.glob(pattern)
	if err != nil {
		return fmt.Errorf("ssh config: Include %s: %w", pattern, err)
	}
	for _, f := range files {
		data, err := p.readFile(f)
		if err != nil {
			continue // OpenSSH skips unreadable includes too
		}
		if err := p.parse(data, f, conds, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// splitConfigLine splits one line into a lower-case keyword and its
// arguments. "Keyword value", "Keyword=value" and "Keyword = value" are all
// accepted; arguments may be double-quoted; an unquoted # starts a comment.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return strings.ToLower(line), nil, nil
	}
	key := strings.ToLower(line[:end])
	rest := strings.TrimLeft(line[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var args []string
	for rest != "" {
		if rest[0] == '#' {
			break
		}
		if rest[0] == '"' {
			closing := strings.IndexByte(rest[1:], '"')
			if closing < 0 {
				return "", nil, fmt.Errorf("unterminated quote")
			}
			args = append(args, rest[1:1+closing])
			rest = strings.TrimLeft(rest[closing+2:], " \t")
			continue
		}
		n := strings.IndexAny(rest, " \t")
		if n < 0 {
			n = len(rest)
		}
		args = append(args, rest[:n])
		rest = strings.TrimLeft(rest[n:], " \t")
	}
	return key, args, nil
}

// expandTokens expands ~ and the % tokens OpenSSH allows in IdentityFile:
// %d home, %h host name, %r remote user, %u local user, %n alias, %p port, %%.
func expandTokens(s string, t tokens) string {
	if s == "~" {
		s = t.home
	} else if strings.HasPrefix(s, "~/") && t.home != "" {
		s = filepath.Join(t.home, s[2:])
	}
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(t.home)
		case 'h':
			b.WriteString(t.host)
		case 'r':
			b.WriteString(t.user)
		case 'u':
			b.WriteString(t.localUser)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

type tokens struct {
	home, host, user, localUser, alias string
	port                               int
}
