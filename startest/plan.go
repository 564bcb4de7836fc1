package startest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/executor"
)

// PlanRequest is one plan() call of a test.
type PlanRequest struct {
	// ConfigDir holds deploy.yml (and deploy.star) of the project the
	// test belongs to.
	ConfigDir string
	// Command is the mrsk command, e.g. "deploy" or "app boot"; Args
	// follow it on the command line.
	Command string
	Args    []string
	// Flags are command-line flags made from plan()'s hosts, roles,
	// destination, version and options (e.g. "--skip-push").
	Flags []string
	// Env is looked up before the process environment for ${...} and
	// secrets in deploy.yml.
	Env map[string]string
	// Script, when set, is the path of a deploy.star used instead of the
	// project's (plan(script=...)).
	Script    string
	Responses []executor.Response
}

// Plan is what a planned flow did.
type Plan struct {
	Rec    *executor.Recording
	Steps  []string
	Calls  []string
	Err    string // "" when the flow succeeded
	Output string // what the plan printed, as `mrsk ... --dry-run` would
}

// Planner runs the flow of a command over a recording executor. The CLI
// provides it, so a plan resolves commands, flags and config exactly as
// `mrsk` does.
type Planner func(ctx context.Context, req PlanRequest) (*Plan, error)

// plan(command, *args, version="test", hosts=None, roles=None,
// destination=None, options={}, responses={}, env={}, script=None)
func (r *fileRun) plan(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing command (e.g. \"deploy\" or \"app boot\")", b.Name())
	}
	req := PlanRequest{ConfigDir: r.configDir}
	for i, a := range args {
		s, ok := starlark.AsString(a)
		if !ok {
			return nil, fmt.Errorf("%s: argument %d must be a string, not %s", b.Name(), i+1, a.Type())
		}
		if i == 0 {
			req.Command = s
		} else {
			req.Args = append(req.Args, s)
		}
	}
	version := "test"
	var hosts, roles, destination, script starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	var options, responses, env *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs,
		"version?", &version, "hosts?", &hosts, "roles?", &roles, "destination?", &destination,
		"options?", &options, "responses?", &responses, "env?", &env, "script?", &script); err != nil {
		return nil, err
	}
	var err error
	req.Flags = []string{"--version=" + version}
	for _, f := range []struct {
		flag string
		v    starlark.Value
	}{{"--hosts", hosts}, {"--roles", roles}, {"--destination", destination}} {
		list, err := stringList(f.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Name(), strings.TrimPrefix(f.flag, "--"), err)
		}
		if len(list) > 0 {
			req.Flags = append(req.Flags, f.flag+"="+strings.Join(list, ","))
		}
	}
	opts, err := optionFlags(options)
	if err != nil {
		return nil, fmt.Errorf("%s: options: %w", b.Name(), err)
	}
	req.Flags = append(req.Flags, opts...)
	if req.Responses, err = parseResponses(responses); err != nil {
		return nil, fmt.Errorf("%s: responses: %w", b.Name(), err)
	}
	if req.Env, err = stringDict(env); err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	if script != starlark.None {
		src, ok := starlark.AsString(script)
		if !ok {
			return nil, fmt.Errorf("%s: script must be the source of a deploy.star, not %s", b.Name(), script.Type())
		}
		if req.Script, err = r.scriptFile(src); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	p, err := r.runner.opts.Plan(contextOf(t), req)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): %w", b.Name(), req.Command, err)
	}
	return newPlanValue(p), nil
}

// stringList accepts None, a string (a comma list, as on the command line)
// or a list of strings.
func stringList(v starlark.Value) ([]string, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	if s, ok := starlark.AsString(v); ok {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("want a string or a list of strings, not %s", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("want strings, got %s", x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

// optionFlags turns options={"skip_push": True, "lines": 5} into the
// command-line flags --skip-push --lines=5, so a plan parses them as the
// CLI does. A one-letter name is a short flag ("y": True gives -y, "m":
// "x" gives -mx); False and None leave the flag out. Flags come out sorted, so plans repeat.
func optionFlags(d *starlark.Dict) ([]string, error) {
	if d == nil {
		return nil, nil
	}
	var out []string
	for _, kv := range d.Items() {
		name, ok := starlark.AsString(kv[0])
		if !ok || name == "" {
			return nil, fmt.Errorf("option names must be non-empty strings, got %s", kv[0])
		}
		flag := "--" + strings.ReplaceAll(name, "_", "-")
		if len(name) == 1 {
			flag = "-" + name
		}
		switch v := kv[1].(type) {
		case starlark.NoneType:
		case starlark.Bool:
			if v {
				out = append(out, flag)
			}
		case starlark.String, starlark.Int:
			val := v.String()
			if s, ok := v.(starlark.String); ok {
				val = string(s)
			}
			if len(name) == 1 {
				out = append(out, flag+val) // -mVALUE: kong reads -m=x as "=x"
			} else {
				out = append(out, flag+"="+val)
			}
		default:
			return nil, fmt.Errorf("option %s: want a bool, string or int, not %s", name, kv[1].Type())
		}
	}
	sort.Strings(out)
	return out, nil
}

// parseResponses reads {regex: "stdout"} or {regex: struct(stdout=...,
// stderr=..., exit=...)} (a dict works too), keeping the dict's order:
// the first pattern that matches a command answers it.
func parseResponses(d *starlark.Dict) ([]executor.Response, error) {
	if d == nil {
		return nil, nil
	}
	var out []executor.Response
	for _, kv := range d.Items() {
		pat, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("keys are regular expressions (strings), got %s", kv[0].Type())
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", pat, err)
		}
		resp := executor.Response{Pattern: re}
		if s, ok := starlark.AsString(kv[1]); ok {
			resp.Stdout = s
			out = append(out, resp)
			continue
		}
		fields := map[string]starlark.Value{}
		switch v := kv[1].(type) {
		case *starlark.Dict:
			for _, f := range v.Items() {
				k, _ := starlark.AsString(f[0])
				fields[k] = f[1]
			}
		case starlark.HasAttrs:
			for _, k := range v.AttrNames() {
				if fv, err := v.Attr(k); err == nil && fv != nil {
					fields[k] = fv
				}
			}
		default:
			return nil, fmt.Errorf("%q: want a string (stdout) or struct(stdout=..., stderr=..., exit=...), not %s", pat, kv[1].Type())
		}
		for k, fv := range fields {
			switch k {
			case "stdout", "stderr":
				s, ok := starlark.AsString(fv)
				if !ok {
					return nil, fmt.Errorf("%q: %s must be a string, not %s", pat, k, fv.Type())
				}
				if k == "stdout" {
					resp.Stdout = s
				} else {
					resp.Stderr = s
				}
			case "exit":
				if err := starlark.AsInt(fv, &resp.Exit); err != nil {
					return nil, fmt.Errorf("%q: exit: %w", pat, err)
				}
			default:
				return nil, fmt.Errorf("%q: unknown field %q (want stdout, stderr, exit)", pat, k)
			}
		}
		out = append(out, resp)
	}
	return out, nil
}

func stringDict(d *starlark.Dict) (map[string]string, error) {
	if d == nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range d.Items() {
		k, ok1 := starlark.AsString(kv[0])
		v, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("want strings, got %s: %s", kv[0].Type(), kv[1].Type())
		}
		out[k] = v
	}
	return out, nil
}

// planValue is what plan() returns.
type planValue struct {
	p     *Plan
	hosts *starlark.List
}

func newPlanValue(p *Plan) *planValue {
	var hosts []starlark.Value
	for _, h := range p.Rec.Hosts() {
		if h != "" {
			hosts = append(hosts, starlark.String(h))
		}
	}
	l := starlark.NewList(hosts)
	l.Freeze()
	return &planValue{p: p, hosts: l}
}

var _ starlark.HasAttrs = (*planValue)(nil)

func (v *planValue) String() string {
	if v.p.Err != "" {
		return fmt.Sprintf("<plan: %d steps, failed: %s>", len(v.p.Steps), v.p.Err)
	}
	return fmt.Sprintf("<plan: %d steps>", len(v.p.Steps))
}
func (v *planValue) Type() string          { return "plan" }
func (v *planValue) Freeze()               {}
func (v *planValue) Truth() starlark.Bool  { return true }
func (v *planValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: plan") }

func (v *planValue) AttrNames() []string {
	return []string{"calls", "commands", "error", "hosts", "output", "steps"}
}

func (v *planValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "commands":
		return starlark.NewBuiltin("commands", v.commands), nil
	case "hosts":
		return v.hosts, nil
	case "steps":
		return frozenStrings(v.p.Steps), nil
	case "calls":
		return frozenStrings(v.p.Calls), nil
	case "error":
		if v.p.Err == "" {
			return starlark.None, nil
		}
		return starlark.String(v.p.Err), nil
	case "output":
		return starlark.String(v.p.Output), nil
	}
	return nil, nil
}

// commands(host) lists the command lines run on host ("local": this
// machine), in order, as a plan prints them (secrets [REDACTED]). Checks
// the plan waits for (health, Traefik's route) appear as "(wait until
// ...)".
func (v *planValue) commands(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &host); err != nil {
		return nil, err
	}
	if host == "local" {
		host = ""
	}
	var lines []string
	for _, c := range v.p.Rec.Commands(host) {
		lines = append(lines, c.Shown())
	}
	return frozenStrings(lines), nil
}

func frozenStrings(ss []string) *starlark.List {
	vals := make([]starlark.Value, len(ss))
	for i, s := range ss {
		vals[i] = starlark.String(s)
	}
	l := starlark.NewList(vals)
	l.Freeze()
	return l
}
