package fleetsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// exec runs one command line as sh -c would on the host and returns its
// exit status.
func (h *Host) exec(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) uint32 {
	if d := h.fleet.opts.Latency; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 130
		}
	}
	if f := h.fault(line); f != nil {
		if f.Hang {
			<-ctx.Done()
			return 130
		}
		if f.Stderr != "" {
			fmt.Fprintln(stderr, f.Stderr)
		}
		if f.Code == 0 {
			return 1
		}
		return uint32(f.Code)
	}
	file, err := syntax.NewParser().Parse(strings.NewReader(line), "")
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	dropHighFDRedirects(file)
	st := &execState{}
	ctx = context.WithValue(ctx, execStateKey{}, st)
	defer func() {
		if st.flocked {
			<-h.flock
		}
	}()
	r, err := interp.New(
		interp.Env(expand.ListEnviron("HOME="+h.dir, "PATH=/usr/local/bin:/usr/bin:/bin", "USER=root", "LOGNAME=root", "SHELL=/bin/sh")),
		interp.Dir(h.dir),
		interp.StdIO(stdin, stdout, stderr),
		interp.CallHandler(func(ctx context.Context, args []string) ([]string, error) {
			// The interpreter has no umask; files here are the simulator's
			// own, so the mode does not matter.
			if args[0] == "umask" {
				return []string{"true"}, nil
			}
			return args, nil
		}),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return h.command }),
		interp.OpenHandler(h.open),
	)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	err = r.Run(ctx, file)
	if err == nil {
		return 0
	}
	if code, ok := interp.IsExitStatus(err); ok {
		return uint32(code)
	}
	if ctx.Err() != nil {
		return 130
	}
	fmt.Fprintf(stderr, "sh: %v\n", err)
	return 2
}

// execState is what one command line holds until it ends.
type execState struct {
	flocked bool // holds the host's flock
}

type execStateKey struct{}

// dropHighFDRedirects removes redirections of descriptors above 2 (`{ flock
// 9 && ...; } 9>file`), which the interpreter cannot open: `flock` holds the
// host's one lock until the command line ends instead, which is what such a
// block amounts to when it is the whole script.
func dropHighFDRedirects(file *syntax.File) {
	syntax.Walk(file, func(n syntax.Node) bool {
		if st, ok := n.(*syntax.Stmt); ok {
			kept := st.Redirs[:0]
			for _, r := range st.Redirs {
				if r.N != nil {
					if fd, err := strconv.Atoi(r.N.Value); err == nil && fd > 2 {
						continue
					}
				}
				kept = append(kept, r)
			}
			st.Redirs = kept
		}
		return true
	})
}

// path resolves p (relative to the shell's directory) inside the host's
// directory: a simulated host has no other files.
func (h *Host) path(ctx context.Context, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(interp.HandlerCtx(ctx).Dir, p)
	}
	p = filepath.Clean(p)
	if p != h.dir && !strings.HasPrefix(p, h.dir+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: outside the simulated host", p)
	}
	return p, nil
}

func (h *Host) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	if p == "/dev/null" {
		// Most commands send output there: no file to open for that.
		return devNull{}, nil
	}
	real, err := h.path(ctx, p)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(real, flag, perm)
}

// devNull reads as empty and discards writes.
type devNull struct{}

func (devNull) Read([]byte) (int, error)    { return 0, io.EOF }
func (devNull) Write(b []byte) (int, error) { return len(b), nil }
func (devNull) Close() error                { return nil }

// command runs a simple command that is not a shell builtin.
func (h *Host) command(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	stdout, stderr := hc.Stdout, hc.Stderr
	fail := func(code int, format string, a ...any) error {
		fmt.Fprintf(stderr, args[0]+": "+format+"\n", a...)
		return interp.NewExitStatus(uint8(code))
	}
	switch args[0] {
	case "docker":
		return h.docker.run(ctx, h, args[1:], hc.Stdin, stdout, stderr)
	case "mkdir":
		parents := false
		for _, a := range args[1:] {
			if a == "-p" {
				parents = true
				continue
			}
			p, err := h.path(ctx, a)
			if err != nil {
				return fail(1, "%v", err)
			}
			if parents {
				err = os.MkdirAll(p, 0o755)
			} else {
				err = os.Mkdir(p, 0o755)
			}
			if err != nil {
				return fail(1, "cannot create directory '%s': %v", a, unwrapPath(err))
			}
		}
		return nil
	case "cat":
		files := args[1:]
		if len(files) == 0 {
			if hc.Stdin != nil {
				_, err := io.Copy(stdout, hc.Stdin)
				return err
			}
			return nil
		}
		code := 0
		for _, a := range files {
			p, err := h.path(ctx, a)
			if err == nil {
				var b []byte
				if b, err = os.ReadFile(p); err == nil {
					stdout.Write(b)
					continue
				}
			}
			fmt.Fprintf(stderr, "cat: %s: %v\n", a, unwrapPath(err))
			code = 1
		}
		if code != 0 {
			return interp.NewExitStatus(uint8(code))
		}
		return nil
	case "mv":
		if len(args) != 3 {
			return fail(1, "want two operands")
		}
		from, err := h.path(ctx, args[1])
		if err != nil {
			return fail(1, "%v", err)
		}
		to, err := h.path(ctx, args[2])
		if err != nil {
			return fail(1, "%v", err)
		}
		if st, err := os.Stat(to); err == nil && st.IsDir() {
			to = filepath.Join(to, filepath.Base(from))
		}
		if err := os.Rename(from, to); err != nil {
			return fail(1, "cannot move '%s': %v", args[1], unwrapPath(err))
		}
		return nil
	case "chmod":
		if len(args) < 3 {
			return fail(1, "missing operand")
		}
		mode, err := strconv.ParseUint(args[1], 8, 32)
		if err != nil {
			return fail(1, "invalid mode: '%s'", args[1])
		}
		for _, a := range args[2:] {
			p, err := h.path(ctx, a)
			if err == nil {
				err = os.Chmod(p, os.FileMode(mode))
			}
			if err != nil {
				return fail(1, "%s: %v", a, unwrapPath(err))
			}
		}
		return nil
	case "rm":
		force, recursive := false, false
		var files []string
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				force = force || strings.Contains(a, "f")
				recursive = recursive || strings.ContainsAny(a, "rR")
				continue
			}
			files = append(files, a)
		}
		for _, a := range files {
			p, err := h.path(ctx, a)
			if err != nil {
				return fail(1, "%v", err)
			}
			if recursive {
				err = os.RemoveAll(p)
			} else {
				err = os.Remove(p)
			}
			if err != nil && !(force && errors.Is(err, os.ErrNotExist)) {
				return fail(1, "cannot remove '%s': %v", a, unwrapPath(err))
			}
		}
		return nil
	case "tail":
		n := 10
		var files []string
		for i := 1; i < len(args); i++ {
			switch a := args[i]; {
			case a == "-n" && i+1 < len(args):
				i++
				n, _ = strconv.Atoi(args[i])
			case strings.HasPrefix(a, "-n"):
				n, _ = strconv.Atoi(a[2:])
			case strings.HasPrefix(a, "-") && len(a) > 1:
				n, _ = strconv.Atoi(a[1:])
			default:
				files = append(files, a)
			}
		}
		var in io.Reader = hc.Stdin
		if in == nil {
			in = devNull{}
		}
		if len(files) > 0 {
			p, err := h.path(ctx, files[0])
			if err != nil {
				return fail(1, "%v", err)
			}
			f, err := os.Open(p)
			if err != nil {
				return fail(1, "cannot open '%s' for reading: %v", files[0], unwrapPath(err))
			}
			defer f.Close()
			in = f
		}
		var lines []string
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > n {
				lines = lines[1:]
			}
		}
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
		return nil
	case "sleep":
		if len(args) != 2 {
			return fail(1, "missing operand")
		}
		secs, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return fail(1, "invalid time interval '%s'", args[1])
		}
		select {
		case <-time.After(time.Duration(secs * float64(time.Second))):
			return nil
		case <-ctx.Done():
			return interp.NewExitStatus(130)
		}
	case "touch":
		for _, a := range args[1:] {
			p, err := h.path(ctx, a)
			if err == nil {
				var f *os.File
				if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					f.Close()
					now := time.Now()
					err = os.Chtimes(p, now, now)
				}
			}
			if err != nil {
				return fail(1, "cannot touch '%s': %v", a, unwrapPath(err))
			}
		}
		return nil
	case "flock":
		st, _ := ctx.Value(execStateKey{}).(*execState)
		if st == nil || st.flocked {
			return nil
		}
		select {
		case h.flock <- struct{}{}:
			st.flocked = true
			return nil
		case <-ctx.Done():
			return interp.NewExitStatus(130)
		}
	case "cp":
		if len(args) != 3 {
			return fail(1, "want two operands")
		}
		from, err := h.path(ctx, args[1])
		if err != nil {
			return fail(1, "%v", err)
		}
		to, err := h.path(ctx, args[2])
		if err != nil {
			return fail(1, "%v", err)
		}
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(to, b, 0o644)
		}
		if err != nil {
			return fail(1, "cannot copy '%s': %v", args[1], unwrapPath(err))
		}
		return nil
	case "wc":
		if len(args) < 2 || args[1] != "-c" {
			return fail(1, "only wc -c is simulated")
		}
		if len(args) == 2 {
			var in io.Reader = hc.Stdin
			if in == nil {
				in = devNull{}
			}
			n, err := io.Copy(io.Discard, in)
			if err != nil {
				return fail(1, "%v", err)
			}
			fmt.Fprintln(stdout, n)
			return nil
		}
		for _, a := range args[2:] {
			p, err := h.path(ctx, a)
			if err != nil {
				return fail(1, "%v", err)
			}
			st, err := os.Stat(p)
			if err != nil {
				return fail(1, "%s: %v", a, unwrapPath(err))
			}
			fmt.Fprintf(stdout, "%d %s\n", st.Size(), a)
		}
		return nil
	case "hostname":
		fmt.Fprintln(stdout, h.addr)
		return nil
	}
	fmt.Fprintf(stderr, "sh: %s: not found\n", args[0])
	return interp.NewExitStatus(127)
}

// unwrapPath drops the path from *os.PathError (messages name the operand).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
