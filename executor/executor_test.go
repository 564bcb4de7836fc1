package executor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/output"
)

func TestShownNeverShowsStdin(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{Command{Line: "docker ps"}, "docker ps"},
		{Command{Line: "docker login -u bob --password-stdin", Display: "docker login -u [REDACTED] --password-stdin", Stdin: []byte("hunter2")}, "docker login -u [REDACTED] --password-stdin < [REDACTED]"},
		{Command{Line: "cat > f", Stdin: []byte("x"), StdinNote: "(1 bytes)"}, "cat > f < (1 bytes)"},
	} {
		if got := tc.c.Shown(); got != tc.want {
			t.Errorf("Shown() = %q, want %q", got, tc.want)
		}
		if strings.Contains(tc.c.Shown(), "hunter2") || strings.Contains(tc.c.Shown(), "bob") {
			t.Errorf("Shown() leaks: %q", tc.c.Shown())
		}
	}
}

func TestDryRunnerPrintsAndRunsNothing(t *testing.T) {
	var buf bytes.Buffer
	d := &DryRunner{Out: output.New(&buf, true)}
	res, err := d.Run(context.Background(), Command{Host: "h1", Line: "rm -rf /tmp/x", Stdin: []byte("secret")})
	if err != nil || res.Code != 0 {
		t.Fatalf("Run = %v, %v", res, err)
	}
	if _, err := d.Dial(context.Background(), "h1", "10.0.0.1:80"); !errors.Is(err, ErrDryRun) {
		t.Errorf("Dial err = %v, want ErrDryRun", err)
	}
	if got, want := buf.String(), "[h1] $ rm -rf /tmp/x < [REDACTED]\n"; got != want {
		t.Errorf("printed %q, want %q (plans print even when quiet)", got, want)
	}
}

func TestLiveLocalExitCodeAndCounts(t *testing.T) {
	var buf bytes.Buffer
	l := &Live{Out: output.New(&buf, false), Verbose: true}
	res, err := l.Run(context.Background(), Command{Line: "echo out; echo err >&2; exit 3"})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Code != 3 || res.Code != 3 {
		t.Fatalf("err = %v, res = %+v; want a CommandError with code 3", err, res)
	}
	if !strings.Contains(ce.Error(), `on local: "echo out; echo err >&2; exit 3" exited 3: err`) {
		t.Errorf("error = %q", ce.Error())
	}
	if res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("output = %q / %q", res.Stdout, res.Stderr)
	}
	res, err = l.Run(context.Background(), Command{Line: "cat", Stdin: []byte("piped")})
	if err != nil || res.Stdout != "piped" {
		t.Errorf("stdin: %q, %v", res.Stdout, err)
	}
	if got := l.Counts()[""]; got != 2 {
		t.Errorf("local count = %d, want 2", got)
	}
	if !strings.Contains(buf.String(), "[local] $ echo out") {
		t.Errorf("verbose did not print the command: %q", buf.String())
	}
}
