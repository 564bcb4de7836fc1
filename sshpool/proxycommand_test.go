package sshpool

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
)

// TestProxyRelay is not a test: run as a ProxyCommand (MRSK_TEST_RELAY
// set), it relays stdin and stdout to the address in its arguments.
func TestProxyRelay(t *testing.T) {
	addr := os.Getenv("MRSK_TEST_RELAY")
	if addr == "" {
		t.Skip("the relay of TestProxyCommand")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() { io.Copy(c, os.Stdin); c.(*net.TCPConn).CloseWrite() }()
	io.Copy(os.Stdout, c)
	os.Exit(0)
}

// ssh.proxy_command: the connection goes through the command, with %h and
// %p expanded, and ssh.log_level debug reports the steps.
func TestProxyCommand(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	var debug []string
	p := e.pool(func(o *Options) {
		// %h:%p is the host's address: the relay dials it.
		o.ProxyCommand = "MRSK_TEST_RELAY=%h:%p " + os.Args[0] + " -test.run=^TestProxyRelay$"
		o.Debug = func(host, msg string) { debug = append(debug, msg) }
	})
	if out := mustRun(t, p, s.host, "echo hi"); !strings.Contains(out, "hi") {
		t.Errorf("got %q", out)
	}
	all := strings.Join(debug, "\n")
	if !strings.Contains(all, "proxy_command: MRSK_TEST_RELAY=127.0.0.1:") || !strings.Contains(all, "authenticated as deployer") {
		t.Errorf("debug lines:\n%s", all)
	}
}

func TestProxyCommandTokens(t *testing.T) {
	ep := &endpoint{hostname: "h.example", port: 2222, user: "app"}
	if got := proxyCommandLine("ssh -W %h:%p %r@bastion 100%% %x", ep); got != "ssh -W h.example:2222 app@bastion 100% %x" {
		t.Errorf("got %q", got)
	}
}

// ssh.keys_only: the default ~/.ssh/id_* keys are not offered.
func TestKeysOnly(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	// The authorized key as the default file only.
	def := e.home + "/.ssh/id_ed25519"
	data, err := os.ReadFile(e.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.home+"/.ssh", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, data, 0o600); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir() + "/other"
	writeKeyFile(t, other)
	p := e.pool(func(o *Options) { o.Keys = []string{other} })
	mustRun(t, p, s.host, "true") // the default file is offered after keys
	p = e.pool(func(o *Options) { o.Keys, o.KeysOnly = []string{other}, true })
	if _, _, err := run(t, p, s.host, "true"); err == nil {
		t.Error("keys_only: the default key file was offered")
	}
}
