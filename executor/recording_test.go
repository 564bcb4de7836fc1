package executor

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/mrsk-go/mrsk/output"
)

func TestRecordingAnswers(t *testing.T) {
	rec := &Recording{Responses: []Response{
		{Pattern: regexp.MustCompile(`^docker ps`), Stdout: "abc|web\n"},
		{Pattern: regexp.MustCompile(`docker pull`), Stderr: "manifest unknown", Exit: 1},
		{Pattern: regexp.MustCompile(`docker`), Stdout: "never: an earlier pattern matched"},
		// Matched against what is shown: the secret itself is never seen.
		{Pattern: regexp.MustCompile(`-u \[REDACTED\]`), Stdout: "Login Succeeded"},
	}}
	for _, tc := range []struct {
		name    string
		c       Command
		want    Result
		wantErr int // exit code of the CommandError, 0: none
	}{
		{"answered", Command{Host: "h1", Line: "docker ps --all"}, Result{Stdout: "abc|web\n"}, 0},
		{"failed", Command{Host: "h1", Line: "docker pull img"}, Result{Stderr: "manifest unknown", Code: 1}, 1},
		{"first match wins", Command{Host: "h2", Line: "docker ps"}, Result{Stdout: "abc|web\n"}, 0},
		{"shown line", Command{Host: "h2", Line: "login -u bob", Display: "login -u [REDACTED]"}, Result{Stdout: "Login Succeeded"}, 0},
		{"unanswered is a dry run", Command{Line: "uname"}, Result{Planned: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rec.Run(context.Background(), tc.c)
			if res != tc.want {
				t.Errorf("Result = %+v, want %+v", res, tc.want)
			}
			var ce *CommandError
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.wantErr != 0 && (!errors.As(err, &ce) || ce.Code != tc.wantErr):
				t.Errorf("err = %v, want a CommandError exiting %d", err, tc.wantErr)
			}
		})
	}
	if got, want := rec.Hosts(), []string{"h1", "h2", ""}; !slices.Equal(got, want) {
		t.Errorf("Hosts() = %q, want %q", got, want)
	}
	if got := len(rec.Commands("h1")); got != 2 {
		t.Errorf("Commands(h1) has %d commands, want 2", got)
	}
}

func TestRecordingProbe(t *testing.T) {
	var buf bytes.Buffer
	rec := &Recording{
		Out:       output.New(&buf, true),
		Responses: []Response{{Pattern: regexp.MustCompile(`healthy: .*web-v2`), Stdout: "connection refused", Exit: 1}},
	}
	ctx := context.Background()
	if ok, err := Probe(ctx, rec, "h1", "wait until healthy: web-v1"); !ok || err != nil {
		t.Errorf("unanswered probe = %v, %v; want it planned and passing", ok, err)
	}
	if _, err := Probe(ctx, rec, "h1", "wait until healthy: web-v2"); err == nil || err.Error() != "connection refused" {
		t.Errorf("failed probe err = %v, want the response's output", err)
	}
	want := []string{"(wait until healthy: web-v1)", "(wait until healthy: web-v2)"}
	var got []string
	for _, c := range rec.Commands("h1") {
		got = append(got, c.Shown())
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if buf.String() != "[h1] (wait until healthy: web-v1)\n[h1] (wait until healthy: web-v2)\n" {
		t.Errorf("printed %q", buf.String())
	}
	if ok, _ := Probe(ctx, &Live{}, "h1", "x"); ok {
		t.Error("a live executor answered a probe: the real check would be skipped")
	}
}
