package builtins

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/shellwords"
)

// log(*msgs, host="") prints a line, prefixed by host when given.
func bLog(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "host?", &host); err != nil {
		return nil, err
	}
	parts := make([]string, len(args))
	for i, a := range args {
		if s, ok := starlark.AsString(a); ok {
			parts[i] = s
		} else {
			parts[i] = a.String()
		}
	}
	for _, line := range strings.Split(strings.TrimRight(strings.Join(parts, " "), "\n"), "\n") {
		rt.Out.Always(host, line)
	}
	return starlark.None, nil
}

// step(title) announces the next step of a flow.
func bStep(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var title string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &title); err != nil {
		return nil, err
	}
	rt.Out.Step(title)
	rt.mu.Lock()
	rt.step = title
	rt.mu.Unlock()
	return starlark.None, nil
}

// status(text, host="") sets a line of the live view (batch 2 of 3): plain
// output, pipes and logs never show it, so flows may call it freely.
func bStatus(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var text, host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "text", &text, "host?", &host); err != nil {
		return nil, err
	}
	rt.Out.Status(host, text)
	return starlark.None, nil
}

// sleep(seconds) waits, and wakes early when the flow is cancelled.
func bSleep(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d duration
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &d); err != nil {
		return nil, err
	}
	if rt.Exec.DryRun() {
		rt.Out.Always("", fmt.Sprintf("(wait %gs)", time.Duration(d).Seconds()))
		return starlark.None, nil
	}
	ctx := engine.ContextOf(t)
	select {
	case <-time.After(time.Duration(d)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return starlark.None, nil
}

func cmdLine(v starlark.Value) (string, error) {
	if s, ok := starlark.AsString(v); ok {
		return s, nil // a string is shell syntax the caller wrote
	}
	args, err := toStrings(v)
	if err != nil {
		return "", err
	}
	return join(args...), nil
}

func resultValue(r executor.Result) starlark.Value {
	return mkstruct(starlark.StringDict{
		"stdout": starlark.String(r.Stdout),
		"stderr": starlark.String(r.Stderr),
		"code":   starlark.MakeInt(r.Code),
		"ok":     starlark.Bool(r.Code == 0),
	})
}

// ssh_run(host, cmd, stdin=None, stream=True, check=True) runs cmd on host.
// cmd is a list of words (each quoted) or a string of shell syntax.
func bSSHRun(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	var cmd starlark.Value
	var stdin starlark.Value = starlark.None
	stream, check := true, true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "cmd", &cmd, "stdin?", &stdin, "stream?", &stream, "check?", &check); err != nil {
		return nil, err
	}
	return runCommand(t, rt, b, host, cmd, stdin, stream, check, nil)
}

// local_run(cmd, stdin=None, stream=True, check=True, env={}) runs cmd on
// this machine, in the project directory (builds, hooks).
func bLocalRun(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cmd starlark.Value
	var stdin starlark.Value = starlark.None
	env := &starlark.Dict{}
	stream, check := true, true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cmd", &cmd, "stdin?", &stdin, "stream?", &stream, "check?", &check, "env?", &env); err != nil {
		return nil, err
	}
	var envs []string
	for _, kv := range env.Items() {
		k, _ := starlark.AsString(kv[0])
		v, ok := starlark.AsString(kv[1])
		if !ok {
			return nil, fmt.Errorf("%s: env values must be strings", b.Name())
		}
		envs = append(envs, k+"="+v)
	}
	return runCommand(t, rt, b, "", cmd, stdin, stream, check, envs)
}

func runCommand(t *starlark.Thread, rt *Runtime, b *starlark.Builtin, host string, cmd, stdin starlark.Value, stream, check bool, env []string) (starlark.Value, error) {
	line, err := cmdLine(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: cmd: %w", b.Name(), err)
	}
	c := executor.Command{Host: host, Line: line, Stream: stream, Env: env}
	if host == "" {
		c.Dir = rt.Opts.ProjectRoot
	}
	if stdin != starlark.None {
		s, ok := starlark.AsString(stdin)
		if !ok {
			return nil, fmt.Errorf("%s: stdin must be a string", b.Name())
		}
		c.Stdin = []byte(s)
		c.StdinNote = fmt.Sprintf("(%d bytes)", len(s))
	}
	res, err := rt.run(t, c)
	if err != nil && (check || res.Code == 0) {
		return nil, err
	}
	return resultValue(res), nil
}

// upload(host, path, content, mode="0644") writes a file on host atomically
// (temporary file, then rename). The content travels on stdin.
func bUpload(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, p, content string
	mode := "0644"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "path", &p, "content", &content, "mode?", &mode); err != nil {
		return nil, err
	}
	c := uploadCommand(host, p, []byte(content), mode)
	c.StdinNote = fmt.Sprintf("(%d bytes)", len(content))
	if _, err := rt.run(t, c); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// uploadCommand writes content to p on host: created with umask 077 so a
// secret is never readable by others, even for a moment.
func uploadCommand(host, p string, content []byte, mode string) executor.Command {
	tmp := p + ".tmp"
	line := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && chmod %s %s && mv %s %s",
		quote(path.Dir(p)), quote(tmp), quote(mode), quote(tmp), quote(tmp), quote(p))
	return executor.Command{Host: host, Line: line, Stdin: content}
}

// hook(name, *args) calls the project's hook function `name` when
// config/deploy.star defines it, then runs the executable
// .mrsk/hooks/<name with dashes> when present (Kamal's hook files).
func bHook(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing hook name", b.Name())
	}
	name, ok := starlark.AsString(args[0])
	if !ok {
		return nil, fmt.Errorf("%s: hook name must be a string", b.Name())
	}
	if rt.Opts.SkipHooks {
		return starlark.None, nil
	}
	if fn, ok := engine.FromThread(t).Project(name).(starlark.Callable); ok {
		rt.Out.Line("", "hook "+name)
		if _, err := starlark.Call(t, fn, args[1:], kwargs); err != nil {
			return nil, err
		}
	}
	if rt.Opts.HooksDir == "" {
		return starlark.None, nil
	}
	file := filepath.Join(rt.Opts.HooksDir, strings.ReplaceAll(name, "_", "-"))
	st, err := os.Stat(file)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return starlark.None, nil
	}
	rel, _ := filepath.Rel(rt.Opts.ProjectRoot, file)
	c := executor.Command{Line: quote("./" + filepath.ToSlash(rel)), Stream: true, Dir: rt.Opts.ProjectRoot, Env: rt.hookEnv()}
	if _, err := rt.run(t, c); err != nil {
		return nil, fmt.Errorf("hook %s: %w", name, err)
	}
	return starlark.None, nil
}

// hookEnv is what Kamal passes its hook files, with MRSK_ and KAMAL_ names.
func (rt *Runtime) hookEnv() []string {
	rs, hosts, _ := rt.selectRoles()
	var roles []string
	for _, r := range rs {
		roles = append(roles, r.Name)
	}
	env := []string{
		"MRSK_SERVICE=" + rt.Config.Service,
		"MRSK_VERSION=" + rt.Opts.Version,
		"MRSK_SERVICE_VERSION=" + rt.Config.Service + "@" + rt.Opts.Version,
		"MRSK_HOSTS=" + strings.Join(hosts, ","),
		"MRSK_ROLES=" + strings.Join(roles, ","),
		"MRSK_PERFORMER=" + rt.Opts.Performer,
		"MRSK_DESTINATION=" + rt.Config.Destination,
		"MRSK_COMMAND=" + rt.Opts.Command,
		"MRSK_RECORDED_AT=" + rt.Now().UTC().Format(time.RFC3339),
		// Seconds since mrsk started: in post-deploy, how long the deploy took.
		fmt.Sprintf("MRSK_RUNTIME=%d", int(time.Since(rt.started).Round(time.Second).Seconds())),
	}
	if len(rt.Opts.Roles) > 0 {
		env = append(env, "MRSK_ROLE="+strings.Join(rt.Opts.Roles, ","))
	}
	// Kamal's names too, so that hook files written for Kamal run as they are.
	for _, kv := range env[:len(env):len(env)] {
		env = append(env, "KAMAL_"+strings.TrimPrefix(kv, "MRSK_"))
	}
	return env
}

// split_words(s) splits a command line into words like a POSIX shell (quotes
// and backslashes, no expansions), so a command string from the user can be
// passed word by word, each quoted, with no shell in the image.
func bSplitWords(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &s); err != nil {
		return nil, err
	}
	words, err := shellwords.Split(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return strList(words), nil
}
