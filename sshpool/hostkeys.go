package sshpool

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyChangedError is returned (wrapped) when a host presents a key that
// differs from the one recorded in known_hosts. It unwraps to the
// *knownhosts.KeyError, whose Want lists the recorded keys.
type HostKeyChangedError struct {
	Host string // the name as recorded in known_hosts: "h" or "[h]:port"
	File string // the known_hosts file
	Line int    // the first line recording a key for Host
	Err  *knownhosts.KeyError
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key for %s changed (known_hosts line %d); if the host was rebuilt, remove that line", e.Host, e.Line)
}

func (e *HostKeyChangedError) Unwrap() error { return e.Err }

// knownHosts is a parsed snapshot of the known_hosts file.
type knownHosts struct {
	check     ssh.HostKeyCallback
	certLines map[int]bool // line numbers of @cert-authority entries
	endsInNL  bool         // whether the file is empty or ends with a newline
}

// ensureKnownHostsFile creates the file (and its directory, 0700) if missing.
func ensureKnownHostsFile(path string) error {
	if path == "" {
		return errors.New("known_hosts: no file (HOME is not set and Options.KnownHostsFile is empty)")
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return f.Close()
}

func loadKnownHosts(path string) (*knownHosts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", path, err)
	}
	kh := &knownHosts{check: cb, certLines: map[int]bool{}, endsInNL: len(data) == 0 || data[len(data)-1] == '\n'}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("@cert-authority")) {
			kh.certLines[i+1] = true
		}
	}
	return kh, nil
}

// probeKey is a public key no known_hosts line can match; checking it
// against the database returns a KeyError listing every key recorded for
// the host.
type probeKey struct{}

func (probeKey) Type() string                        { return "mrsk-probe@invalid" }
func (probeKey) Marshal() []byte                     { return []byte("\x00\x00\x00\x12mrsk-probe@invalid") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// hostKeyAlgorithms returns the host key algorithms to offer for addr: the
// ones matching the key types already recorded for it (plain keys first,
// then certificates signed by a recorded @cert-authority), so that a known
// host is verified against its recorded key. For an unknown host it returns
// the plain (non-certificate) algorithms, since accept-new can only learn a
// plain key.
func (kh *knownHosts) hostKeyAlgorithms(addr string) []string {
	remote := &net.TCPAddr{IP: net.IPv4zero}
	err := kh.check(addr, remote, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return defaultPlainHostKeyAlgos()
	}
	var plain, certs []string
	for _, k := range ke.Want {
		if kh.certLines[k.Line] {
			certs = append(certs, certAlgosFor(k.Key.Type())...)
		} else {
			plain = append(plain, plainAlgosFor(k.Key.Type())...)
		}
	}
	supported := ssh.SupportedAlgorithms().HostKeys
	var out []string
	for _, a := range slices.Concat(plain, certs) {
		if slices.Contains(supported, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		// Recorded keys of a type we cannot negotiate; let the handshake
		// fail with the server's offer rather than offering nothing.
		return defaultPlainHostKeyAlgos()
	}
	return out
}

func plainAlgosFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{keyType}
}

func certAlgosFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}
	case ssh.KeyAlgoED25519:
		return []string{ssh.CertAlgoED25519v01}
	case ssh.KeyAlgoECDSA256:
		return []string{ssh.CertAlgoECDSA256v01}
	case ssh.KeyAlgoECDSA384:
		return []string{ssh.CertAlgoECDSA384v01}
	case ssh.KeyAlgoECDSA521:
		return []string{ssh.CertAlgoECDSA521v01}
	}
	return nil
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

// verifyHostKey checks key for addr against known_hosts, appending it when
// the host is unknown (OpenSSH's StrictHostKeyChecking=accept-new). The
// whole check-and-append runs under one mutex, re-reading the file, so
// concurrent handshakes never write duplicate lines.
func (p *Pool) verifyHostKey(ep *endpoint, addr string, remote net.Addr, key ssh.PublicKey) error {
	p.khMu.Lock()
	defer p.khMu.Unlock()
	file := p.opts.KnownHostsFile
	kh, err := loadKnownHosts(file)
	if err != nil {
		return err
	}
	err = kh.check(addr, remote, key)
	if err == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		line := knownhosts.Line([]string{addr}, key) + "\n"
		if !kh.endsInNL {
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
	case errors.As(err, &ke):
		return &HostKeyChangedError{Host: knownhosts.Normalize(addr), File: file, Line: ke.Want[0].Line, Err: ke}
	case errors.As(err, &re):
		return fmt.Errorf("host key for %s is revoked (known_hosts line %d)", knownhosts.Normalize(addr), re.Revoked.Line)
	default:
		return fmt.Errorf("host key for %s: %w", knownhosts.Normalize(addr), err)
	}
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
