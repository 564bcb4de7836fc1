package fleetsim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"mvdan.cc/sh/v3/interp"
)

// Container is a simulated container, as the fake docker keeps it.
type Container struct {
	ID, Name, Image string
	Labels          map[string]string
	Env             []string
	Cmd             []string
	Running         bool
	ExitCode        int
	IP              string // on the mrsk network, while running
	Created         time.Time
	Finished        time.Time
	seq             int
}

// Healthy reports whether the container answers its health check: it runs
// and was not started with UNHEALTHY set.
func (c *Container) Healthy() bool { return c.Running && c.env("UNHEALTHY") == "" }

func (c *Container) env(name string) string {
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// docker is one host's container runtime: containers, images, networks. A
// container started with CRASH set exits at once (status 1); one started
// with UNHEALTHY set runs but fails its health check.
type docker struct {
	host string

	mu         sync.Mutex
	containers []*Container
	images     map[string]bool
	networks   map[string]bool
	seq        int
	changed    chan struct{} // closed and replaced on every state change
}

func newDocker(host string) *docker {
	return &docker{host: host, images: map[string]bool{}, networks: map[string]bool{}, changed: make(chan struct{})}
}

// notifyLocked wakes `docker wait` and `logs -f`.
func (d *docker) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *docker) list() []Container {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Container, len(d.containers))
	for i, c := range d.containers {
		out[i] = *c
		out[i].Labels = copyMap(c.Labels)
	}
	return out
}

// byIP finds a container by its address on the mrsk network.
func (d *docker) byIP(ip string) (Container, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.containers {
		if c.IP == ip && c.Running {
			cp := *c
			return cp, true
		}
	}
	return Container{}, false
}

// findLocked resolves a name, a full id or an id prefix.
func (d *docker) findLocked(ref string) *Container {
	ref = strings.TrimPrefix(ref, "/")
	for _, c := range d.containers {
		if c.Name == ref || c.ID == ref {
			return c
		}
	}
	if len(ref) >= 4 {
		for _, c := range d.containers {
			if strings.HasPrefix(c.ID, ref) {
				return c
			}
		}
	}
	return nil
}

func (d *docker) removeLocked(c *Container) {
	kept := d.containers[:0]
	for _, x := range d.containers {
		if x != c {
			kept = append(kept, x)
		}
	}
	d.containers = kept
}

func (d *docker) stopLocked(c *Container, code int) {
	if !c.Running {
		return
	}
	c.Running, c.ExitCode, c.IP, c.Finished = false, code, "", time.Now()
}

func (d *docker) startLocked(c *Container) {
	if c.Running {
		return
	}
	if c.env("CRASH") != "" {
		c.ExitCode, c.Finished = 1, time.Now()
		return
	}
	c.Running, c.ExitCode = true, 0
	d.seq++
	c.IP = fmt.Sprintf("172.18.%d.%d", d.seq/250, 2+d.seq%250)
}

type dockerErr struct {
	code int
	msg  string
}

func (e *dockerErr) Error() string { return e.msg }

func errf(code int, format string, a ...any) error {
	return &dockerErr{code, fmt.Sprintf(format, a...)}
}

// run is `docker args...`.
func (d *docker) run(ctx context.Context, h *Host, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := d.dispatch(ctx, h, args, stdin, stdout)
	if err == nil {
		return nil
	}
	if de, ok := err.(*dockerErr); ok {
		if de.msg != "" {
			fmt.Fprintln(stderr, de.msg)
		}
		return interp.NewExitStatus(uint8(de.code))
	}
	fmt.Fprintln(stderr, "docker:", err)
	return interp.NewExitStatus(1)
}

func (d *docker) dispatch(ctx context.Context, h *Host, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errf(1, "Usage: docker COMMAND")
	}
	cmd, args := args[0], args[1:]
	// docker container X and docker image X are the same commands.
	if cmd == "container" && len(args) > 0 {
		switch args[0] {
		case "ls", "list":
			cmd, args = "ps", args[1:]
		case "inspect":
			cmd, args = "inspect", args[1:]
		default:
			cmd, args = args[0], args[1:]
		}
	}
	if cmd == "images" {
		cmd, args = "image", append([]string{"ls"}, args...)
	}
	switch cmd {
	case "version", "info":
		fmt.Fprintln(stdout, "24.0.0-fleetsim")
		return nil
	case "login":
		if stdin != nil {
			io.Copy(io.Discard, stdin)
		}
		fmt.Fprintln(stdout, "Login Succeeded")
		return nil
	case "logout":
		fmt.Fprintln(stdout, "Removing login credentials")
		return nil
	case "pull":
		ref := lastArg(args)
		if ref == "" {
			return errf(1, `"docker pull" requires exactly 1 argument.`)
		}
		d.mu.Lock()
		d.images[ref] = true
		d.mu.Unlock()
		fmt.Fprintln(stdout, ref)
		return nil
	case "network":
		return d.network(args, stdout)
	case "image":
		return d.image(args, stdout)
	case "run":
		return d.runContainer(ctx, h, args, stdout)
	case "inspect":
		return d.inspect(args, stdout)
	case "ps":
		return d.ps(args, stdout)
	case "rename":
		if len(args) != 2 {
			return errf(1, `"docker rename" requires exactly 2 arguments.`)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		c := d.findLocked(args[0])
		if c == nil {
			return errf(1, "Error response from daemon: No such container: %s", args[0])
		}
		if o := d.findLocked(args[1]); o != nil {
			return errf(1, "Error response from daemon: Conflict. The container name %q is already in use", "/"+args[1])
		}
		c.Name = args[1]
		return nil
	case "start", "stop", "kill", "rm":
		return d.lifecycle(cmd, args, stdout)
	case "wait":
		return d.wait(ctx, args, stdout)
	case "logs":
		return d.logs(ctx, args, stdout)
	case "exec":
		var refs []string
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				refs = append(refs, a)
			}
		}
		if len(refs) < 2 {
			return errf(1, `"docker exec" requires at least 2 arguments.`)
		}
		d.mu.Lock()
		c := d.findLocked(refs[0])
		ok := c != nil && c.Running
		healthy := ok && c.Healthy()
		d.mu.Unlock()
		if !ok {
			return errf(1, "Error response from daemon: container %s is not running", refs[0])
		}
		if !healthy {
			return errf(1, "")
		}
		echo(stdout, refs[1:])
		return nil
	case "buildx", "build", "push":
		return errf(1, "docker: %s is not simulated", cmd)
	}
	return errf(1, "docker: '%s' is not a docker command.", cmd)
}

// echo runs the one command a simulated container knows: echo.
func echo(stdout io.Writer, cmd []string) {
	if len(cmd) > 0 && cmd[0] == "echo" {
		fmt.Fprintln(stdout, strings.Join(cmd[1:], " "))
	}
}

func lastArg(args []string) string {
	for i := len(args) - 1; i >= 0; i-- {
		if !strings.HasPrefix(args[i], "-") {
			return args[i]
		}
	}
	return ""
}

func (d *docker) network(args []string, stdout io.Writer) error {
	if len(args) < 1 {
		return errf(1, "Usage: docker network COMMAND")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch args[0] {
	case "inspect":
		for _, n := range args[1:] {
			if !d.networks[n] {
				return errf(1, "Error response from daemon: network %s not found", n)
			}
			fmt.Fprintf(stdout, "[{\"Name\": %q}]\n", n)
		}
		return nil
	case "create":
		n := lastArg(args[1:])
		if d.networks[n] {
			return errf(1, "Error response from daemon: network with name %s already exists", n)
		}
		d.networks[n] = true
		fmt.Fprintln(stdout, hashID(d.host, "network", n))
		return nil
	case "rm":
		for _, n := range args[1:] {
			delete(d.networks, n)
		}
		return nil
	case "ls":
		for n := range d.networks {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	return errf(1, "docker network %s is not simulated", args[0])
}

func (d *docker) image(args []string, stdout io.Writer) error {
	if len(args) < 1 {
		return errf(1, "Usage: docker image COMMAND")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch args[0] {
	case "prune":
		used := map[string]bool{}
		for _, c := range d.containers {
			used[c.Image] = true
		}
		for ref := range d.images {
			if !used[ref] {
				delete(d.images, ref)
				fmt.Fprintln(stdout, "untagged: "+ref)
			}
		}
		return nil
	case "ls":
		repo := lastArg(args[1:])
		fmt.Fprintln(stdout, "REPOSITORY   TAG")
		var refs []string
		for ref := range d.images {
			r, tag, _ := strings.Cut(ref, ":")
			if repo == "" || r == repo {
				refs = append(refs, r+"   "+tag)
			}
		}
		sort.Strings(refs)
		for _, r := range refs {
			fmt.Fprintln(stdout, r)
		}
		return nil
	case "rm":
		for _, ref := range args[1:] {
			delete(d.images, ref)
		}
		return nil
	}
	return errf(1, "docker image %s is not simulated", args[0])
}

// runValueFlags are docker run flags that take a value.
var runValueFlags = map[string]bool{
	"--name": true, "--restart": true, "--network": true, "--net": true, "-e": true, "--env": true,
	"--env-file": true, "--log-opt": true, "--log-driver": true, "--label": true, "-l": true,
	"--publish": true, "-p": true, "--volume": true, "-v": true, "--memory": true, "-m": true,
	"--cpus": true, "--user": true, "-u": true, "--workdir": true, "-w": true, "--entrypoint": true,
	"--hostname": true, "-h": true, "--mount": true, "--add-host": true, "--dns": true,
	"--stop-signal": true, "--stop-timeout": true, "--ulimit": true, "--cap-add": true,
	"--cap-drop": true, "--device": true, "--tmpfs": true, "--shm-size": true, "--pull": true,
	"--platform": true, "--label-file": true, "--network-alias": true, "--ip": true,
	"--health-cmd": true, "--health-interval": true, "--health-retries": true, "--health-timeout": true,
}

func (d *docker) runContainer(ctx context.Context, h *Host, args []string, stdout io.Writer) error {
	c := &Container{Labels: map[string]string{}}
	detach, remove := false, false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		flag, val, hasVal := strings.Cut(a, "=")
		if !hasVal && runValueFlags[flag] {
			if i+1 >= len(args) {
				return errf(125, "flag needs an argument: %s", flag)
			}
			i++
			val, hasVal = args[i], true
		}
		switch flag {
		case "-d", "--detach":
			detach = true
		case "--rm":
			remove = true
		case "--name":
			c.Name = val
		case "-e", "--env":
			c.Env = append(c.Env, val)
		case "--env-file":
			p, err := h.path(ctx, val)
			if err != nil {
				return errf(125, "docker: %v", err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return errf(125, "docker: open %s: %v", val, unwrapPath(err))
			}
			sc := bufio.NewScanner(strings.NewReader(string(b)))
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
					c.Env = append(c.Env, l)
				}
			}
		case "--label", "-l":
			k, v, _ := strings.Cut(val, "=")
			c.Labels[k] = v
		}
	}
	if i >= len(args) {
		return errf(125, `"docker run" requires at least 1 argument.`)
	}
	c.Image, c.Cmd = args[i], args[i+1:]
	d.mu.Lock()
	defer d.mu.Unlock()
	d.images[c.Image] = true
	if !detach && remove {
		// A one-off command (app exec): it ran and went.
		echo(stdout, c.Cmd)
		return nil
	}
	d.seq++
	c.seq = d.seq
	if c.Name == "" {
		c.Name = fmt.Sprintf("sim_%d", c.seq)
	}
	if d.findLocked(c.Name) != nil {
		return errf(125, "docker: Error response from daemon: Conflict. The container name %q is already in use.", "/"+c.Name)
	}
	c.ID = hashID(d.host, "container", c.Name, strconv.Itoa(c.seq))
	c.Created = time.Now()
	d.containers = append(d.containers, c)
	d.startLocked(c)
	d.notifyLocked()
	fmt.Fprintln(stdout, c.ID)
	return nil
}

func hashID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

func (d *docker) lifecycle(cmd string, args []string, stdout io.Writer) error {
	force := false
	var refs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-t" || a == "--time" || a == "-s" || a == "--signal":
			i++
		case strings.HasPrefix(a, "-"):
			force = force || a == "-f" || a == "--force"
		default:
			refs = append(refs, a)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.notifyLocked()
	var missing []string
	for _, ref := range refs {
		c := d.findLocked(ref)
		if c == nil {
			missing = append(missing, ref)
			continue
		}
		switch cmd {
		case "start":
			d.startLocked(c)
			if !c.Running {
				return errf(1, "Error response from daemon: container %s exited at once", ref)
			}
		case "stop":
			d.stopLocked(c, 0)
		case "kill":
			d.stopLocked(c, 137)
		case "rm":
			if c.Running && !force {
				return errf(1, "Error response from daemon: You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
			}
			d.stopLocked(c, 137)
			d.removeLocked(c)
		}
		fmt.Fprintln(stdout, ref)
	}
	if len(missing) > 0 {
		return errf(1, "Error response from daemon: No such container: %s", strings.Join(missing, ", "))
	}
	return nil
}

// wait blocks until every container has stopped and prints their exit codes.
func (d *docker) wait(ctx context.Context, args []string, stdout io.Writer) error {
	for _, ref := range args {
		for {
			d.mu.Lock()
			c := d.findLocked(ref)
			if c == nil {
				d.mu.Unlock()
				return errf(1, "Error response from daemon: No such container: %s", ref)
			}
			running, code, changed := c.Running, c.ExitCode, d.changed
			d.mu.Unlock()
			if !running {
				fmt.Fprintln(stdout, code)
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return interp.NewExitStatus(130)
			}
		}
	}
	return nil
}

func (d *docker) logs(ctx context.Context, args []string, stdout io.Writer) error {
	follow := false
	ref := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--tail" || a == "-n" || a == "--since" || a == "--until":
			i++
		case a == "-f" || a == "--follow":
			follow = true
		case !strings.HasPrefix(a, "-"):
			ref = a
		}
	}
	d.mu.Lock()
	c := d.findLocked(ref)
	if c == nil {
		d.mu.Unlock()
		return errf(1, "Error response from daemon: No such container: %s", ref)
	}
	lines := []string{c.Name + " listening on :3000"}
	if c.env("CRASH") != "" {
		lines = append(lines, "crashing as asked (CRASH is set)")
	}
	d.mu.Unlock()
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

// Views for templates: the fields of docker's own JSON that mrsk reads.
type inspectView struct {
	Id      string
	Name    string
	Created string
	Image   string
	Config  struct {
		Image  string
		Labels map[string]string
		Env    []string
	}
	State struct {
		Status     string
		Running    bool
		ExitCode   int
		FinishedAt string
	}
	NetworkSettings struct {
		Networks map[string]*netView
	}
}

type netView struct{ IPAddress string }

func viewOf(c *Container) *inspectView {
	v := &inspectView{Id: c.ID, Name: "/" + c.Name, Created: c.Created.UTC().Format(time.RFC3339Nano), Image: "sha256:" + hashID(c.Image)}
	v.Config.Image, v.Config.Labels, v.Config.Env = c.Image, copyMap(c.Labels), c.Env
	v.State.Status, v.State.Running, v.State.ExitCode = status(c), c.Running, c.ExitCode
	v.State.FinishedAt = "0001-01-01T00:00:00Z"
	if !c.Finished.IsZero() {
		v.State.FinishedAt = c.Finished.UTC().Format(time.RFC3339Nano)
	}
	v.NetworkSettings.Networks = map[string]*netView{}
	if c.Running {
		v.NetworkSettings.Networks["mrsk"] = &netView{IPAddress: c.IP}
	}
	return v
}

func status(c *Container) string {
	if c.Running {
		return "running"
	}
	return "exited"
}

var tmplFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

func parseFormat(f string) (*template.Template, error) {
	t, err := template.New("format").Funcs(tmplFuncs).Option("missingkey=zero").Parse(f)
	if err != nil {
		return nil, errf(1, "template parsing error: %v", err)
	}
	return t, nil
}

func (d *docker) inspect(args []string, stdout io.Writer) error {
	format := ""
	var refs []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "-f" || a == "--format") && i+1 < len(args):
			i++
			format = args[i]
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case a == "--type" && i+1 < len(args):
			i++
		case strings.HasPrefix(a, "-"):
		default:
			refs = append(refs, a)
		}
	}
	var t *template.Template
	if format != "" {
		var err error
		if t, err = parseFormat(format); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var missing []string
	var views []*inspectView
	for _, ref := range refs {
		c := d.findLocked(ref)
		if c == nil {
			missing = append(missing, ref)
			continue
		}
		v := viewOf(c)
		if t == nil {
			views = append(views, v)
			continue
		}
		if err := t.Execute(stdout, v); err != nil {
			return errf(1, "template: %v", err)
		}
		fmt.Fprintln(stdout)
	}
	if t == nil {
		b, _ := json.MarshalIndent(views, "", "    ")
		fmt.Fprintln(stdout, string(b))
	}
	if len(missing) > 0 {
		return errf(1, "Error: No such object: %s", strings.Join(missing, ", "))
	}
	return nil
}

type psView struct {
	c       *Container
	noTrunc bool
}

func (p psView) ID() string {
	if p.noTrunc {
		return p.c.ID
	}
	return p.c.ID[:12]
}
func (p psView) Names() string            { return p.c.Name }
func (p psView) State() string            { return status(p.c) }
func (p psView) Image() string            { return p.c.Image }
func (p psView) Label(name string) string { return p.c.Labels[name] }
func (p psView) CreatedAt() string {
	return p.c.Created.UTC().Format("2006-01-02 15:04:05 -0700 MST")
}
func (p psView) Status() string {
	if p.c.Running {
		return "Up"
	}
	return fmt.Sprintf("Exited (%d)", p.c.ExitCode)
}

func (d *docker) ps(args []string, stdout io.Writer) error {
	all, quiet, noTrunc := false, false, false
	format := ""
	var filters []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-a" || a == "--all":
			all = true
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "--no-trunc":
			noTrunc = true
		case (a == "--filter" || a == "-f") && i+1 < len(args):
			i++
			filters = append(filters, args[i])
		case a == "--format" && i+1 < len(args):
			i++
			format = args[i]
		}
	}
	var t *template.Template
	if format != "" && !quiet {
		var err error
		if t, err = parseFormat(format); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cs := append([]*Container(nil), d.containers...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].seq > cs[j].seq }) // newest first
	if t == nil && !quiet {
		fmt.Fprintln(stdout, "CONTAINER ID   IMAGE   STATUS   NAMES")
	}
	for _, c := range cs {
		if !all && !c.Running {
			continue
		}
		ok, err := matchFilters(c, filters)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		v := psView{c: c, noTrunc: noTrunc}
		switch {
		case quiet:
			fmt.Fprintln(stdout, v.ID())
		case t != nil:
			if err := t.Execute(stdout, v); err != nil {
				return errf(1, "template: %v", err)
			}
			fmt.Fprintln(stdout)
		default:
			fmt.Fprintf(stdout, "%s   %s   %s   %s\n", v.ID(), c.Image, v.Status(), c.Name)
		}
	}
	return nil
}

func matchFilters(c *Container, filters []string) (bool, error) {
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "label":
			lk, lv, hasVal := strings.Cut(v, "=")
			got, ok := c.Labels[lk]
			if !ok || (hasVal && got != lv) {
				return false, nil
			}
		case "name":
			re, err := regexp.Compile(v)
			if err != nil {
				return false, errf(1, "Error response from daemon: bad name filter %q", v)
			}
			if !re.MatchString(c.Name) {
				return false, nil
			}
		case "status":
			if status(c) != v {
				return false, nil
			}
		case "id":
			if !strings.HasPrefix(c.ID, v) {
				return false, nil
			}
		default:
			return false, errf(1, "Error response from daemon: invalid filter '%s'", k)
		}
	}
	return true, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
