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

// openKnownHosts parses every file that exists. As in OpenSSH a missing
// file is no error; an unreadable one is, so that a permission problem is
// not mistaken for "host unknown".
func openKnownHosts(files knownHostsFiles) (*skh.HostKeyDB, error) {
	var existing []string
	for _, f := range slices.Concat(files.user, files.global) {
		if _, err := os.Stat(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		if !slices.Contains(existing, f) {
			existing = append(existing, f)
		}
	}
	db, err := skh.NewDB(existing...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return db, nil
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

// verifyHostKey checks key for addr against the endpoint's known_hosts
// files and applies its StrictHostKeyChecking policy. The whole
// check-and-append runs under one mutex, re-reading the files, so
// concurrent handshakes never write duplicate lines.
func (p *Pool) verifyHostKey(ep *endpoint, addr string, remote net.Addr, key ssh.PublicKey) error {
	p.khMu.Lock()
	defer p.khMu.Unlock()
	db, err := openKnownHosts(ep.knownHosts)
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
