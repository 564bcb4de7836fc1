package sshpool

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Authentication is public key only. Signers come from, in order:
//
//  0. keys given as content (Options.KeyData: ssh.key_data, MRSK_SSH_KEY),
//     parsed in memory;
//  1. explicitly configured key files: Options.Keys (a missing or unreadable
//     one is an error naming it) and IdentityFile lines of ~/.ssh/config (a
//     missing one is reported through Notice and skipped, as OpenSSH warns);
//  2. ssh-agent, when SSH_AUTH_SOCK is set (an unreachable agent is skipped);
//  3. the default files ~/.ssh/id_ed25519, id_rsa, id_ecdsa, when present.
//
// Explicit keys go before the agent's (as OpenSSH does) so that an agent
// holding many keys cannot exhaust the server's MaxAuthTries before the key
// meant for this host is offered. Duplicates are offered once.
//
// Only unencrypted key files are read: passphrase prompts do not fit a
// non-interactive deploy tool. A passphrase-protected key works when it is
// loaded in ssh-agent; an explicitly configured encrypted key that the agent
// does not hold is an error saying so, a default one is skipped.

var defaultKeyFiles = []string{"id_ed25519", "id_rsa", "id_ecdsa"}

// authMethods returns the auth methods for ep and a cleanup func closing the
// agent connection (call it once the handshake is over).
func (p *Pool) authMethods(ep *endpoint) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	seen := map[string]bool{}
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			signers = append(signers, s)
		}
	}

	// The agent is opened first so that encrypted explicit keys can be
	// checked against it, but its keys are added after the explicit ones.
	var agentSigners []ssh.Signer
	cleanup := func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.DialTimeout("unix", sock, p.opts.ConnectTimeout); err == nil {
			cleanup = func() { conn.Close() }
			if ss, err := agent.NewClient(conn).Signers(); err == nil {
				agentSigners = ss
			}
		}
	}
	inAgent := func(pub ssh.PublicKey) bool {
		for _, s := range agentSigners {
			if string(s.PublicKey().Marshal()) == string(pub.Marshal()) {
				if p.opts.KeysOnly {
					add(s) // only the agent's copy of a key we were given
				}
				return true
			}
		}
		return false
	}

	for _, k := range p.opts.KeyData {
		s, err := ssh.ParsePrivateKey(k.PEM)
		if err != nil {
			cleanup()
			var pe *ssh.PassphraseMissingError
			if errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("key from %s: passphrase-protected keys are not supported here: give it unencrypted (a CI secret), or load it into ssh-agent", k.Source)
			}
			// x/crypto's messages never quote the key's content.
			return nil, nil, fmt.Errorf("key from %s: %w", k.Source, err)
		}
		add(s)
	}
	for _, f := range p.opts.Keys {
		s, err := p.keyFiles.load(expandTokens(f, tokens{home: p.home}))
		if err != nil {
			var pe *ssh.PassphraseMissingError
			if errors.As(err, &pe) && pe.PublicKey != nil && inAgent(pe.PublicKey) {
				continue // the agent signs for it
			}
			cleanup()
			return nil, nil, fmt.Errorf("key %s: %w", f, unwrapPath(err))
		}
		add(s)
	}
	for _, f := range ep.identityFiles {
		s, err := p.keyFiles.load(f)
		if err != nil {
			var pe *ssh.PassphraseMissingError
			switch {
			case errors.As(err, &pe) && pe.PublicKey != nil && inAgent(pe.PublicKey):
			case os.IsNotExist(err):
				p.notice(ep.display, fmt.Sprintf("IdentityFile %s from ssh config does not exist; skipped", p.tilde(f)))
			default:
				cleanup()
				return nil, nil, fmt.Errorf("key %s (IdentityFile in ssh config): %w", p.tilde(f), unwrapPath(err))
			}
			continue
		}
		add(s)
	}
	if p.opts.KeysOnly {
		// ssh.keys_only (IdentitiesOnly): none of the agent's other keys,
		// none of the default files.
		agentSigners = nil
	}
	for _, s := range agentSigners {
		add(s)
	}
	if p.home != "" && !p.opts.KeysOnly {
		for _, name := range defaultKeyFiles {
			if s, err := p.keyFiles.load(filepath.Join(p.home, ".ssh", name)); err == nil {
				add(s)
			}
		}
	}
	if len(signers) == 0 {
		cleanup()
		return nil, nil, errors.New("no SSH keys: ssh-agent (SSH_AUTH_SOCK) offers none and none of ~/.ssh/id_ed25519, id_rsa, id_ecdsa exist")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, cleanup, nil
}

func loadKeyFile(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, &msgErr{msg: "passphrase-protected keys are not supported: load it into ssh-agent (ssh-add " + path + ")", err: err}
		}
		return nil, err
	}
	return s, nil
}

// keyFileCache keeps the signers of key files while the files stay as
// they were (the test of knownHostsCache: same file, size, time and mode,
// not modified within racyWindow), so that 200 connections do not read and
// parse the same files 200 times. Failures are not kept: a missing or
// unreadable file is looked at again by the next dial, and reported as
// before.
type keyFileCache struct {
	mu      sync.Mutex
	entries map[string]keyFileEntry
}

type keyFileEntry struct {
	state  fileState
	signer ssh.Signer
}

func (c *keyFileCache) load(path string) (ssh.Signer, error) {
	seen := time.Now()
	fi, err := os.Stat(path)
	if err != nil {
		return loadKeyFile(path) // its error, as before
	}
	state := fileState{fi: fi}
	c.mu.Lock()
	e, ok := c.entries[path]
	c.mu.Unlock()
	if ok && e.state.same(state) {
		return e.signer, nil
	}
	s, err := loadKeyFile(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || racy([]fileState{state}, seen) {
		delete(c.entries, path)
		return s, err
	}
	if c.entries == nil {
		c.entries = map[string]keyFileEntry{}
	}
	c.entries[path] = keyFileEntry{state: state, signer: s}
	return s, nil
}

// unwrapPath drops the *fs.PathError layer ("open /x: no such file") when
// the message already names the file, keeping it for errors.Is/As.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &msgErr{msg: pe.Err.Error(), err: err}
	}
	return err
}

// tilde abbreviates the home directory to ~ for messages.
func (p *Pool) tilde(path string) string {
	if p.home != "" && strings.HasPrefix(path, p.home+string(filepath.Separator)) {
		return "~" + path[len(p.home):]
	}
	return path
}
