// Package fleetsim simulates a fleet of hosts for mrsk: each host is an SSH
// server (golang.org/x/crypto/ssh, in this process) on its own loopback
// address, all on one port, that runs the shell scripts mrsk sends in an
// in-process POSIX shell (mvdan.cc/sh) with an emulated container runtime
// (`docker`) and a handful of file utilities, and that answers HTTP through
// SSH port forwarding the way app containers (health checks) and Traefik's
// API do.
//
// It exists to measure mrsk at a scale that real engines on a small machine
// cannot reach, and to inject faults (latency, hosts that refuse
// connections, commands that fail). mrsk does not know it talks to a
// simulator: it connects over real SSH with its own key and known_hosts.
//
// Nothing runs as a real process on a simulated host: spawning even one
// process per command costs milliseconds, which at 200 hosts would measure
// the simulator instead of mrsk. File commands are confined to the host's
// directory.
package fleetsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a Fleet. Zero values select the documented defaults.
type Options struct {
	Hosts int    // number of hosts, at least 1
	Dir   string // state root: host i keeps its files in Dir/<address>
	// Port all hosts listen on; 0 picks a free one.
	Port int
	// Latency is waited before each command runs, like a round trip to a
	// distant host.
	Latency time.Duration
	// ClientKey is the only public key accepted for login.
	ClientKey ssh.PublicKey
	// HealthPath is what app containers answer 200 on (default "/up").
	HealthPath string
	// Down lists hosts (by index) that refuse connections from the start.
	Down []int
	// Faults make matching commands fail without running.
	Faults []Fault
}

// Fault makes a command fail: the first fault whose Host (an address, or ""
// for every host) and Match (a substring of the command line) fit is
// applied instead of running the command.
type Fault struct {
	Host   string
	Match  string
	Code   int    // exit status; 0 means 1
	Stderr string // printed on stderr
	// Hang makes the command never finish (a hung daemon): it ends only
	// when the client closes the session or the fleet closes.
	Hang bool
}

// Fleet is a set of simulated hosts. Close it when done.
type Fleet struct {
	opts    Options
	port    int
	hostKey ssh.Signer
	server  *ssh.ServerConfig
	hosts   []*Host

	ctx    context.Context // cancelled by Close: ends every command
	cancel context.CancelFunc
}

// Address returns the loopback address of host i: 127.0.1.1, 127.0.1.2, ...
// (then 127.0.2.1 after 250 hosts), so each host has an address of its own
// on one port, like real hosts.
func Address(i int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
}

// Start listens on every host's address and serves until Close.
func Start(opts Options) (*Fleet, error) {
	if opts.Hosts < 1 {
		return nil, fmt.Errorf("fleetsim: want at least 1 host, got %d", opts.Hosts)
	}
	if opts.ClientKey == nil {
		return nil, errors.New("fleetsim: no client key to accept")
	}
	if opts.Dir == "" {
		return nil, errors.New("fleetsim: no state directory")
	}
	if opts.HealthPath == "" {
		opts.HealthPath = "/up"
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fleetsim: host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("fleetsim: host key: %w", err)
	}
	want := opts.ClientKey.Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(signer)
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{opts: opts, port: opts.Port, hostKey: signer, server: cfg, ctx: ctx, cancel: cancel}
	down := map[int]bool{}
	for _, i := range opts.Down {
		down[i] = true
	}
	for i := 0; i < opts.Hosts; i++ {
		addr := Address(i)
		dir := filepath.Join(opts.Dir, addr)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			f.Close()
			return nil, fmt.Errorf("fleetsim: %w", err)
		}
		h := &Host{fleet: f, addr: addr, dir: dir, docker: newDocker(addr), flock: make(chan struct{}, 1), conns: map[net.Conn]bool{}}
		f.hosts = append(f.hosts, h)
		if down[i] {
			continue
		}
		if err := h.listen(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if f.port == 0 {
		// Every host was down: pick a port anyway, so addresses are stable.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fleetsim: %w", err)
		}
		f.port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	return f, nil
}

// Port is the SSH port every host listens on.
func (f *Fleet) Port() int { return f.port }

// Hosts returns the simulated hosts, in address order.
func (f *Fleet) Hosts() []*Host { return f.hosts }

// Addrs returns every host's address.
func (f *Fleet) Addrs() []string {
	out := make([]string, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = h.addr
	}
	return out
}

// KnownHosts returns known_hosts lines for every host, so a client can
// check host keys strictly.
func (f *Fleet) KnownHosts() string {
	var sb strings.Builder
	for _, h := range f.hosts {
		hostport := net.JoinHostPort(h.addr, strconv.Itoa(f.port))
		sb.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostport)}, f.hostKey.PublicKey()))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Stats are counts since Start or the last ResetStats.
type Stats struct {
	Handshakes int64 // SSH connections that logged in
	Commands   int64 // exec requests
	Dials      int64 // port-forward channels (health probes, Traefik API)
}

// Stats returns per-host counts, in host order.
func (f *Fleet) Stats() []Stats {
	out := make([]Stats, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = h.Stats()
	}
	return out
}

// ResetStats zeroes every host's counts.
func (f *Fleet) ResetStats() {
	for _, h := range f.hosts {
		h.handshakes.Store(0)
		h.commands.Store(0)
		h.dials.Store(0)
	}
}

// Close stops every host and ends the commands still running.
func (f *Fleet) Close() error {
	f.cancel()
	for _, h := range f.hosts {
		h.SetDown(true)
	}
	return nil
}

// Host is one simulated host.
type Host struct {
	fleet  *Fleet
	addr   string
	dir    string
	docker *docker

	handshakes, commands, dials atomic.Int64

	flock chan struct{} // the host's one flock (see dropHighFDRedirects)

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// Addr is the host's address (without port).
func (h *Host) Addr() string { return h.addr }

// Dir is the host's home directory, where mrsk's files land.
func (h *Host) Dir() string { return h.dir }

// Stats returns the host's counts.
func (h *Host) Stats() Stats {
	return Stats{Handshakes: h.handshakes.Load(), Commands: h.commands.Load(), Dials: h.dials.Load()}
}

// Containers returns the host's containers, oldest first.
func (h *Host) Containers() []Container { return h.docker.list() }

// SetDown makes the host refuse connections (closing the ones it has, as a
// host that goes dark would) or, with false, accept them again.
func (h *Host) SetDown(down bool) error {
	if !down {
		return h.listen()
	}
	h.mu.Lock()
	ln := h.ln
	h.ln = nil
	conns := h.conns
	h.conns = map[net.Conn]bool{}
	h.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.Close()
	}
	return nil
}

func (h *Host) listen() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln != nil {
		return nil
	}
	if h.fleet.ctx.Err() != nil {
		return errors.New("fleetsim: fleet closed")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(h.addr, strconv.Itoa(h.fleet.port)))
	if err != nil {
		return fmt.Errorf("fleetsim: host %s: %w", h.addr, err)
	}
	if h.fleet.port == 0 {
		h.fleet.port = ln.Addr().(*net.TCPAddr).Port
	}
	h.ln = ln
	go h.accept(ln)
	return nil
}

func (h *Host) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.ln != ln {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = true
		h.mu.Unlock()
		go h.serveConn(c)
	}
}

func (h *Host) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(c, h.fleet.server)
	if err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	h.handshakes.Add(1)
	// keepalive@openssh.com and the like: a "no" reply still proves the
	// connection lives, which is all a client asks.
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go h.session(nc)
		case "direct-tcpip":
			go h.directTCPIP(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "not supported")
		}
	}
}

// session serves one exec request, as sshd does for `ssh host cmd`.
func (h *Host) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	ctx, cancel := context.WithCancel(h.fleet.ctx)
	defer cancel()
	done := make(chan uint32, 1)
	started := false
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				return // the client closed the channel: kill what runs
			}
			switch req.Type {
			case "exec":
				var p struct{ Command string }
				if started || ssh.Unmarshal(req.Payload, &p) != nil {
					req.Reply(false, nil)
					continue
				}
				started = true
				req.Reply(true, nil)
				h.commands.Add(1)
				go func() {
					stdin, err := readStdin(ch)
					if err != nil {
						done <- 255
						return
					}
					stdout, stderr := newBatchWriter(ch), newBatchWriter(ch.Stderr())
					code := h.exec(ctx, p.Command, stdin, stdout, stderr)
					stdout.Close()
					stderr.Close()
					done <- code
				}()
			case "signal":
				cancel()
				req.Reply(false, nil)
			case "env":
				req.Reply(true, nil)
			default:
				req.Reply(false, nil)
			}
		case code := <-done:
			ch.CloseWrite()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
			return
		}
	}
}

// batchWriter gathers a command's small writes (a shell writes line by
// line) into fewer SSH packets, as sshd does by reading the command's pipe
// in chunks: a packet per line costs both the simulator and mrsk system
// calls that a real host would not cause. Output is sent batchDelay after
// the first unsent write at the latest (so `logs -f` still streams), when
// batchMax bytes wait, and on Close.
type batchWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer
	err   error
}

const (
	batchDelay = 2 * time.Millisecond
	batchMax   = 32 << 10
)

func newBatchWriter(w io.Writer) *batchWriter { return &batchWriter{w: w} }

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= batchMax {
		b.flushLocked()
		return len(p), nil
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(batchDelay, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.flushLocked()
		})
	}
	return len(p), nil
}

func (b *batchWriter) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 || b.err != nil {
		return
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
}

// Close sends what is left.
func (b *batchWriter) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

// readStdin reads the session's input to its end. It returns nil when
// there is none: the shell then needs no pipe, and pipes cost system calls
// that at hundreds of hosts would measure the simulator rather than mrsk.
// (Waiting for the end is fine for mrsk, which sends its input whole.)
func readStdin(r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return bytes.NewReader(b), nil
}

// fault returns the fault that applies to cmd, if any.
func (h *Host) fault(cmd string) *Fault {
	for i, f := range h.fleet.opts.Faults {
		if (f.Host == "" || f.Host == h.addr) && strings.Contains(cmd, f.Match) {
			return &h.fleet.opts.Faults[i]
		}
	}
	return nil
}
