package sshpool

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestListenOnHost: a port the host listens on (a remote forward) brings
// its connections here, through the host's one SSH connection, and stops
// taking them once the listener is closed.
func TestListenOnHost(t *testing.T) {
	e := newEnv(t)
	s := e.server(withForwarding())
	p := e.pool(nil)
	ctx := context.Background()
	ln, err := p.Listen(ctx, s.host, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("no port allocated")
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	// The host's side: here the test server listens on our loopback.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the forward: %q %v", buf, err)
	}
	c.Close()
	mustRun(t, p, s.host, "true")
	if s.conns.Load() != 1 {
		t.Errorf("conns = %d, want 1 (one connection for commands and forwards)", s.conns.Load())
	}

	ln.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the host still listens after the listener was closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListenRefused: a host whose sshd refuses forwards fails with an
// error naming the host.
func TestListenRefused(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	p := e.pool(nil)
	_, err := p.Listen(context.Background(), s.host, "tcp", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), s.host) || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("Listen on a host refusing forwards: %v", err)
	}
}
