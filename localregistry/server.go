package localregistry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server is the Handler listening on 127.0.0.1 (never another address) for
// as long as one mrsk command needs it.
type Server struct {
	Handler *Handler
	ln      net.Listener
	srv     *http.Server
	unlock  func()
}

// Serve starts a Server on a free port of 127.0.0.1. While it is open no
// mrsk process prunes c.
func Serve(c *Cache) (*Server, error) {
	unlock, err := c.lock("serve.lock", syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("image cache: serve: %w", err)
	}
	h := NewHandler(c)
	s := &Server{Handler: h, ln: ln, unlock: unlock,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the address the Server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Dial connects to the Server.
func (s *Server) Dial() (net.Conn, error) { return net.Dial("tcp", s.Addr()) }

// Close stops the Server, ending connections in flight.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.unlock()
	return err
}

// Forward joins each connection accepted on ln (a port a host's SSH
// connection forwards to this process) to a new connection to the local
// registry, and counts the bytes sent to the host. It lives for one pull:
// Close stops it and cuts what is in flight.
type Forward struct {
	ln   net.Listener
	dial func() (net.Conn, error)

	sent     atomic.Int64
	accepted atomic.Int64

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewForward starts serving ln's connections through dial.
func NewForward(ln net.Listener, dial func() (net.Conn, error)) *Forward {
	f := &Forward{ln: ln, dial: dial, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f
}

// Port is the port the host's engine connects to, on its 127.0.0.1.
func (f *Forward) Port() int {
	if a, ok := f.ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Sent is the number of bytes sent to the host so far.
func (f *Forward) Sent() int64 { return f.sent.Load() }

// Accepted is the number of connections the host opened.
func (f *Forward) Accepted() int64 { return f.accepted.Load() }

func (f *Forward) accept() {
	defer f.wg.Done()
	for {
		remote, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.accepted.Add(1)
		local, err := f.dial()
		if err != nil {
			remote.Close()
			continue
		}
		if !f.track(remote, local) {
			remote.Close()
			local.Close()
			return
		}
		f.wg.Add(2)
		go func() {
			defer f.wg.Done()
			io.Copy(local, remote) // requests
			closeWrite(local)
		}()
		go func() {
			defer f.wg.Done()
			io.Copy(countingWriter{remote, &f.sent}, local) // responses
			remote.Close()
			local.Close()
			f.untrack(remote, local)
		}()
	}
}

func (f *Forward) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *Forward) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

// Close stops accepting, cuts every connection and waits until every copy
// has ended: after it returns, nothing more reaches the host.
func (f *Forward) Close() error {
	f.mu.Lock()
	f.closed = true
	err := f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// countingWriter adds what it writes to n, as it goes, so progress can be
// read mid-transfer.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}
