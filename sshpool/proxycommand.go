package sshpool

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proxyCommandLine expands OpenSSH's tokens in a ProxyCommand for ep:
// %h the host name, %p the port, %r the user, %% a percent sign.
func proxyCommandLine(cmd string, ep *endpoint) string {
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' || i+1 == len(cmd) {
			b.WriteByte(cmd[i])
			continue
		}
		i++
		switch cmd[i] {
		case 'h':
			b.WriteString(ep.hostname)
		case 'p':
			b.WriteString(strconv.Itoa(ep.port))
		case 'r':
			b.WriteString(ep.user)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(cmd[i])
		}
	}
	return b.String()
}

// dialCommand starts line with sh and returns a connection over its stdin
// and stdout; its stderr goes to mrsk's. Closing the connection ends it.
func dialCommand(line, hostname string, port int) (net.Conn, error) {
	c := exec.Command("/bin/sh", "-c", line)
	in, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		return nil, err
	}
	// known_hosts checks want a TCP address: the host's own, when it is an
	// address, else none that any entry can name.
	remote := &net.TCPAddr{IP: net.ParseIP(hostname), Port: port}
	if remote.IP == nil {
		remote.IP = net.IPv4zero
	}
	return &cmdConn{cmd: c, r: out, w: in, remote: remote}, nil
}

// cmdConn is a net.Conn over a command's pipes. Deadlines are not
// supported (the pool's deadlines close the connection instead).
type cmdConn struct {
	cmd    *exec.Cmd
	r      io.ReadCloser
	w      io.WriteCloser
	once   sync.Once
	remote net.Addr
}

func (c *cmdConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *cmdConn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		if c.cmd.Process != nil {
			c.cmd.Process.Kill()
		}
		c.cmd.Wait()
	})
	return nil
}
func (c *cmdConn) LocalAddr() net.Addr              { return cmdAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr             { return c.remote }
func (c *cmdConn) SetDeadline(time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return nil }

type cmdAddr struct{}

func (cmdAddr) Network() string { return "proxy_command" }
func (cmdAddr) String() string  { return "proxy_command" }

// debug reports a connection step to Options.Debug.
func (p *Pool) debug(ep *endpoint, msg string) {
	if p.opts.Debug == nil {
		return
	}
	p.noticeMu.Lock()
	defer p.noticeMu.Unlock()
	p.opts.Debug(ep.display, msg)
}
