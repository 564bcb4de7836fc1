// Package sshpool keeps one SSH connection per host and runs every command
// for that host as a session on it.
//
// Connections are opened lazily, once per host even when many goroutines ask
// at the same time, and are dropped (to be redialled by the next command)
// when they die or stop answering keepalives. Host keys are checked against
// known_hosts as OpenSSH does, following StrictHostKeyChecking (default
// accept-new), UserKnownHostsFile and GlobalKnownHostsFile; ~/.ssh/config
// also supplies HostName, User, Port, IdentityFile and ProxyJump for host
// aliases.
package sshpool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configures a Pool. Zero values select the documented defaults.
type Options struct {
	User                  string                 // default "root"
	Port                  int                    // default 22
	Keys                  []string               // private key files, in addition to ssh-agent and ~/.ssh/id_ed25519, id_rsa, id_ecdsa when present
	Proxy                 string                 // jump host "user@host:port" or "host" (config ssh.proxy); applies to every host (not to jump hosts)
	KnownHostsFile        string                 // user known_hosts files (space separated; the first is written, created with its dir 0700 when needed); default: UserKnownHostsFile from ssh config, else ~/.ssh/known_hosts ~/.ssh/known_hosts2; "none" disables
	GlobalKnownHostsFile  string                 // read-only known_hosts files (space separated); default: GlobalKnownHostsFile from ssh config, else /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2; "none" disables
	StrictHostKeyChecking string                 // yes, accept-new, no (and OpenSSH's ask = yes, off = no); default: ssh config, else accept-new
	ConfigFile            string                 // default $HOME/.ssh/config; "none" disables
	ConnectTimeout        time.Duration          // default 10s: TCP connect + handshake deadline
	MaxSessions           int                    // concurrent sessions per host, default 8 (below OpenSSH MaxSessions 10)
	MaxHandshakes         int                    // concurrent handshakes across all hosts, default 64 (see DefaultMaxHandshakes)
	Keepalive             time.Duration          // default 30s, negative disables; keepalive@openssh.com requests, a failed one closes the connection so the next command redials
	Notice                func(host, msg string) // informational lines; calls are serialized
	// KeyData are private keys given as content (a CI secret in the
	// environment): parsed in memory, never written anywhere, offered
	// before any key file.
	KeyData []KeyData
	// KnownHostsData is known_hosts content (from the environment), read
	// before the global files and never written to; with it,
	// StrictHostKeyChecking defaults to yes: the content pins the hosts.
	KnownHostsData []byte
	// KeysOnly offers only Keys, KeyData and ssh config IdentityFile keys
	// (ssh.keys_only, OpenSSH's IdentitiesOnly): not ssh-agent's other
	// keys, nor the default ~/.ssh/id_* files.
	KeysOnly bool
	// ProxyCommand (ssh.proxy_command) reaches every host through a local
	// command, as OpenSSH's ProxyCommand: %h, %p and %r are the host,
	// port and user, %% a percent sign; stdin and stdout are the connection.
	ProxyCommand string
	// Debug, when set, receives each connection's steps (ssh.log_level
	// debug).
	Debug func(host, msg string)
}

// KeyData is one private key as PEM text. Source names it in errors
// ("MRSK_SSH_KEY"); the content never appears in one.
type KeyData struct {
	Source string
	PEM    []byte
}

// DefaultMaxHandshakes bounds the handshakes in flight across all hosts.
// Each host gets one at a time (one connection per host), so a server's
// MaxStartups (OpenSSH: 10 unauthenticated connections) is never what
// this protects: it bounds the local CPU and sockets of opening a fleet.
// A handshake takes several round trips, so the bound is what opening a
// large fleet waits on: 200 simulated hosts 10 ms away took 2.6 s at 8,
// 0.7-0.9 s at 32 and 0.5-0.7 s at 64 (BenchmarkConnectFleet).
const DefaultMaxHandshakes = 64

// ErrClosed is returned (wrapped) by Run and Dial after Close.
var ErrClosed = errors.New("sshpool: pool closed")

// ExitError is returned by Run when the remote command exits non-zero (or is
// killed by a signal: Code is then 128+signal number, as in a shell).
type ExitError struct {
	Host string // the host string given to Run
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("ssh %s: exit status %d", e.Host, e.Code)
}

// ConnectError is a failure to open a host's connection: the dial, the
// handshake, the host key check or the login. Nothing ran on the host.
// Its message is Err's.
type ConnectError struct {
	Host string // the host string given to Run, Dial or Connect
	Err  error
}

func (e *ConnectError) Error() string { return e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// Pool holds one SSH client per host. It is safe for concurrent use.
type Pool struct {
	opts Options
	home string

	ctx    context.Context // cancelled by Close; bounds every dial
	cancel context.CancelFunc

	handshakes chan struct{} // global handshake semaphore

	mu     sync.Mutex
	closed bool
	hosts  map[string]*hostConn // by endpoint key

	cfgOnce sync.Once
	cfg     *sshConfig
	cfgErr  error

	targets sync.Map // host string -> *resolved: resolve's answer, which never changes

	memKHOnce  sync.Once // KnownHostsData as a memory file, made once
	memKHPath  string
	memKHClose func() error
	memKHErr   error

	khMu       sync.Mutex      // serializes known_hosts check-and-append
	knownHosts knownHostsCache // parsed known_hosts files, while unchanged
	keyFiles   keyFileCache    // parsed private key files, while unchanged
	noticeMu   sync.Mutex
}

// hostConn is the per-host state: the current client, if any, the dial in
// flight, if any, and the session semaphore. It outlives individual clients.
type hostConn struct {
	ep       *endpoint
	sessions chan struct{}

	mu     sync.Mutex
	client *ssh.Client
	call   *dialCall
}

// dialCall is one dial attempt shared by every caller that asked while it
// was in flight. A failed attempt is not remembered: the next caller retries.
type dialCall struct {
	done   chan struct{}
	client *ssh.Client
	err    error
}

// New returns a Pool. It does no I/O: connections, ssh config and
// known_hosts are read when first needed.
func New(opts Options) *Pool {
	home, _ := os.UserHomeDir()
	if opts.User == "" {
		opts.User = "root"
	}
	if opts.Port == 0 {
		opts.Port = 22
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 8
	}
	if opts.MaxHandshakes <= 0 {
		opts.MaxHandshakes = DefaultMaxHandshakes
	}
	if opts.Keepalive == 0 {
		opts.Keepalive = 30 * time.Second
	}
	if opts.ConfigFile == "" {
		if home != "" {
			opts.ConfigFile = filepath.Join(home, ".ssh", "config")
		} else {
			opts.ConfigFile = "none"
		}
	}
	if opts.ConfigFile != "none" {
		opts.ConfigFile = expandTokens(opts.ConfigFile, tokens{home: home})
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{
		opts:       opts,
		home:       home,
		ctx:        ctx,
		cancel:     cancel,
		handshakes: make(chan struct{}, opts.MaxHandshakes),
		hosts:      map[string]*hostConn{},
	}
}

func (p *Pool) sshConfig() (*sshConfig, error) {
	p.cfgOnce.Do(func() {
		if p.opts.ConfigFile == "none" {
			p.cfg = &sshConfig{}
			return
		}
		p.cfg, p.cfgErr = loadSSHConfig(p.opts.ConfigFile, p.home)
	})
	return p.cfg, p.cfgErr
}

func (p *Pool) notice(host, msg string) {
	if p.opts.Notice == nil {
		return
	}
	p.noticeMu.Lock()
	defer p.noticeMu.Unlock()
	p.opts.Notice(host, msg)
}

// Run runs cmd (a shell command line, already quoted by the caller) on host
// in a new session on the host's one connection. stdin may be nil. stdout
// and stderr receive output as it arrives; nothing is written to them after
// Run returns. Run returns nil on exit 0 and *ExitError on a non-zero exit.
// When ctx is cancelled (or its deadline passes) the session is signalled
// (KILL) and closed and ctx.Err() is returned, wrapped, without waiting for
// the remote side; where the server ignores the signal (OpenSSH, root), a
// deadline is also enforced on the host (withHostDeadline). No error
// contains cmd.
func (p *Pool) Run(ctx context.Context, host, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	ep, err := p.target(host)
	if err != nil {
		return err
	}
	// Errors name the host but never cmd: the line may hold values meant
	// only for the host (a registry user name, say). The caller knows the
	// display form of the command and adds it (executor.Command.Shown).
	runErr := func(err error) error {
		return fmt.Errorf("ssh %s: %w", ep.label, err)
	}
	if err := ctx.Err(); err != nil {
		return runErr(err)
	}
	h, c, err := p.get(ctx, ep)
	if err != nil {
		return err
	}
	select {
	case h.sessions <- struct{}{}:
	case <-ctx.Done():
		return runErr(ctx.Err())
	}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { <-h.sessions }) }

	sess, err := c.NewSession()
	if err != nil && !isOpenRefused(err) && !p.alive(c) {
		// The connection died under us before the watcher noticed:
		// drop it and try once on a fresh one.
		p.drop(h, c)
		if _, c, err = p.get(ctx, ep); err != nil {
			release()
			return err
		}
		sess, err = c.NewSession()
	}
	if err != nil {
		release()
		if isOpenRefused(err) {
			return runErr(fmt.Errorf("open session: %w", err))
		}
		return runErr(fmt.Errorf("open session: %w", cleanErr(err)))
	}

	g := &gate{}
	if stdin != nil {
		sess.Stdin = &gatedReader{g: g, r: stdin}
	}
	if stdout != nil {
		sess.Stdout = &gatedWriter{g: g, w: stdout}
	}
	if stderr != nil {
		sess.Stderr = &gatedWriter{g: g, w: stderr}
	}
	defer g.close()

	if deadline, ok := ctx.Deadline(); ok && needsHostDeadline(c, ep) {
		cmd = withHostDeadline(cmd, time.Until(deadline))
	}
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		release()
		return runErr(cleanErr(err))
	}
	done := make(chan error, 1)
	go func() {
		err := sess.Wait()
		sess.Close()
		// The slot is held until the server has closed the channel, so
		// the server never sees more than MaxSessions sessions.
		release()
		done <- err
	}()

	select {
	case err := <-done:
		var ee *ssh.ExitError
		var em *ssh.ExitMissingError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ee):
			return &ExitError{Host: host, Code: ee.ExitStatus()}
		case errors.As(err, &em):
			return runErr(errors.New("connection lost before the command reported an exit status"))
		default:
			return runErr(cleanErr(err))
		}
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		return runErr(ctx.Err())
	}
}

// hostDeadlineGrace is how long after the caller's deadline the host
// itself kills a command (see withHostDeadline): the caller reports the
// timeout first, with its own message.
const hostDeadlineGrace = 2 * time.Second

// needsHostDeadline reports whether a command's deadline must be enforced
// on the host too. OpenSSH runs root sessions without post-auth privilege
// separation and then refuses "signal" requests ("session signalling
// requires privilege separation" in its log), and closing a session does
// not end a command that is blocked (on a hung Docker daemon, say): it runs
// on, and OpenSSH keeps its channel, so the session slot stays taken too.
func needsHostDeadline(c *ssh.Client, ep *endpoint) bool {
	return ep.user == "root" && strings.HasPrefix(string(c.ServerVersion()), "SSH-2.0-OpenSSH")
}

// withHostDeadline wraps cmd so that the host kills it (and what it
// started) once d plus a grace period has passed: GNU and busybox
// timeout(1) run it in a new process group and KILL the group. The command
// runs in the login shell, as sshd would run it; stdin, output and exit
// status pass through. Without timeout(1) on the host it runs unguarded.
func withHostDeadline(cmd string, d time.Duration) string {
	secs := int64((max(d, 0) + hostDeadlineGrace + time.Second - 1) / time.Second)
	return fmt.Sprintf(`set -- "${SHELL:-/bin/sh}" -c %s; if command -v timeout >/dev/null 2>&1; then set -- timeout -s KILL %d "$@"; fi; exec "$@"`,
		shellQuote(cmd), secs)
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Dial opens a TCP connection from the host's side (direct-tcpip), e.g. to
// a container address, through the host's one connection.
func (p *Pool) Dial(ctx context.Context, host, network, addr string) (net.Conn, error) {
	ep, err := p.target(host)
	if err != nil {
		return nil, err
	}
	h, c, err := p.get(ctx, ep)
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, network, addr)
	if err != nil && ctx.Err() == nil && !isOpenRefused(err) && !p.alive(c) {
		// Dead connection not yet noticed: redial once.
		p.drop(h, c)
		if _, c, err = p.get(ctx, ep); err != nil {
			return nil, err
		}
		conn, err = c.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh %s: dial %s %s: %w", ep.label, network, addr, cleanErr(err))
	}
	return conn, nil
}

// Listen asks the host's sshd to listen on addr on the host's side (a
// remote port forward, "tcpip-forward"; port 0 lets sshd pick one, read it
// from the listener's Addr) and returns the listener: each connection made
// to it there is accepted here, through the host's one connection.
// Closing the listener cancels the forward. A host whose sshd refuses
// forwards (AllowTcpForwarding no) fails with an error saying so.
func (p *Pool) Listen(ctx context.Context, host, network, addr string) (net.Listener, error) {
	ep, err := p.target(host)
	if err != nil {
		return nil, err
	}
	h, c, err := p.get(ctx, ep)
	if err != nil {
		return nil, err
	}
	ln, err := listenCtx(ctx, c, network, addr)
	if err != nil && ctx.Err() == nil && !p.alive(c) {
		// Dead connection not yet noticed: redial once.
		p.drop(h, c)
		if _, c, err = p.get(ctx, ep); err != nil {
			return nil, err
		}
		ln, err = listenCtx(ctx, c, network, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh %s: listen on %s %s: %w", ep.label, network, addr, cleanErr(err))
	}
	return ln, nil
}

// listenCtx is c.Listen, which takes no context, given up when ctx ends
// (the forward is then cancelled as soon as sshd answers).
func listenCtx(ctx context.Context, c *ssh.Client, network, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		ln, err := c.Listen(network, addr)
		done <- result{ln, err}
	}()
	select {
	case r := <-done:
		return r.ln, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.ln != nil {
				r.ln.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Connect opens the host's connection (dial, handshake, host key check,
// authentication) unless it is open already, and runs nothing: the check
// that a host answers, without a session's round trips. Its errors are
// Run's for the same failure.
func (p *Pool) Connect(ctx context.Context, host string) error {
	ep, err := p.target(host)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ssh %s: %w", ep.label, err)
	}
	_, _, err = p.get(ctx, ep)
	return err
}

// Close closes every connection. Run and Dial fail with ErrClosed afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.memKHClose != nil {
		p.memKHClose()
	}
	hosts := make([]*hostConn, 0, len(p.hosts))
	for _, h := range p.hosts {
		hosts = append(hosts, h)
	}
	p.mu.Unlock()
	p.cancel()
	for _, h := range hosts {
		h.mu.Lock()
		c := h.client
		h.client = nil
		h.mu.Unlock()
		if c != nil {
			c.Close()
		}
	}
	return nil
}

func (p *Pool) entry(ep *endpoint) (*hostConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("ssh %s: %w", ep.label, ErrClosed)
	}
	h := p.hosts[ep.key]
	if h == nil {
		h = &hostConn{ep: ep, sessions: make(chan struct{}, p.opts.MaxSessions)}
		p.hosts[ep.key] = h
	}
	return h, nil
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// get returns the connected client for ep, dialling if needed. Concurrent
// callers share one dial. The dial itself is bounded by ConnectTimeout and
// Close, not by ctx: ctx only bounds how long this caller waits, so one
// caller giving up does not fail the others.
func (p *Pool) get(ctx context.Context, ep *endpoint) (*hostConn, *ssh.Client, error) {
	h, err := p.entry(ep)
	if err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	if c := h.client; c != nil {
		h.mu.Unlock()
		return h, c, nil
	}
	call := h.call
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		h.call = call
		go p.runDial(h, call)
	}
	h.mu.Unlock()
	select {
	case <-call.done:
		return h, call.client, call.err
	case <-ctx.Done():
		return h, nil, fmt.Errorf("ssh %s: connect: %w", ep.label, ctx.Err())
	}
}

func (p *Pool) runDial(h *hostConn, call *dialCall) {
	c, err := p.dial(h.ep)
	if err != nil {
		err = &ConnectError{Host: h.ep.display, Err: err}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.call = nil
	if err == nil && p.isClosed() {
		c.Close()
		c, err = nil, fmt.Errorf("ssh %s: %w", h.ep.label, ErrClosed)
	}
	if err == nil {
		h.client = c
		p.watch(h, c)
	}
	call.client, call.err = c, err
	close(call.done)
}

// alive reports whether c still answers a global request.
func (p *Pool) alive(c *ssh.Client) bool {
	replied := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		replied <- err
	}()
	t := time.NewTimer(p.opts.ConnectTimeout)
	defer t.Stop()
	select {
	case err := <-replied:
		return err == nil
	case <-t.C:
		return false
	}
}

// drop forgets c (if it is still h's client) and closes it.
func (p *Pool) drop(h *hostConn, c *ssh.Client) {
	h.mu.Lock()
	if h.client == c {
		h.client = nil
	}
	h.mu.Unlock()
	c.Close()
}

// watch forgets c as soon as its connection ends, and sends keepalives,
// closing c when one fails or goes unanswered.
func (p *Pool) watch(h *hostConn, c *ssh.Client) {
	ended := make(chan struct{})
	go func() {
		c.Wait()
		close(ended)
		h.mu.Lock()
		if h.client == c {
			h.client = nil
		}
		h.mu.Unlock()
	}()
	if p.opts.Keepalive < 0 {
		return
	}
	go func() {
		t := time.NewTicker(p.opts.Keepalive)
		defer t.Stop()
		for {
			select {
			case <-ended:
				return
			case <-t.C:
			}
			replied := make(chan error, 1)
			go func() {
				_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
				replied <- err
			}()
			timer := time.NewTimer(p.opts.Keepalive + p.opts.ConnectTimeout)
			select {
			case err := <-replied:
				timer.Stop()
				if err != nil {
					p.drop(h, c)
					return
				}
			case <-timer.C:
				p.drop(h, c)
				return
			case <-ended:
				timer.Stop()
				return
			}
		}
	}()
}

// dial connects and authenticates to ep, through its jump host if any.
func (p *Pool) dial(ep *endpoint) (*ssh.Client, error) {
	var jump *ssh.Client
	if ep.jump != nil {
		// The jump host's own dial has its own timeout.
		_, jc, err := p.get(p.ctx, ep.jump)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: proxy: %w", ep.label, err)
		}
		jump = jc
	}

	authMethods, cleanupAuth, err := p.authMethods(ep)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: auth: %w", ep.label, err)
	}
	defer cleanupAuth()
	addr := ep.addr()
	kh, err := p.knownHostsDB(ep)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", ep.label, err)
	}
	cfg := &ssh.ClientConfig{
		User: ep.user,
		Auth: authMethods,
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			return p.verifyHostKey(ep, addr, remote, key)
		},
		HostKeyAlgorithms: hostKeyAlgorithms(kh, addr),
	}
	if ep.policy == AcceptAny {
		// Prefer the recorded key types, but do not insist: with
		// StrictHostKeyChecking no, OpenSSH connects to a host whose key
		// changed, even to a key of another type.
		for _, a := range defaultPlainHostKeyAlgos() {
			if !slices.Contains(cfg.HostKeyAlgorithms, a) {
				cfg.HostKeyAlgorithms = append(cfg.HostKeyAlgorithms, a)
			}
		}
	}

	// Waiting for a handshake slot does not count against ConnectTimeout.
	select {
	case p.handshakes <- struct{}{}:
	case <-p.ctx.Done():
		return nil, fmt.Errorf("ssh %s: %w", ep.label, ErrClosed)
	}
	defer func() { <-p.handshakes }()

	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	var conn net.Conn
	p.debug(ep, "connecting to "+ep.key)
	if jump != nil {
		conn, err = jump.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: dial via %s: %w", ep.label, ep.jump.label, p.ctxErr(ctx, err))
		}
	} else if ep.proxyCommand != "" {
		p.debug(ep, "proxy_command: "+ep.proxyCommand)
		conn, err = dialCommand(ep.proxyCommand, ep.hostname, ep.port)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: proxy_command: %w", ep.label, err)
		}
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: dial: %w", ep.label, p.ctxErr(ctx, err))
		}
	}

	// Closing the connection is the one deadline that works both for TCP
	// and for a channel through a jump host.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		if err == nil {
			sc.Close()
			err = ctx.Err()
		}
		return nil, fmt.Errorf("ssh %s: handshake: %w", ep.label, p.ctxErr(ctx, err))
	}
	if err != nil {
		var hk *HostKeyChangedError
		if errors.As(err, &hk) {
			return nil, fmt.Errorf("ssh %s: %w", ep.label, hk)
		}
		var hu *HostKeyUnknownError
		if errors.As(err, &hu) {
			return nil, fmt.Errorf("ssh %s: %w", ep.label, hu)
		}
		return nil, fmt.Errorf("ssh %s: handshake: %w", ep.label, cleanErr(err))
	}
	p.debug(ep, "connected: "+string(sc.ServerVersion())+", authenticated as "+ep.user)
	return ssh.NewClient(sc, chans, reqs), nil
}

// ctxErr explains an error caused by the dial context ending.
func (p *Pool) ctxErr(ctx context.Context, err error) error {
	switch {
	case p.ctx.Err() != nil:
		return ErrClosed
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return &msgErr{msg: fmt.Sprintf("timed out after %s", p.opts.ConnectTimeout), err: err}
	}
	return cleanErr(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isOpenRefused reports whether err is the server refusing a channel, as
// opposed to the connection being gone.
func isOpenRefused(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce)
}

// msgErr shows msg but unwraps to the original error.
type msgErr struct {
	msg string
	err error
}

func (e *msgErr) Error() string { return e.msg }
func (e *msgErr) Unwrap() error { return e.err }

// cleanErr shortens errors for people: "dial tcp 1.2.3.4:22: connect:
// connection refused" becomes "connection refused" (the address is already
// in our prefix) and x/crypto's "ssh: handshake failed: ssh: " prefixes
// are dropped. errors.Is/As still see the original error.
func cleanErr(err error) error {
	if err == nil {
		return nil
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		inner := oe.Err
		var se *os.SyscallError
		if errors.As(inner, &se) {
			inner = se.Err
		}
		if errors.Is(inner, syscall.ECONNREFUSED) {
			return &msgErr{msg: "connection refused", err: err}
		}
		return &msgErr{msg: inner.Error(), err: err}
	}
	msg := err.Error()
	trimmed := msg
	for _, prefix := range []string{"ssh: handshake failed: ", "ssh: "} {
		trimmed = strings.TrimPrefix(trimmed, prefix)
	}
	if trimmed != msg {
		return &msgErr{msg: trimmed, err: err}
	}
	return err
}

// gate stops output from reaching the caller's writers (and input from
// being read from the caller's reader) once Run has returned, so a
// cancelled Run never races with the caller reusing its buffers.
type gate struct {
	mu     sync.Mutex
	closed atomic.Bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed.Store(true)
	g.mu.Unlock()
}

type gatedWriter struct {
	g *gate
	w io.Writer
}

func (w *gatedWriter) Write(b []byte) (int, error) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	if w.g.closed.Load() {
		return len(b), nil
	}
	return w.w.Write(b)
}

// ReadFrom copies r to the writer, as io.Copy would, through a pooled
// buffer: x/crypto copies each session's stdout and stderr with io.Copy,
// which otherwise allocates 32 KB per stream of every command. Every chunk
// goes through Write, so the gate applies to it exactly as before; once
// the gate is closed the rest is read and discarded.
func (w *gatedWriter) ReadFrom(r io.Reader) (int64, error) {
	return copyPooled(w.Write, r.Read)
}

// copyBufs holds the buffers of gatedWriter.ReadFrom and
// gatedReader.WriteTo. They are small: command output and input are
// mostly short, and a session's channel hands over at most what its
// window holds anyway; a larger stream just takes more reads.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}

const copyBufSize = 8 << 10

type gatedReader struct {
	g *gate
	r io.Reader
}

func (r *gatedReader) Read(b []byte) (int, error) {
	if r.g.closed.Load() {
		return 0, io.EOF
	}
	return r.r.Read(b)
}

// WriteTo copies the reader to w through a pooled buffer (x/crypto copies
// a session's stdin with io.Copy into a pipe). Each chunk is read through
// Read, so input stops at the gate as before.
func (r *gatedReader) WriteTo(w io.Writer) (int64, error) {
	return copyPooled(w.Write, r.Read)
}

// copyPooled is io.Copy through a pooled buffer, calling write and read
// directly: io.CopyBuffer would call ReadFrom or WriteTo again.
func copyPooled(write, read func([]byte) (int, error)) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := read(buf)
		if n > 0 {
			m, werr := write(buf[:n])
			total += int64(max(m, 0))
			if werr == nil && m != n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}
