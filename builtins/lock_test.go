package builtins

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/output"
)

// homeShell runs every command with /bin/sh in dir, as if dir were the
// remote user's home: the lock's shell script runs for real.
type homeShell struct{ dir string }

func (s homeShell) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.Line)
	cmd.Dir = s.dir
	cmd.Stdin = bytes.NewReader(c.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := executor.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Code = ee.ExitCode()
		return res, &executor.CommandError{Host: c.Host, Command: c.Shown(), Code: res.Code, Stderr: res.Stderr}
	}
	return res, err
}
func (homeShell) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, executor.ErrDryRun
}
func (homeShell) DryRun() bool { return false }
func (homeShell) Close() error { return nil }

func lockTestRuntime(t *testing.T, ex executor.Executor, out *bytes.Buffer) (*Runtime, *starlark.Thread) {
	t.Helper()
	cfg := &config.Config{File: "config/deploy.yml", Service: "app", Image: "me/app", PrimaryRole: "web",
		Roles: []*config.Role{{Name: "web", Hosts: []string{"h1", "h2"}}}}
	rt := NewRuntime(cfg, ex, output.New(out, false), Options{Version: "v1", Performer: "tester"})
	th := &starlark.Thread{Name: "test"}
	th.SetLocal(LocalRuntime, rt)
	return rt, th
}

// TestLockAcquire runs the acquire script in a directory standing for the
// primary host's home: only an existing lock directory is "held"; any other
// failure names the host and the real error, and leaves nothing behind.
func TestLockAcquire(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, home string)
		want    string // "" means acquired
		check   func(t *testing.T, home string)
	}{
		{name: "free", check: func(t *testing.T, home string) {
			b, err := os.ReadFile(filepath.Join(home, ".mrsk/lock-app/details"))
			if err != nil || !strings.Contains(string(b), "Locked by: tester at ") || !strings.Contains(string(b), "Message: deploy v1") {
				t.Errorf("details %q, %v", b, err)
			}
		}},
		{name: "held", prepare: func(t *testing.T, home string) {
			mkdirIn(t, home, ".mrsk/lock-app")
			writeIn(t, home, ".mrsk/lock-app/details", "Locked by: someone at 2026-01-01T00:00:00Z\nMessage: deploy v0\n")
		}, want: "deploy lock found on h1:\n  Locked by: someone at 2026-01-01T00:00:00Z\n  Message: deploy v0\n(another deploy is running"},
		{name: "lock path is a file", prepare: func(t *testing.T, home string) {
			mkdirIn(t, home, ".mrsk")
			writeIn(t, home, ".mrsk/lock-app", "not a lock")
		}, want: "cannot create the deploy lock .mrsk/lock-app on h1: File exists",
			check: func(t *testing.T, home string) {
				if b, _ := os.ReadFile(filepath.Join(home, ".mrsk/lock-app")); string(b) != "not a lock" {
					t.Errorf("the file in the way was changed: %q", b)
				}
			}},
		{name: "state dir is a file", prepare: func(t *testing.T, home string) {
			writeIn(t, home, ".mrsk", "x")
		}, want: "cannot create the deploy lock .mrsk/lock-app on h1: File exists"},
		{name: "state dir under a file", prepare: func(t *testing.T, home string) {
			// The lock's parent cannot exist: "Not a directory".
			if err := os.Symlink("/dev/null/nowhere", filepath.Join(home, ".mrsk")); err != nil {
				t.Fatal(err)
			}
		}, want: "cannot create the deploy lock .mrsk/lock-app on h1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if tt.prepare != nil {
				tt.prepare(t, home)
			}
			var out bytes.Buffer
			rt, th := lockTestRuntime(t, homeShell{home}, &out)
			_, err := starlark.Call(th, starlark.NewBuiltin("lock", bind(bLock)), starlark.Tuple{starlark.String("acquire"), starlark.String("deploy v1")}, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("acquire: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("acquire error %v, want %q", err, tt.want)
			case tt.want != "" && !strings.Contains(tt.name, "held") && strings.Contains(err.Error(), "deploy lock found"):
				t.Fatalf("a failure reported as a held lock: %v", err)
			}
			if tt.check != nil {
				tt.check(t, home)
			}
			if err := rt.RunCleanups(context.Background()); err != nil {
				t.Fatalf("cleanups: %v", err)
			}
			if tt.want == "" {
				if _, err := os.Stat(filepath.Join(home, ".mrsk/lock-app")); !os.IsNotExist(err) {
					t.Errorf("lock left after the flow ended: %v", err)
				}
			}
		})
	}
}

// failOn fails every command on one host the way a full disk does.
type failOn struct {
	recorder
	host, stderr string
}

func (f *failOn) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	f.recorder.Run(ctx, c)
	if c.Host == f.host {
		return executor.Result{Code: 1, Stderr: f.stderr}, &executor.CommandError{Host: c.Host, Command: c.Shown(), Code: 1, Stderr: f.stderr}
	}
	return executor.Result{}, nil
}

// TestAuditWriteFailure: an audit line that cannot be written (it is
// written after the action took effect) is a warning naming the host and
// the cause, not a failure of the command.
func TestAuditWriteFailure(t *testing.T) {
	ex := &failOn{host: "h2", stderr: "cat: write error: No space left on device\n"}
	var out bytes.Buffer
	_, th := lockTestRuntime(t, ex, &out)
	if _, err := starlark.Call(th, starlark.NewBuiltin("audit", bind(bAudit)), starlark.Tuple{starlark.String("deployed v1")}, nil); err != nil {
		t.Fatalf("audit failed the flow: %v", err)
	}
	if len(ex.cmds) != 2 {
		t.Errorf("%d commands, want one per host", len(ex.cmds))
	}
	want := `[h2] warning: could not append to the audit log .mrsk/app-audit.log: No space left on device ("deployed v1" was not recorded there)`
	if !strings.Contains(out.String(), want) {
		t.Errorf("output\n%s\nwant\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "[h1] warning") {
		t.Errorf("warning for a host that wrote its line:\n%s", out.String())
	}
}

func mkdirIn(t *testing.T, home, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeIn(t *testing.T, home, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(home, rel), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAuditUnlock runs audit(unlock=True)'s script for real: the lock goes
// in the primary host's audit command, also when the line cannot be
// written (a warning); a stop still running in the background is waited
// for first, and its failure fails the flow with the lock left to the
// flow's exit, which releases it.
func TestAuditUnlock(t *testing.T) {
	unlock := []starlark.Tuple{{starlark.String("unlock"), starlark.True}}
	call := func(th *starlark.Thread, name string, fn builtinFunc, args ...starlark.Value) error {
		var kwargs []starlark.Tuple
		if name == "audit" {
			kwargs = unlock
		}
		_, err := starlark.Call(th, starlark.NewBuiltin(name, bind(fn)), args, kwargs)
		return err
	}
	lockGone := func(t *testing.T, home string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(home, ".mrsk/lock-app")); !os.IsNotExist(err) {
			t.Errorf("lock still there: %v", err)
		}
	}
	tests := []struct {
		name        string
		prepare     func(t *testing.T, home string)
		stop        bool   // a background stop first (docker is not there: it fails)
		wantErr     string // "" : audit(unlock=True) succeeds
		wantWarning string
	}{
		{name: "written"},
		{name: "audit log unwritable", prepare: func(t *testing.T, home string) {
			mkdirIn(t, home, ".mrsk/app-audit.log") // a directory: cat >> fails
		}, wantWarning: "[h1] warning: could not append to the audit log .mrsk/app-audit.log: Is a directory"},
		{name: "background stop failed", stop: true, wantErr: "on h1: stop app-web-v0: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if tt.prepare != nil {
				tt.prepare(t, home)
			}
			var out bytes.Buffer
			rt, th := lockTestRuntime(t, homeShell{home}, &out)
			rt.Config.Roles[0].Hosts = []string{"h1"}
			if err := call(th, "lock", bLock, starlark.String("acquire"), starlark.String("deploy v1")); err != nil {
				t.Fatal(err)
			}
			if tt.stop {
				if _, err := starlark.Call(th, starlark.NewBuiltin("docker_stop", bind(bDockerStop)), starlark.Tuple{starlark.String("h1"), starlark.String("app-web-v0")},
					[]starlark.Tuple{{starlark.String("wait"), starlark.False}}); err != nil {
					t.Fatalf("a background stop failed at once: %v", err)
				}
			}
			err := call(th, "audit", bAudit, starlark.String("deployed v1"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("audit error %v, want %q", err, tt.wantErr)
				}
				if _, err := os.Stat(filepath.Join(home, ".mrsk/lock-app")); err != nil {
					t.Fatalf("lock gone before the flow's exit: %v", err)
				}
				if err := rt.RunCleanups(context.Background()); err != nil {
					t.Fatalf("cleanups: %v", err) // the stop's error was reported once, above
				}
				lockGone(t, home)
				return
			}
			if err != nil {
				t.Fatalf("audit: %v", err)
			}
			lockGone(t, home)
			if tt.wantWarning != "" && !strings.Contains(out.String(), tt.wantWarning) {
				t.Errorf("output\n%s\nwant %q", out.String(), tt.wantWarning)
			}
			if tt.wantWarning == "" {
				if b, err := os.ReadFile(filepath.Join(home, ".mrsk/app-audit.log")); err != nil || !strings.Contains(string(b), "[tester] deployed v1") {
					t.Errorf("audit log %q, %v", b, err)
				}
			}
			if !strings.HasSuffix(strings.TrimSpace(out.String()), "[h1] released the deploy lock") {
				t.Errorf("output does not end with the release:\n%s", out.String())
			}
			// The lock's own release (locked's) has nothing left to do.
			if err := call(th, "lock", bLock, starlark.String("release")); err != nil {
				t.Fatal(err)
			}
			if err := rt.RunCleanups(context.Background()); err != nil {
				t.Fatalf("cleanups: %v", err)
			}
			if n := strings.Count(out.String(), "released the deploy lock"); n != 1 {
				t.Errorf("released %d times:\n%s", n, out.String())
			}
		})
	}
}

// TestAuditUnlockCutOff: when the combined command fails without saying
// whether the lock went (a dropped connection), the flow fails and its
// exit releases the lock again.
func TestAuditUnlockCutOff(t *testing.T) {
	ex := &failOn{host: "h1", stderr: "connection lost\n"}
	var out bytes.Buffer
	rt, th := lockTestRuntime(t, &recorder{}, &out)
	if _, err := starlark.Call(th, starlark.NewBuiltin("lock", bind(bLock)), starlark.Tuple{starlark.String("acquire")}, nil); err != nil {
		t.Fatal(err)
	}
	rt.Exec = ex
	_, err := starlark.Call(th, starlark.NewBuiltin("audit", bind(bAudit)), starlark.Tuple{starlark.String("deployed v1")}, []starlark.Tuple{{starlark.String("unlock"), starlark.True}})
	if err == nil || !strings.Contains(err.Error(), "release deploy lock") {
		t.Fatalf("audit error %v, want the release's", err)
	}
	_ = rt.RunCleanups(context.Background()) // fails again on h1: it is down
	last := ex.cmds[len(ex.cmds)-1]
	if last.Host != "h1" || last.Line != "rm -rf .mrsk/lock-app" {
		t.Errorf("last command %s %q, want the exit's release on h1", last.Host, last.Line)
	}
}

// blockUntilCancel is a host whose commands hang until they are cancelled.
type blockUntilCancel struct{ recorder }

func (b *blockUntilCancel) Run(ctx context.Context, c executor.Command) (executor.Result, error) {
	b.recorder.Run(ctx, c)
	<-ctx.Done()
	return executor.Result{}, ctx.Err()
}

// TestBackgroundStopCutOff: Ctrl-C (the run's Interrupt context) cuts a
// background stop, and the flow's exit says what that leaves.
func TestBackgroundStopCutOff(t *testing.T) {
	ex := &blockUntilCancel{}
	var out bytes.Buffer
	rt, th := lockTestRuntime(t, ex, &out)
	ctx, cancel := context.WithCancel(context.Background())
	rt.Opts.Interrupt = ctx
	if _, err := starlark.Call(th, starlark.NewBuiltin("docker_stop", bind(bDockerStop)), starlark.Tuple{starlark.String("h1"), starlark.String("app-web-v0")},
		[]starlark.Tuple{{starlark.String("wait"), starlark.False}}); err != nil {
		t.Fatalf("docker_stop(wait=False) waited or failed: %v", err)
	}
	cancel()
	err := rt.RunCleanups(context.Background())
	if err == nil || !strings.Contains(err.Error(), "on h1: the stop of app-web-v0 was cut off") {
		t.Fatalf("cleanups error %v, want the cut-off stop named", err)
	}
}
