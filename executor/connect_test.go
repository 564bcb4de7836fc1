package executor

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/mrsk-go/mrsk/output"
)

// connectingRemote is a Remote that can connect without a command.
type connectingRemote struct {
	fakeRemote
	mu        sync.Mutex
	connected []string
	err       error
}

func (c *connectingRemote) Connect(ctx context.Context, host string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = append(c.connected, host)
	return c.err
}

func TestLiveConnect(t *testing.T) {
	var ran []string
	var mu sync.Mutex
	record := func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, host+": "+cmd)
		return nil
	}

	// A Remote that connects: no command runs, none is counted.
	cr := &connectingRemote{fakeRemote: fakeRemote{fn: record}}
	l := &Live{Remote: cr, Out: output.New(io.Discard, true)}
	if err := Connect(context.Background(), l, "h1"); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 0 || len(cr.connected) != 1 || cr.connected[0] != "h1" || l.Counts()["h1"] != 0 {
		t.Errorf("ran %q, connected %q, counted %d; want only a connection to h1", ran, cr.connected, l.Counts()["h1"])
	}
	// Its error comes back as is: it names the host.
	cr.err = errors.New("ssh root@h1:22: dial: connection refused")
	if err := Connect(context.Background(), l, "h1"); err != cr.err {
		t.Errorf("error %v, want %v", err, cr.err)
	}
	// A cancelled caller is told so.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Connect(ctx, "h1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	// A Remote that cannot: `true` runs, as before.
	l = &Live{Remote: &fakeRemote{fn: record}, Out: output.New(io.Discard, true)}
	if err := Connect(context.Background(), l, "h2"); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || ran[0] != "h2: true" {
		t.Errorf("ran %q, want [h2: true]", ran)
	}
	failing := &fakeRemote{fn: func(ctx context.Context, host, cmd string, stdout, stderr io.Writer) error {
		return errors.New("ssh root@h3:22: handshake: timed out")
	}}
	l = &Live{Remote: failing, Out: output.New(io.Discard, true)}
	if err := Connect(context.Background(), l, "h3"); err == nil || !strings.HasPrefix(err.Error(), `on h3: "true": ssh root@h3:22`) {
		t.Errorf("error %v", err)
	}
}

// noConnector is an Executor without Connect (a test double, say).
type noConnector struct {
	Recording
}

func (n *noConnector) Connect() {} // not the Connector method

func TestConnectFallsBackToRun(t *testing.T) {
	n := &noConnector{}
	if err := Connect(context.Background(), n, "h1"); err != nil {
		t.Fatal(err)
	}
	if cmds := n.Commands("h1"); len(cmds) != 1 || cmds[0].Line != "true" {
		t.Errorf("ran %v, want true", cmds)
	}
}

func TestPlansConnectToNothing(t *testing.T) {
	rec := &Recording{}
	for _, ex := range []Executor{&DryRunner{Out: output.New(io.Discard, true)}, rec} {
		if err := Connect(context.Background(), ex, "h1"); err != nil {
			t.Errorf("%T: %v", ex, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Connect(ctx, ex, "h1"); !errors.Is(err, context.Canceled) {
			t.Errorf("%T cancelled: %v", ex, err)
		}
	}
	if h := rec.Hosts(); len(h) != 0 {
		t.Errorf("Recording recorded %v", h)
	}
}
