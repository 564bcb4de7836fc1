package builtins

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/shellwords"
)

func (rt *Runtime) accessory(name string) (*config.Accessory, error) {
	var names []string
	for _, a := range rt.Config.Accessories {
		if a.Name == name {
			return a, nil
		}
		names = append(names, a.Name)
	}
	return nil, fmt.Errorf("no accessory named %q in %s (have: %s)", name, rt.Config.File, strings.Join(names, ", "))
}

// accessoryContainer is the accessory's service name (accessories.NAME.
// service, default SERVICE-NAME), as Kamal's: its container's name and
// "service" label.
func (rt *Runtime) accessoryContainer(a *config.Accessory) string {
	if a.Service != "" {
		return a.Service
	}
	return rt.Config.Service + "-" + a.Name
}

// accessoryDir is where the accessory's files and relative directories
// live on a host, relative to the SSH user's home: Kamal's layout, so
// that the data of an accessory Kamal booted is found where it is.
func (rt *Runtime) accessoryDir(a *config.Accessory) string {
	return rt.accessoryContainer(a)
}

// accessoryFile is where a file of files is kept on the host: under
// accessoryDir at its path in the container (so two files of one name
// never meet).
func (rt *Runtime) accessoryFile(a *config.Accessory, f config.PathMapping) string {
	return path.Join(rt.accessoryDir(a), f.Remote)
}

// accessoryHostDir is the host side of a directories entry: an absolute
// path as given, a relative one under accessoryDir.
func (rt *Runtime) accessoryHostDir(a *config.Accessory, d config.PathMapping) (p string, inHome bool) {
	if path.IsAbs(d.Local) {
		return path.Clean(d.Local), false
	}
	return path.Join(rt.accessoryDir(a), path.Clean("/" + d.Local)[1:]), true
}

// publishArg turns "6379" into 6379:6379 and keeps "127.0.0.1:6379:6379".
func publishArg(port string) string {
	if !strings.Contains(port, ":") {
		return port + ":" + port
	}
	return port
}

// accessory_run(name, host) starts accessory name on host: uploads its
// files, creates its directories, writes its secret env file, and runs it on
// the mrsk network (so the app reaches it by name) with its port published
// on the host. An accessory already running is left alone.
func bAccessoryBoot(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "host", &host); err != nil {
		return nil, err
	}
	a, err := rt.accessory(name)
	if err != nil {
		return nil, err
	}
	ctr := rt.accessoryContainer(a)
	for _, f := range a.Files {
		local := f.Local
		content, err := os.ReadFile(filepath.Join(rt.Opts.ProjectRoot, local))
		if r, ok := a.RenderedFiles[local]; ok {
			content, err = []byte(r.Reveal()), nil // an .erb file, rendered at load
		}
		if err != nil {
			return nil, fmt.Errorf("accessory %s: files: %w", a.Name, err)
		}
		c := uploadCommand(host, rt.accessoryFile(a, f), content, "0644")
		c.StdinNote = "(" + local + ")"
		if _, err := rt.run(t, c); err != nil {
			return nil, fmt.Errorf("accessory %s: upload %s: %w", a.Name, local, err)
		}
	}
	var script []string
	var stdin []byte
	e := rt.engine(host)
	words := []string{e.Bin(), "run", "--detach", "--restart", "unless-stopped", "--name", ctr, "--network", container.Network, "--network-alias", a.Name, "--log-opt", "max-size=10m"}
	if a.Port != "" {
		words = append(words, "--publish", publishArg(a.Port))
	}
	for _, k := range slices.Sorted(maps.Keys(a.Env.Clear)) {
		words = append(words, "-e", k+"="+a.Env.Clear[k])
	}
	if len(a.Env.Secret) > 0 {
		content, err := container.EnvFile(a.Env)
		if err != nil {
			return nil, fmt.Errorf("accessory %s: %w", a.Name, err)
		}
		f := path.Join(stateDir, "env", "accessories", ctr+".env")
		script = append(script, uploadCommand(host, f, content, "0600").Line)
		stdin = content
		words = append(words, "--env-file", f)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		words = append(words, "--label", k+"="+a.Labels[k])
	}
	words = append(words, "--label", "service="+ctr)
	var mounts []string
	for _, f := range a.Files {
		mounts = append(mounts, homePath(rt.accessoryFile(a, f))+quote(":"+f.Remote))
	}
	for _, d := range a.Directories {
		p, inHome := rt.accessoryHostDir(a, d)
		script = append(script, migrateScript(rt.oldAccessoryDataDir(a, d), p, a.Name), "mkdir -p "+quote(p))
		if inHome {
			mounts = append(mounts, homePath(p)+quote(":"+d.Remote))
		} else {
			mounts = append(mounts, quote(p+":"+d.Remote))
		}
	}
	for _, v := range a.Volumes {
		words = append(words, "--volume", v)
	}
	words = append(words, container.OptionArgs(a.Options)...)
	run := join(words...)
	for _, m := range mounts {
		run += " --volume " + m
	}
	run += " " + quote(e.Qualify(a.Image))
	if a.Cmd != "" {
		cw, err := shellwords.Split(a.Cmd)
		if err != nil {
			return nil, fmt.Errorf("accessory %s: cmd: %w", a.Name, err)
		}
		run += " " + join(cw...)
	}
	script = append(script, e.EnsureNetwork(),
		fmt.Sprintf("if [ \"$(%s inspect -f '{{.State.Running}}' %s 2>/dev/null)\" = true ]; then echo running; else %s && echo started; fi",
			e.Bin(), quote(ctr), e.Changed(e.Words("rm", "-f", ctr)+" >/dev/null 2>&1; "+run+" >/dev/null")))
	res, err := rt.run(t, executor.Command{Host: host, Line: strings.Join(script, " && "), Stdin: stdin, StdinNote: "[REDACTED env file]"})
	if err != nil {
		return nil, fmt.Errorf("accessory %s: %w", a.Name, err)
	}
	// The last line is the status; lines before it say what moved.
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	status := strings.TrimSpace(lines[len(lines)-1])
	for _, l := range lines[:len(lines)-1] {
		rt.Out.Line(host, l)
	}
	if status != "" {
		rt.Out.Line(host, "accessory "+a.Name+" "+status)
	}
	return starlark.String(status), nil
}

// oldAccessoryDataDir is where mrsk before Kamal's layout kept a
// directories entry: ~/.mrsk/accessories/SERVICE-NAME/data/DIR.
func (rt *Runtime) oldAccessoryDataDir(a *config.Accessory, d config.PathMapping) string {
	return path.Join(stateDir, "accessories", rt.Config.Service+"-"+a.Name, "data", path.Clean("/" + d.Local)[1:])
}

// migrateScript moves an accessory's data from mrsk's earlier layout (old)
// to Kamal's (p) the first time an upgraded mrsk boots it, so the
// accessory never starts on an empty directory beside its real data. A
// rename keeps a running container's bind mount (it follows the inode).
// Data in both places is an error: which one is live is for a person to
// say.
func migrateScript(old, p, name string) string {
	q, qp := quote(old), quote(p)
	return fmt.Sprintf(`if [ -d %[1]s ] && [ -n "$(ls -A %[1]s)" ]; then `+
		`if [ -d %[2]s ] && [ -n "$(ls -A %[2]s)" ]; then echo "accessory %[3]s: data in both %[4]s and %[5]s: keep one (move or remove the other) and boot again" >&2; exit 1; fi; `+
		`rmdir %[2]s 2>/dev/null; mkdir -p "$(dirname %[2]s)" && mv %[1]s %[2]s && echo "moved the data of accessory %[3]s from ~/%[4]s to %[6]s (Kamal's layout)"; fi`,
		q, qp, name, old, p, displayPath(p))
}

// displayPath is p as a person reads it: under ~ when relative.
func displayPath(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return "~/" + p
}

// accessory_rm(name, host, data=True) removes the accessory's container on
// host and, with data=True, its image, files and directories.
func bAccessoryRemove(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, host string
	data := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "host", &host, "data?", &data); err != nil {
		return nil, err
	}
	a, err := rt.accessory(name)
	if err != nil {
		return nil, err
	}
	ctr := rt.accessoryContainer(a)
	e := rt.engine(host)
	line := e.Changed(e.Words("rm", "-f", ctr)+" >/dev/null 2>&1") + " || true"
	if data {
		// Only a removal deletes the image and the accessory's directories
		// (its data); a reboot keeps them.
		line += "; " + e.Words("image", "rm", e.Qualify(a.Image)) + " >/dev/null 2>&1; " + join("rm", "-rf", rt.accessoryDir(a), path.Join(stateDir, "env", "accessories", ctr+".env"))
	}
	if _, err := rt.run(t, executor.Command{Host: host, Line: line}); err != nil {
		return nil, fmt.Errorf("accessory %s: %w", a.Name, err)
	}
	return starlark.None, nil
}
