package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

func mkStruct(kv ...any) starlark.Value {
	d := starlark.StringDict{}
	for i := 0; i < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1].(starlark.Value)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, d)
}

// errAttrs is a HasAttrs whose Attr always fails.
type errAttrs struct{ starlark.Value }

func (errAttrs) Attr(string) (starlark.Value, error) { return nil, errors.New("no attrs") }
func (errAttrs) AttrNames() []string                 { return nil }
func (errAttrs) String() string                      { return "errAttrs" }

func TestItemLabel(t *testing.T) {
	dict := starlark.NewDict(1)
	dict.SetKey(starlark.String("host"), starlark.String("web9"))
	tests := []struct {
		name string
		v    starlark.Value
		want string
	}{
		{"string", starlark.String("web1"), "web1"},
		{"empty string", starlark.String(""), ""},
		{"bytes", starlark.Bytes("b"), `b"b"`},
		{"int", starlark.MakeInt(3), "3"},
		{"none", starlark.None, "None"},
		{"struct with host", mkStruct("host", starlark.String("web2"), "role", starlark.String("app")), "web2"},
		{"struct with int host", mkStruct("host", starlark.MakeInt(1)), "struct(host = 1)"},
		{"struct without host", mkStruct("name", starlark.String("x")), `struct(name = "x")`},
		{"struct with nested host", mkStruct("host", mkStruct("host", starlark.String("h"))), `struct(host = struct(host = "h"))`},
		{"dict with host key", dict, `{"host": "web9"}`}, // keys are not attributes
		{"tuple", starlark.Tuple{starlark.String("a")}, `("a",)`},
		{"attr error", errAttrs{starlark.None}, "errAttrs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := itemLabel(tt.v); got != tt.want {
				t.Errorf("itemLabel(%v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestCancelReason(t *testing.T) {
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	withCause := func(err error) func() context.Context {
		return func() context.Context {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(err)
			return ctx
		}
	}
	tests := []struct {
		name string
		ctx  func() context.Context
		want string
	}{
		{"not cancelled", context.Background, "interrupted"},
		{"plain cancel", cancelled, "interrupted"},
		{"cause", withCause(errors.New("web1 failed")), "web1 failed"},
		{"nil cause", withCause(nil), "interrupted"},
		{"cause is Canceled", withCause(context.Canceled), "interrupted"},
		{"cause wraps Canceled", withCause(fmt.Errorf("stop: %w", context.Canceled)), "interrupted"},
		{"deadline", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			_ = cancel
			return ctx
		}, "context deadline exceeded"},
		{"child of cause", func() context.Context {
			ctx, cancel := context.WithCancel(withCause(errors.New("parent cause"))())
			_ = cancel
			return ctx
		}, "parent cause"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cancelReason(tt.ctx()); got != tt.want {
				t.Errorf("cancelReason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestItemError(t *testing.T) {
	sentinel := errors.New("exit status 1")
	ie := &ItemError{Item: "web1", Err: fmt.Errorf("docker run: %w", sentinel)}
	if got, want := ie.Error(), "web1: docker run: exit status 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(ie, sentinel) {
		t.Error("ItemError does not unwrap to its cause")
	}
	var got *ItemError
	if !errors.As(fmt.Errorf("deploy: %w", ie), &got) || got != ie {
		t.Error("errors.As does not find a wrapped ItemError")
	}
}

func runOn(th *starlark.Thread) error {
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, th, "x.star", "x = 1\n", nil)
	return err
}

func TestWatch(t *testing.T) {
	t.Run("cancel cancels the thread", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		th := &starlark.Thread{}
		stop := watch(ctx, th)
		defer stop()
		cancel(errors.New("because"))
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := runOn(th)
			if err != nil {
				if !strings.Contains(err.Error(), "cancelled: because") {
					t.Errorf("error = %v", err)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("thread never cancelled")
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Run("stop detaches", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		th := &starlark.Thread{}
		stop := watch(ctx, th)
		if !stop() {
			t.Error("stop() = false before cancellation")
		}
		cancel()
		time.Sleep(10 * time.Millisecond)
		if err := runOn(th); err != nil {
			t.Errorf("thread cancelled after stop(): %v", err)
		}
	})
}

func TestNewThreadLocals(t *testing.T) {
	e := &Engine{opts: Options{Locals: map[string]any{"a": 1, localEngine: "spoof"}}}
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	th := e.newThread(ctx, "n")
	if th.Name != "n" || th.Local("a") != 1 {
		t.Errorf("thread = %q, a = %v", th.Name, th.Local("a"))
	}
	// The engine's own locals win over Options.Locals.
	if FromThread(th) != e {
		t.Error("Options.Locals overrode the engine local")
	}
	if ContextOf(th) != ctx {
		t.Error("ContextOf does not return the thread's context")
	}
}
