package sshpool

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// A pipeline's setup: the key and the known hosts only in memory (no agent,
// no file), and nothing written under HOME.
func TestKeyAndKnownHostsFromMemory(t *testing.T) {
	e := newEnv(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, []ssh.PublicKey{signer.PublicKey()})
	other := newTestServer(t, []ssh.PublicKey{signer.PublicKey()})
	before := snapshot(t, e.home)
	p := e.pool(func(o *Options) {
		o.Keys = nil // no key file: only the one in memory
		o.KeyData = []KeyData{{Source: "MRSK_SSH_KEY", PEM: pem.EncodeToMemory(block)}}
		o.KnownHostsData = []byte(knownhosts.Line([]string{s.host}, s.hostKey()) + "\n")
	})
	mustRun(t, p, s.host, "true")

	// A host the content does not pin is refused: pinned means strict.
	_, _, err = run(t, p, other.host, "true")
	var hu *HostKeyUnknownError
	if !errors.As(err, &hu) {
		t.Fatalf("unpinned host: got %v, want HostKeyUnknownError", err)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Errorf("unpinned host: %T is no ConnectError", err)
	}
	after := snapshot(t, e.home)
	for f := range after {
		if _, ok := before[f]; !ok {
			t.Errorf("%s was written", f)
		}
	}
}

func TestKeyDataErrorsNameTheSourceOnly(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	secret := "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldC1ib2R5\n-----END OPENSSH PRIVATE KEY-----\n"
	p := e.pool(func(o *Options) {
		o.KeyData = []KeyData{{Source: "ssh.key_data DEPLOY_KEY", PEM: []byte(secret)}}
	})
	_, _, err := run(t, p, s.host, "true")
	if err == nil || !strings.Contains(err.Error(), "key from ssh.key_data DEPLOY_KEY") {
		t.Fatalf("got %v, want an error naming the key's source", err)
	}
	if strings.Contains(err.Error(), "bm90LWEta2V5") {
		t.Errorf("the error quotes the key: %v", err)
	}
}
