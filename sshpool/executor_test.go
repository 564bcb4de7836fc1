package sshpool

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
)

// These tests run the executor over a real SSH connection (the in-process
// server), where transport failures are real.

// TestDroppedConnectionErrorIsRedacted: the server goes away mid-command;
// the error names the host and the displayed command, and holds nothing of
// the line that only the host may see.
func TestDroppedConnectionErrorIsRedacted(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	p := e.pool(nil)
	l := &executor.Live{Remote: p, Out: output.New(io.Discard, true)}
	c := executor.Command{
		Host:    s.host,
		Line:    "login() { :; }; login -u registry-user-bob; echo started; sleep 30",
		Display: "login -u [REDACTED]; echo started; sleep 30",
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.Run(context.Background(), c)
		errc <- err
	}()
	waitFor(t, "command start", func() bool { return s.sessions.Load() == 1 })
	s.dropConns()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the connection dropped")
	}
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"on " + s.host + ": ", `"login -u [REDACTED]; echo started; sleep 30"`, "deployer@" + s.host} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "bob") {
		t.Errorf("error leaks the line: %q", msg)
	}
}

// TestCommandTimeoutOverSSH: a command that hangs is stopped at its
// timeout, its remote process killed, the session closed, and the
// connection stays usable.
func TestCommandTimeoutOverSSH(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	p := e.pool(nil)
	mustRun(t, p, s.host, "true") // connected: the timing covers the command only
	l := &executor.Live{Remote: p, Out: output.New(io.Discard, true), CommandTimeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := l.Run(context.Background(), executor.Command{Host: s.host, Line: "docker() { sleep 30; }; docker ps"})
	var te *executor.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want a TimeoutError", err)
	}
	want := "on " + s.host + ": `docker() { sleep 30; }; docker ps` did not finish within 300ms and was stopped (raise the limit with --command-timeout or command_timeout in deploy.yml)"
	if err.Error() != want {
		t.Errorf("error:\n %s\nwant:\n %s", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
	waitFor(t, "remote command killed and session closed", func() bool { return s.sessions.Load() == 0 })
	res, err := l.Run(context.Background(), executor.Command{Host: s.host, Line: "echo ok"})
	if err != nil || res.Stdout != "ok\n" {
		t.Errorf("after the timeout: %q, %v", res.Stdout, err)
	}
	if s.conns.Load() != 1 {
		t.Errorf("conns = %d, want the one connection reused", s.conns.Load())
	}
}
