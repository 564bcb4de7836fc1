package sshpool

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on 127.0.0.1:0. It accepts the
// given public keys, runs "exec" requests with sh -c (stdin, stdout, stderr
// wired; exit-status or exit-signal sent; "signal" kills the process group)
// and forwards direct-tcpip channels. It counts TCP connections, concurrent
// sessions and direct-tcpip channels.
type testServer struct {
	t        testing.TB
	ln       net.Listener
	host     string // "127.0.0.1:port"
	port     int
	hostKeys []ssh.Signer
	cfg      *ssh.ServerConfig

	conns       atomic.Int64 // TCP connections accepted
	sessions    atomic.Int64 // sessions open right now
	maxSessions atomic.Int64 // most sessions open at once
	totalExecs  atomic.Int64
	directTCPIP atomic.Int64
	lastUser    atomic.Value // string

	hangKeepalive atomic.Bool // when set, keepalive requests get no reply
	// likeOpenSSHRoot makes the server announce itself as OpenSSH, refuse
	// "signal" requests and let a command outlive its closed channel, as
	// OpenSSH does for root sessions.
	likeOpenSSHRoot bool
	handshakes      *gauge // connections between accept and auth done
	// forwarding makes the server accept tcpip-forward requests (remote
	// port forwards), listening on 127.0.0.1, as OpenSSH does by default.
	forwarding bool
	writeDelay time.Duration

	mu      sync.Mutex
	live    map[net.Conn]bool
	closing bool
	wg      sync.WaitGroup
}

type serverOpt func(*testServer)

// withWriteDelay delays each packet the server sends by d: a host some
// round trip away, roughly.
func withWriteDelay(d time.Duration) serverOpt {
	return func(s *testServer) { s.writeDelay = d }
}

type delayedConn struct {
	net.Conn
	d time.Duration
}

func (c delayedConn) Write(b []byte) (int, error) {
	time.Sleep(c.d)
	return c.Conn.Write(b)
}

// gauge tracks a current and a maximum count.
type gauge struct{ cur, max atomic.Int64 }

func (g *gauge) inc() {
	n := g.cur.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (g *gauge) dec() { g.cur.Add(-1) }

// withHandshakeGauge shares a handshake gauge between servers.
func withHandshakeGauge(g *gauge) serverOpt {
	return func(s *testServer) { s.handshakes = g }
}

// withOpenSSHRootBehaviour: see testServer.likeOpenSSHRoot.
func withForwarding() serverOpt { return func(s *testServer) { s.forwarding = true } }

func withOpenSSHRootBehaviour() serverOpt {
	return func(s *testServer) { s.likeOpenSSHRoot = true }
}

// withHostKeys replaces the default ed25519 host key.
func withHostKeys(keys ...ssh.Signer) serverOpt {
	return func(s *testServer) { s.hostKeys = keys }
}

func newTestServer(t testing.TB, authorized []ssh.PublicKey, opts ...serverOpt) *testServer {
	t.Helper()
	s := &testServer{t: t, live: map[net.Conn]bool{}}
	for _, o := range opts {
		o(s)
	}
	if len(s.hostKeys) == 0 {
		s.hostKeys = []ssh.Signer{newEd25519Signer(t)}
	}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("unauthorized key")
		},
	}
	for _, k := range s.hostKeys {
		s.cfg.AddHostKey(k)
	}
	if s.likeOpenSSHRoot {
		s.cfg.ServerVersion = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.host = "127.0.0.1:" + strconv.Itoa(s.port)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) hostKey() ssh.PublicKey { return s.hostKeys[0].PublicKey() }

func (s *testServer) user() string {
	u, _ := s.lastUser.Load().(string)
	return u
}

func (s *testServer) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.live[nc] = true
		s.wg.Add(1)
		s.mu.Unlock()
		s.conns.Add(1)
		go s.handleConn(nc)
	}
}

// dropConns closes every client connection, as a server reboot would.
func (s *testServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.live {
		c.Close()
	}
}

func (s *testServer) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.ln.Close()
	s.dropConns()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("test server %s: handlers did not finish", s.host)
	}
}

func (s *testServer) handleConn(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.live, nc)
		s.mu.Unlock()
		nc.Close()
	}()
	if s.handshakes != nil {
		s.handshakes.inc()
	}
	var conn net.Conn = nc
	if s.writeDelay > 0 {
		conn = delayedConn{nc, s.writeDelay}
	}
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.cfg)
	if s.handshakes != nil {
		s.handshakes.dec()
	}
	if err != nil {
		return
	}
	defer sc.Close()
	s.lastUser.Store(sc.User())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		forwards := map[uint32]net.Listener{}
		defer func() {
			for _, ln := range forwards {
				ln.Close()
			}
		}()
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" && s.hangKeepalive.Load() {
				continue // never answered
			}
			if s.forwarding && (req.Type == "tcpip-forward" || req.Type == "cancel-tcpip-forward") {
				s.handleForward(sc, req, forwards)
				continue
			}
			// OpenSSH answers keepalive@openssh.com with a failure.
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}()
	var chWG sync.WaitGroup
	for nch := range chans {
		chWG.Add(1)
		switch nch.ChannelType() {
		case "session":
			go func() { defer chWG.Done(); s.handleSession(nch) }()
		case "direct-tcpip":
			go func() { defer chWG.Done(); s.handleDirectTCPIP(nch) }()
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
			chWG.Done()
		}
	}
	chWG.Wait()
}

// handleForward serves tcpip-forward (listen on 127.0.0.1, open a
// forwarded-tcpip channel per connection) and cancel-tcpip-forward.
func (s *testServer) handleForward(sc *ssh.ServerConn, req *ssh.Request, forwards map[uint32]net.Listener) {
	var m struct {
		Addr string
		Port uint32
	}
	if err := ssh.Unmarshal(req.Payload, &m); err != nil {
		req.Reply(false, nil)
		return
	}
	if req.Type == "cancel-tcpip-forward" {
		if ln := forwards[m.Port]; ln != nil {
			ln.Close()
			delete(forwards, m.Port)
		}
		req.Reply(true, nil)
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(m.Port))))
	if err != nil {
		req.Reply(false, nil)
		return
	}
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	forwards[port] = ln
	req.Reply(true, ssh.Marshal(struct{ Port uint32 }{port}))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ra := c.RemoteAddr().(*net.TCPAddr)
			ch, reqs, err := sc.OpenChannel("forwarded-tcpip", ssh.Marshal(struct {
				Addr       string
				Port       uint32
				OriginAddr string
				OriginPort uint32
			}{m.Addr, port, ra.IP.String(), uint32(ra.Port)}))
			if err != nil {
				c.Close()
				continue
			}
			go ssh.DiscardRequests(reqs)
			go func() { io.Copy(ch, c); ch.CloseWrite() }()
			go func() { io.Copy(c, ch); c.Close(); ch.Close() }()
		}
	}()
}

func (s *testServer) handleSession(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	n := s.sessions.Add(1)
	for {
		m := s.maxSessions.Load()
		if n <= m || s.maxSessions.CompareAndSwap(m, n) {
			break
		}
	}
	var endOnce sync.Once
	// end is called exactly once, before the server closes the channel, so
	// that the session count drops before the client can see the close.
	end := func() {
		endOnce.Do(func() {
			s.sessions.Add(-1)
			ch.Close()
		})
	}

	var (
		mu      sync.Mutex
		cmd     *exec.Cmd
		exited  = make(chan struct{})
		started bool
	)
	kill := func() {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-exited:
			return // reaped: its pid may be reused
		default:
		}
		if cmd != nil && cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	for req := range reqs {
		switch req.Type {
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil || started {
				req.Reply(false, nil)
				continue
			}
			started = true
			s.totalExecs.Add(1)
			c := exec.Command("sh", "-c", payload.Command)
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			c.Stdout = ch
			c.Stderr = ch.Stderr()
			c.WaitDelay = 5 * time.Second
			stdin, err := c.StdinPipe()
			if err == nil {
				err = c.Start()
			}
			if err != nil {
				req.Reply(false, nil)
				end()
				continue
			}
			mu.Lock()
			cmd = c
			mu.Unlock()
			req.Reply(true, nil)
			go func() {
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			go func() {
				defer close(exited)
				err := c.Wait()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						sig := "KILL"
						if ws.Signal() != syscall.SIGKILL {
							sig = "TERM"
						}
						ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
							Signal     string
							CoreDumped bool
							Error      string
							Lang       string
						}{Signal: sig}))
						end()
						return
					}
				}
				code := 0
				if c.ProcessState != nil {
					code = c.ProcessState.ExitCode()
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				end()
			}()
		case "signal":
			if s.likeOpenSSHRoot {
				req.Reply(false, nil)
				continue
			}
			kill()
			if req.WantReply {
				req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel (or the connection died): make sure
	// the command does not outlive it, unless playing OpenSSH, which
	// keeps the channel until the command ends.
	if !s.likeOpenSSHRoot {
		kill()
	}
	if started {
		<-exited
	}
	end()
}

func (s *testServer) handleDirectTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	s.directTCPIP.Add(1)
	c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))), 5*time.Second)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(c, ch)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(ch, c)
		ch.CloseWrite()
	}()
	wg.Wait()
	ch.Close()
	c.Close()
}

// --- keys ---

func newEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSASigner(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKeyFile writes a fresh unencrypted ed25519 private key in OpenSSH
// format to path and returns its signer.
func writeKeyFile(t testing.TB, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
