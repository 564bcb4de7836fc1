package fleetsim

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// NewClientKey writes a fresh ed25519 private key (OpenSSH format, 0600) to
// file and returns its public half, for Options.ClientKey.
func NewClientKey(file string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fleetsim: client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "fleetsim")
	if err != nil {
		return nil, fmt.Errorf("fleetsim: client key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("fleetsim: client key: %w", err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("fleetsim: client key: %w", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("fleetsim: client key: %w", err)
	}
	return sp, nil
}

// Project is an mrsk project set up to deploy to a fleet.
type Project struct {
	Dir  string   // the project: run mrsk here
	Home string   // HOME for mrsk: .ssh/known_hosts lists every host
	Env  []string // environment for mrsk (HOME, no ssh-agent)
}

// WriteProject writes, under root, an mrsk project whose servers are the
// fleet's hosts (logging in with keyFile), and a home directory whose
// known_hosts holds every host's key. extra is appended to deploy.yml.
func (f *Fleet) WriteProject(root, keyFile, extra string) (Project, error) {
	p := Project{Dir: filepath.Join(root, "app"), Home: filepath.Join(root, "home")}
	var yml strings.Builder
	yml.WriteString("# Written by fleetsim: every server is a simulated host.\nservice: sim\nimage: sim/app\nservers:\n")
	for _, a := range f.Addrs() {
		fmt.Fprintf(&yml, "  - %s\n", a)
	}
	fmt.Fprintf(&yml, "ssh:\n  port: %d\n  keys: [%q]\n", f.Port(), keyFile)
	fmt.Fprintf(&yml, "healthcheck:\n  path: %s\n  port: 3000\nstop_wait_time: 1\n", f.opts.HealthPath)
	yml.WriteString(extra)
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{filepath.Join(p.Dir, "config", "deploy.yml"), yml.String(), 0o644},
		{filepath.Join(p.Home, ".ssh", "known_hosts"), f.KnownHosts(), 0o600},
	}
	for _, fl := range files {
		if err := os.MkdirAll(filepath.Dir(fl.path), 0o700); err != nil {
			return p, fmt.Errorf("fleetsim: project: %w", err)
		}
		if err := os.WriteFile(fl.path, []byte(fl.content), fl.mode); err != nil {
			return p, fmt.Errorf("fleetsim: project: %w", err)
		}
	}
	p.Env = []string{"HOME=" + p.Home, "SSH_AUTH_SOCK=", "USER=fleetsim"}
	return p, nil
}
