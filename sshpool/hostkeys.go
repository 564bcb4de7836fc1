package sshpool

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	skh "github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The known_hosts database is github.com/skeema/knownhosts, a thin layer
// over x/crypto's knownhosts. It reads several files at once (OpenSSH reads
// every UserKnownHostsFile and GlobalKnownHostsFile), tells @cert-authority
// lines apart per file and line (so HostKeyAlgorithms can offer certificate
// algorithms for them), applies "*" patterns to non-standard ports as
// OpenSSH does, and normalizes IPv6 addresses the way OpenSSH writes them.
// What stays here is the policy: OpenSSH's StrictHostKeyChecking.

// HostKeyPolicy is OpenSSH's StrictHostKeyChecking.
type HostKeyPolicy int

const (
	// AcceptNew (accept-new; mrsk's default when ssh_config says nothing)
	// records the key of a host seen for the first time and refuses a
	// host whose key differs from the recorded one.
	AcceptNew HostKeyPolicy = iota
	// Strict (yes, and ask: mrsk never prompts) refuses unknown hosts and
	// changed keys, and never writes known_hosts.
	Strict
	// AcceptAny (no, off) records unknown hosts and, as OpenSSH does,
	// connects to a host whose key changed, with a warning, leaving the
	// recorded key in place.
	AcceptAny
)

func (p HostKeyPolicy) String() string {
	switch p {
	case Strict:
		return "yes"
	case AcceptAny:
		return "no"
	}
	return "accept-new"
}

// parseStrictHostKeyChecking accepts the values OpenSSH's readconf.c does.
func parseStrictHostKeyChecking(s string) (HostKeyPolicy, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "ask":
		return Strict, nil
	case "accept-new":
		return AcceptNew, nil
	case "no", "off", "false":
		return AcceptAny, nil
	}
	return 0, fmt.Errorf("bad StrictHostKeyChecking %q (want yes, accept-new, no, ask or off)", s)
}

// HostKeyChangedError is returned (wrapped) when a host presents a key that
// differs from the one recorded in known_hosts. It unwraps to the
// *knownhosts.KeyError, whose Want lists the recorded keys.
type HostKeyChangedError struct {
	Host string // the name as recorded in known_hosts: "h" or "[h]:port"
	File string // the known_hosts file holding the recorded key, as shown (~ for home)
	Line int    // the first line recording a key for Host
	Err  *knownhosts.KeyError
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key for %s changed (known_hosts line %d); if the host was rebuilt, remove that line from %s", e.Host, e.Line, e.File)
}

func (e *HostKeyChangedError) Unwrap() error { return e.Err }

// HostKeyUnknownError is returned (wrapped) when StrictHostKeyChecking is
// yes (or ask) and no known_hosts file records a key for the host. Nothing
// ran on the host and nothing was written.
type HostKeyUnknownError struct {
	Host        string // the name as it would be recorded: "h" or "[h]:port"
	Policy      string // the StrictHostKeyChecking value, as configured
	KeyType     string // e.g. "ED25519"
	Fingerprint string // SHA256:...
	Fix         string // a command that records the key
	Err         *knownhosts.KeyError
}

func (e *HostKeyUnknownError) Error() string {
	policy := e.Policy
	if policy == "ask" {
		policy = "ask (mrsk never prompts: ask refuses like yes)"
	}
	return fmt.Sprintf("host key for %s is not known and StrictHostKeyChecking is %s, so mrsk did not log in (the host offered %s key %s); "+
		"if that is the host's key, record it with `%s` or connect once with ssh, then retry",
		e.Host, policy, e.KeyType, e.Fingerprint, e.Fix)
}

func (e *HostKeyUnknownError) Unwrap() error { return e.Err }

// knownHostsFiles are the files that apply to one endpoint, already
// expanded. "none" has been dropped; /dev/null stays (it reads as empty and
// writing to it records nothing).
type knownHostsFiles struct {
	user   []string // read, and the first one is written
	global []string // only read
}

func parseKnownHosts(existing []string) (*skh.HostKeyDB, error) {
	db, err := skh.NewDB(existing...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return db, nil
}

// statKnownHosts returns the files that exist (each once, in order) and
// what they look like on disk now: the state a parse of them reflects. As
// in OpenSSH a missing file is no error; an unreadable one is, so that a
// permission problem is not mistaken for "host unknown".
func statKnownHosts(files knownHostsFiles) (existing []string, state []fileState, err error) {
	for _, f := range slices.Concat(files.user, files.global) {
		fi, err := os.Stat(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				state = append(state, fileState{})
				continue
			}
			return nil, nil, fmt.Errorf("known_hosts: %w", err)
		}
		state = append(state, fileState{fi: fi})
		if !slices.Contains(existing, f) {
			existing = append(existing, f)
		}
	}
	return existing, state, nil
}

// fileState is one known_hosts file as stat saw it; a zero fileState is a
// missing file.
type fileState struct {
	fi fs.FileInfo
}

// same reports whether the file is still the one that was parsed: the
// same file (device and inode: an editor's rename-over is a change), size,
// modification time and mode.
func (s fileState) same(t fileState) bool {
	if s.fi == nil || t.fi == nil {
		return s.fi == nil && t.fi == nil
	}
	return os.SameFile(s.fi, t.fi) && s.fi.Size() == t.fi.Size() &&
		s.fi.ModTime().Equal(t.fi.ModTime()) && s.fi.Mode() == t.fi.Mode()
}

// racyWindow: a file modified less than this before it was looked at may
// be modified again with the same size and modification time (file
// systems stamp times from a coarse clock, some to the second or two), so
// a parse of it is not kept: the next lookup parses again. As git does
// with its index, only a file that has been still for a while is trusted
// by its stat.
const racyWindow = 3 * time.Second

// racy reports whether a file of state may still change unseen by same.
func racy(state []fileState, seen time.Time) bool {
	for _, s := range state {
		if s.fi != nil && s.fi.ModTime().After(seen.Add(-racyWindow)) {
			return true
		}
	}
	return false
}

// knownHostsCache keeps each parsed set of known_hosts files while the
// files stay as they were: a deploy to 200 hosts otherwise parses the
// whole file twice per connection (and, in verifyHostKey, under khMu). A
// file that changes on disk (another ssh, a user's edit) is re-read by the
// next lookup, as OpenSSH, which reads the files on every connection,
// would see it (a file modified within racyWindow is not cached at all,
// since a second change could leave the same size and time); the pool's
// own appends drop the entry outright (invalidate), so a key learned
// mid-run is seen by the next connection.
type knownHostsCache struct {
	mu      sync.Mutex
	entries map[string]*knownHostsEntry // by knownHostsFiles.key
}

type knownHostsEntry struct {
	state []fileState // as stat saw the files just before the parse
	db    *skh.HostKeyDB
}

// key identifies a list of files; the NUL separator cannot occur in a path.
func (f knownHostsFiles) key() string {
	return strings.Join(f.user, "\x00") + "\x00\x00" + strings.Join(f.global, "\x00")
}

// cached returns the parsed files if none of them changed (appeared, or
// went away) since they were parsed.
func (c *knownHostsCache) cached(files knownHostsFiles) (*skh.HostKeyDB, bool, error) {
	_, state, err := statKnownHosts(files)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	e := c.entries[files.key()]
	c.mu.Unlock()
	if e != nil && slices.EqualFunc(e.state, state, fileState.same) {
		return e.db, true, nil
	}
	return nil, false, nil
}

// open returns the parsed files, parsing them again only when one of them
// changed since the last parse. Errors are not cached: the next call
// tries again. The database is shared and only read. Callers that may
// parse hold the pool's khMu, so that no parse reads a line half appended.
func (c *knownHostsCache) open(files knownHostsFiles) (*skh.HostKeyDB, error) {
	seen := time.Now()
	existing, state, err := statKnownHosts(files)
	if err != nil {
		return nil, err
	}
	k := files.key()
	c.mu.Lock()
	e := c.entries[k]
	c.mu.Unlock()
	if e != nil && slices.EqualFunc(e.state, state, fileState.same) {
		return e.db, nil
	}
	db, err := parseKnownHosts(existing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if racy(state, seen) {
		// Recently modified: a change made now could look the same.
		delete(c.entries, k)
		return db, nil
	}
	// The state was taken before the parse: a write during the parse
	// leaves a stale state, so the next lookup parses again.
	if c.entries == nil {
		c.entries = map[string]*knownHostsEntry{}
	}
	c.entries[k] = &knownHostsEntry{state: state, db: db}
	return db, nil
}

// invalidate forgets every parse that read file.
func (c *knownHostsCache) invalidate(file string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		for _, f := range strings.Split(k, "\x00") {
			if f == file {
				delete(c.entries, k)
				break
			}
		}
	}
}

// hostKeyAlgorithms returns the host key algorithms to offer for addr: the
// ones matching the key types already recorded for it (certificates for a
// matching @cert-authority), so that a known host is verified against its
// recorded key. For an unknown host it returns the plain (non-certificate)
// algorithms in OpenSSH's order, since accept-new can only learn a plain
// key and should learn the one OpenSSH would.
func hostKeyAlgorithms(db *skh.HostKeyDB, addr string) []string {
	supported := ssh.SupportedAlgorithms().HostKeys
	var out []string
	for _, a := range db.HostKeyAlgorithms(addr) {
		if slices.Contains(supported, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		// Unknown host, or recorded keys of a type we cannot negotiate;
		// in the latter case the handshake fails with the server's offer
		// rather than with an empty list.
		return defaultPlainHostKeyAlgos()
	}
	return out
}

// defaultPlainHostKeyAlgos is OpenSSH's preference order, without
// certificates, followed by any other plain algorithm x/crypto supports.
func defaultPlainHostKeyAlgos() []string {
	out := []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// knownHostsDB is the parsed known_hosts of ep for choosing algorithms:
// without khMu when the files are unchanged since the last parse.
func (p *Pool) knownHostsDB(ep *endpoint) (*skh.HostKeyDB, error) {
	if db, ok, err := p.knownHosts.cached(ep.knownHosts); ok || err != nil {
		return db, err
	}
	p.khMu.Lock()
	defer p.khMu.Unlock()
	return p.knownHosts.open(ep.knownHosts)
}

// verifyHostKey checks key for addr against the endpoint's known_hosts
// files and applies its StrictHostKeyChecking policy. The whole
// check-and-append runs under one mutex, against the files as they are
// then (re-read if they changed), so concurrent handshakes never write
// duplicate lines.
func (p *Pool) verifyHostKey(ep *endpoint, addr string, remote net.Addr, key ssh.PublicKey) error {
	p.khMu.Lock()
	defer p.khMu.Unlock()
	db, err := p.knownHosts.open(ep.knownHosts)
	if err != nil {
		return err
	}
	err = db.HostKeyCallback()(addr, remote, key)
	if err == nil {
		return nil
	}
	name := skh.Normalize(addr)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		if ep.policy == Strict {
			return &HostKeyUnknownError{
				Host: name, Policy: ep.policyWord, KeyType: keyTypeName(key),
				Fingerprint: ssh.FingerprintSHA256(key), Fix: p.keyscanCommand(ep, key), Err: ke,
			}
		}
		return p.learnHostKey(ep, addr, key)
	case errors.As(err, &ke):
		file := p.tilde(ke.Want[0].Filename)
		if ep.policy == AcceptAny {
			// OpenSSH with StrictHostKeyChecking=no connects anyway (with
			// a warning) and leaves the recorded key alone.
			p.notice(ep.display, fmt.Sprintf("WARNING: host key for %s changed (known_hosts line %d of %s; the host offered %s key %s); connecting anyway because StrictHostKeyChecking is %s",
				name, ke.Want[0].Line, file, keyTypeName(key), ssh.FingerprintSHA256(key), ep.policyWord))
			return nil
		}
		return &HostKeyChangedError{Host: name, File: file, Line: ke.Want[0].Line, Err: ke}
	case errors.As(err, &re):
		return fmt.Errorf("host key for %s is revoked (known_hosts line %d of %s)", name, re.Revoked.Line, p.tilde(re.Revoked.Filename))
	default:
		return fmt.Errorf("host key for %s: %w", name, err)
	}
}

// learnHostKey appends key to the first UserKnownHostsFile (creating it and
// its directory, 0700, if needed), as OpenSSH does for an unknown host
// under accept-new or no. With no user file ("none") or /dev/null the key
// is accepted for this connection only.
func (p *Pool) learnHostKey(ep *endpoint, addr string, key ssh.PublicKey) error {
	if len(ep.knownHosts.user) == 0 || ep.knownHosts.user[0] == os.DevNull {
		return nil
	}
	file := ep.knownHosts.user[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	line := skh.Line([]string{addr}, key) + "\n"
	if data, err := os.ReadFile(file); err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	// Whatever happens to the write, the file may have changed.
	defer p.knownHosts.invalidate(file)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	_, werr := f.WriteString(line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("known_hosts: %w", werr)
	}
	p.notice(ep.display, fmt.Sprintf("added host key %s %s to %s", keyTypeName(key), ssh.FingerprintSHA256(key), p.tilde(file)))
	return nil
}

// keyscanCommand is the command that records the host's key the way
// accept-new would have.
func (p *Pool) keyscanCommand(ep *endpoint, key ssh.PublicKey) string {
	file := "~/.ssh/known_hosts"
	if len(ep.knownHosts.user) > 0 && ep.knownHosts.user[0] != os.DevNull {
		file = p.tilde(ep.knownHosts.user[0])
	}
	t := key.Type()
	if c, ok := key.(*ssh.Certificate); ok {
		t = c.Key.Type()
	}
	typ := strings.TrimPrefix(t, "ssh-")
	if strings.HasPrefix(t, "ecdsa-") {
		typ = "ecdsa"
	}
	cmd := "ssh-keyscan -t " + typ
	if ep.port != 22 {
		cmd += " -p " + strconv.Itoa(ep.port)
	}
	return cmd + " " + ep.hostname + " >> " + file
}

// keyTypeName turns "ssh-ed25519" into "ED25519", as OpenSSH prints it.
func keyTypeName(key ssh.PublicKey) string {
	t := key.Type()
	if c, ok := key.(*ssh.Certificate); ok {
		t = c.Key.Type()
	}
	switch {
	case t == ssh.KeyAlgoRSA:
		return "RSA"
	case t == ssh.KeyAlgoED25519:
		return "ED25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ECDSA"
	case t == ssh.KeyAlgoSKED25519:
		return "ED25519-SK"
	case t == ssh.KeyAlgoSKECDSA256:
		return "ECDSA-SK"
	}
	return strings.ToUpper(strings.TrimPrefix(t, "ssh-"))
}
