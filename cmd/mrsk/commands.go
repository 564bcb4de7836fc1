package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"go.starlark.net/starlark"
)

// Globals are the flags every command takes.
type Globals struct {
	ConfigFile  string `short:"c" default:"config/deploy.yml" help:"Config file."`
	Destination string `short:"d" predictor:"destination" help:"Destination: merges config/deploy.<destination>.yml."`
	Hosts       string `short:"H" predictor:"host" help:"Only these hosts (comma list, * wildcards)."`
	Roles       string `short:"r" predictor:"role" help:"Only these roles (comma list, * wildcards)."`
	Primary     bool   `short:"p" help:"Only the primary host."`
	SkipHooks   bool   `help:"Run no hooks (neither config/deploy.star hook functions nor .mrsk/hooks files)."`
	Version     string `help:"Version (image tag) to act on; default: the git HEAD sha."`
	Verbose     bool   `short:"v" help:"Print each remote command as it runs."`
	Quiet       bool   `short:"q" help:"Print only errors and requested output."`
	DryRun      bool   `name:"dry-run" help:"Connect to nothing; print the commands each host would run."`
	Timings     bool   `help:"At the end, print per host the time of each phase (config, connect, lock, pull, run, healthy, routed, stopped, prune, audit, unlock...), summing to the wall time, and the remote commands run."`
	TimingsSVG  string `name:"timings-svg" placeholder:"FILE" type:"path" help:"Write the phases as an SVG timeline to FILE: a lane per host, a bar per phase, the critical path marked."`
	Output      string `enum:"text,json" default:"text" help:"text, or json: one JSON event a line on stdout, text for people on stderr (also MRSK_OUTPUT=json)."`
	NoProgress  bool   `name:"no-progress" help:"Plain lines even on a terminal: no live status view."`
	// A pointer: an explicit 0 (no timeout) must differ from the flag
	// being absent (command_timeout in deploy.yml, else the default).
	CommandTimeout *time.Duration `name:"command-timeout" placeholder:"DURATION" help:"Stop a remote command that runs longer than this (default 2m, or command_timeout in deploy.yml; pulls, builds and streamed commands get at least 30m; 0 means no limit)."`
}

// CLI is the command tree.
type CLI struct {
	Globals

	Init     InitCmd     `cmd:"" help:"Create config/deploy.yml, config/deploy.star, config/deploy_test.star and .env."`
	Deploy   DeployCmd   `cmd:"" help:"Build, push and deploy the app to every host."`
	Redeploy RedeployCmd `cmd:"" help:"Deploy without touching Traefik or accessories."`
	Rollback RollbackCmd `cmd:"" help:"Switch back to a kept older version (no pull)."`
	Setup    SetupCmd    `cmd:"" help:"Boot accessories, then deploy."`
	Prune    PruneCmd    `cmd:"" help:"Remove old containers and images."`
	Remove   RemoveCmd   `cmd:"" help:"Remove the app, accessories and Traefik from the hosts."`
	Info     simple      `cmd:"" aliases:"details" help:"Show Traefik and app containers per host."`
	Config   ConfigCmd   `cmd:"" help:"Print the resolved configuration (secrets redacted)."`
	Envify   EnvifyCmd   `cmd:"" help:"Render .env.erb (or .env.<destination>.erb with -d) into .env (.env.<destination>), mode 0600."`
	Audit    simple      `cmd:"" help:"Show the audit log of each host."`
	Version  VersionCmd  `cmd:"" help:"Print mrsk's version."`
	Help     HelpCmd     `cmd:"" help:"Explain: mrsk help builtins lists what config/deploy.star can call."`
	Test     TestCmd     `cmd:"" help:"Run the Starlark tests of the flows (config/*_test.star and the stock ones); nothing is contacted."`

	Completion CompletionCmd `cmd:"" help:"Print the shell completion script for bash, zsh or fish (source <(mrsk completion bash))."`

	App       AppCmd       `cmd:"" help:"Manage app containers."`
	Traefik   TraefikCmd   `cmd:"" help:"Manage Traefik."`
	Accessory AccessoryCmd `cmd:"" help:"Manage accessories (databases, caches...)."`
	Build     BuildCmd     `cmd:"" help:"Build and push images."`
	Registry  RegistryCmd  `cmd:"" help:"Log in to and out of the registry."`
	Lock      LockCmd      `cmd:"" help:"Manage the deploy lock."`
	Canary    CanaryCmd    `cmd:"" help:"Act on a canary left running by deploy --canary-for 0: status, promote, abort."`
	Server    ServerCmd    `cmd:"" help:"Install Docker on the hosts; run a command on them."`
}

// DeployCmd is `mrsk deploy`.
type DeployCmd struct {
	SkipPush bool `help:"Deploy an image already in the registry: no build, no push."`
	// Pointers: a flag given wins over deploy.yml's canary: section, and
	// --canary 0 turns it off.
	Canary      *int           `placeholder:"PERCENT" help:"Canary: send PERCENT of each web host's requests to the new version, judge its 5xx rate from Traefik's metrics, then promote or abort (exit 7); 0: none (default: canary.weight in deploy.yml, else none)."`
	CanaryFor   *time.Duration `name:"canary-for" placeholder:"DURATION" help:"How long to judge each canary step (default canary.duration, else 60s); 0 leaves the canary running, the lock held, for mrsk canary status|promote|abort."`
	CanaryHosts *int           `name:"canary-hosts" placeholder:"N" help:"Run the canary on the first N web hosts only; the others get the version once it is promoted."`
}

func (c *DeployCmd) Run(app *App, g *Globals) error {
	o := flowOpts{skipPush: c.SkipPush}
	o.canary, o.canaryFor, o.canaryHosts = c.Canary, c.CanaryFor, c.CanaryHosts
	return runCommand(app, g, "deploy", o)
}

// CanaryCmd is `mrsk canary ...`: a canary left running by `deploy
// --canary-for 0`, read from the hosts.
type CanaryCmd struct {
	Status  simple `cmd:"" help:"Show the running canary: its weight, and the requests and 5xx rate of each version per host."`
	Promote simple `cmd:"" help:"Send every request to the canary, stop the old version, finish the deploy, release the lock."`
	Abort   simple `cmd:"" help:"Route back to the old version alone, remove the canary with its last log lines, release the lock."`
}

// RedeployCmd is `mrsk redeploy`.
type RedeployCmd struct {
	SkipPush bool `help:"Deploy an image already in the registry: no build, no push."`
}

func (c *RedeployCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "redeploy", flowOpts{skipPush: c.SkipPush})
}

// RollbackCmd is `mrsk rollback VERSION`.
type RollbackCmd struct {
	Target string `arg:"" name:"version" help:"Version to go back to (see mrsk app containers)."`
}

func (c *RollbackCmd) Run(app *App, g *Globals) error {
	g2 := *g
	g2.Version = c.Target
	return runCommand(app, &g2, "rollback", flowOpts{}, starlark.String(c.Target))
}

// SetupCmd is `mrsk setup`.
type SetupCmd struct {
	SkipPush bool `help:"Deploy an image already in the registry."`
}

func (c *SetupCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "setup", flowOpts{skipPush: c.SkipPush})
}

// PruneCmd is `mrsk prune [all|containers|images]`.
type PruneCmd struct {
	What string `arg:"" optional:"" default:"all" enum:"all,containers,images" help:"all, containers or images."`
}

func (c *PruneCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "prune "+c.What, flowOpts{})
}

// RemoveCmd is `mrsk remove`.
type RemoveCmd struct {
	Confirmed bool `short:"y" help:"Do not ask: removal cannot be undone (without a terminal, -y is required)."`
}

func (c *RemoveCmd) Run(app *App, g *Globals) error {
	if !c.Confirmed && !g.DryRun {
		if err := confirm(app, "remove deletes the app, its accessories and Traefik from every host"); err != nil {
			return err
		}
	}
	return runCommand(app, g, "remove", flowOpts{})
}

// VersionCmd is `mrsk version`.
type VersionCmd struct{}

func (c *VersionCmd) Run(app *App) error {
	fmt.Fprintln(app.Stdout, version)
	fmt.Fprintf(app.Stdout, "Kamal-compatible version %s (what minimum_version is compared with)\n", kamalVersion)
	return nil
}

// LogsFlags are shared by the logs commands.
type LogsFlags struct {
	Follow bool `short:"f" help:"Follow the logs."`
	Lines  int  `short:"n" default:"100" help:"Number of lines."`
}

// AppCmd is `mrsk app ...`.
type AppCmd struct {
	Boot       simple       `cmd:"" help:"Boot the current version (switching traffic to it)."`
	Start      simple       `cmd:"" help:"Start the stopped container of the version."`
	Stop       simple       `cmd:"" help:"Stop the app containers (and their routes)."`
	Info       simple       `cmd:"" help:"Show running app containers."`
	Containers simple       `cmd:"" help:"Show all app containers, including stopped ones kept for rollback."`
	Images     simple       `cmd:"" help:"Show app images."`
	Logs       AppLogsCmd   `cmd:"" help:"Show app logs."`
	Exec       AppExecCmd   `cmd:"" help:"Run a command in a new (or with --reuse, the running) app container."`
	Remove     AppRemoveCmd `cmd:"" help:"Remove app containers and images (asks, or -y)."`
	Version    simple       `cmd:"" help:"Show the running version on each host."`
}

// AppRemoveCmd is `mrsk app remove`.
type AppRemoveCmd struct {
	Confirmed bool `short:"y" help:"Do not ask (without a terminal, -y is required)."`
}

func (c *AppRemoveCmd) Run(app *App, g *Globals) error {
	if !c.Confirmed && !g.DryRun {
		if err := confirm(app, "app remove deletes the app's containers (those kept for rollback too) and images"); err != nil {
			return err
		}
	}
	return runCommand(app, g, "app remove", flowOpts{})
}

// simple is a leaf command whose flow COMMANDS (stdlib/deploy.star) names
// by the command's path: `mrsk app boot` runs COMMANDS["app boot"].
type simple struct{}

// commandPath is the command's words without its arguments: "app boot".
func commandPath(k *kong.Context) string {
	var words []string
	for _, w := range strings.Fields(k.Command()) {
		if !strings.HasPrefix(w, "<") {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

func (simple) Run(k *kong.Context, app *App, g *Globals) error {
	return runCommand(app, g, commandPath(k), flowOpts{})
}

func (c *accessoryName) Run(k *kong.Context, app *App, g *Globals) error {
	return runCommand(app, g, commandPath(k), flowOpts{}, starlark.String(c.Name))
}

// AppLogsCmd is `mrsk app logs`.
type AppLogsCmd struct{ LogsFlags }

func (c *AppLogsCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "app logs", flowOpts{lines: c.Lines, follow: c.Follow})
}

// AppExecCmd is `mrsk app exec CMD`.
type AppExecCmd struct {
	Cmd   string `arg:"" help:"Command to run (shell syntax)."`
	Reuse bool   `help:"Run in the running container instead of a new one."`
}

func (c *AppExecCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "app exec", flowOpts{reuse: c.Reuse}, starlark.String(c.Cmd))
}

// TraefikCmd is `mrsk traefik ...`.
type TraefikCmd struct {
	Boot   simple         `cmd:"" help:"Start Traefik where it is not running."`
	Reboot simple         `cmd:"" help:"Recreate Traefik with the current configuration."`
	Certs  simple         `cmd:"" help:"Copy the ACME certificate of traefik.tls to every web host (run it on a schedule if deploys are rare)."`
	Start  simple         `cmd:"" help:"Start Traefik."`
	Stop   simple         `cmd:"" help:"Stop Traefik."`
	Info   simple         `cmd:"" help:"Show Traefik containers."`
	Logs   TraefikLogsCmd `cmd:"" help:"Show Traefik logs."`
	Remove simple         `cmd:"" help:"Remove Traefik."`
}

// TraefikLogsCmd is `mrsk traefik logs`.
type TraefikLogsCmd struct{ LogsFlags }

func (c *TraefikLogsCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "traefik logs", flowOpts{lines: c.Lines, follow: c.Follow})
}

// AccessoryCmd is `mrsk accessory ...`.
type AccessoryCmd struct {
	Boot   accessoryName      `cmd:"" help:"Boot an accessory (or all)."`
	Reboot accessoryName      `cmd:"" help:"Recreate an accessory's container (its data stays)."`
	Remove AccessoryRemoveCmd `cmd:"" help:"Remove an accessory, its image and its data directories (asks for -y)."`
	Info   accessoryName      `cmd:"" help:"Show an accessory's container."`
	Logs   AccessoryLogsCmd   `cmd:"" help:"Show an accessory's logs."`
	Exec   AccessoryExecCmd   `cmd:"" help:"Run a command in an accessory's container."`
}

type accessoryName struct {
	Name string `arg:"" predictor:"accessory" help:"Accessory name, or all."`
}

// AccessoryRemoveCmd is `mrsk accessory remove NAME -y`.
type AccessoryRemoveCmd struct {
	Name      string `arg:"" predictor:"accessory" help:"Accessory name, or all."`
	Confirmed bool   `short:"y" help:"Do not ask: the accessory's data is deleted (without a terminal, -y is required)."`
}

func (c *AccessoryRemoveCmd) Run(app *App, g *Globals) error {
	if !c.Confirmed && !g.DryRun {
		if err := confirm(app, "accessory remove deletes the containers, images and data directories of "+c.Name); err != nil {
			return err
		}
	}
	return runCommand(app, g, "accessory remove", flowOpts{}, starlark.String(c.Name))
}

// AccessoryLogsCmd is `mrsk accessory logs NAME`.
type AccessoryLogsCmd struct {
	Name string `arg:"" predictor:"accessory" help:"Accessory name, or all."`
	LogsFlags
}

func (c *AccessoryLogsCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "accessory logs", flowOpts{lines: c.Lines, follow: c.Follow}, starlark.String(c.Name))
}

// AccessoryExecCmd is `mrsk accessory exec NAME CMD`.
type AccessoryExecCmd struct {
	Name string `arg:"" predictor:"accessory" help:"Accessory name, or all."`
	Cmd  string `arg:"" help:"Command to run (shell syntax)."`
}

func (c *AccessoryExecCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "accessory exec", flowOpts{}, starlark.String(c.Name), starlark.String(c.Cmd))
}

// BuildCmd is `mrsk build ...`.
type BuildCmd struct {
	Push   simple `cmd:"" help:"Build and push the image."`
	Pull   simple `cmd:"" help:"Pull the image on every host."`
	Create simple `cmd:"" help:"Create a buildx builder."`
	Remove simple `cmd:"" help:"Remove the buildx builder."`
	Info   simple `cmd:"" help:"Show the local builder."`
}

// RegistryCmd is `mrsk registry ...`.
type RegistryCmd struct {
	Login  simple `cmd:"" help:"Log in locally and on every host."`
	Logout simple `cmd:"" help:"Log out on every host."`
}

// LockCmd is `mrsk lock ...`.
type LockCmd struct {
	Acquire LockAcquireCmd `cmd:"" help:"Take the deploy lock and keep it (deploys fail until release)."`
	Release simple         `cmd:"" help:"Release the deploy lock."`
	Status  simple         `cmd:"" help:"Show who holds the deploy lock."`
}

// LockAcquireCmd is `mrsk lock acquire -m MSG`.
type LockAcquireCmd struct {
	Message string `short:"m" required:"" help:"Why the lock is held."`
}

func (c *LockAcquireCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "lock acquire", flowOpts{}, starlark.String(c.Message))
}

// ServerCmd is `mrsk server ...`.
type ServerCmd struct {
	Bootstrap simple        `cmd:"" help:"Install Docker where it is missing (apt: docker.io, dnf on Fedora: moby-engine), as root or through sudo."`
	Exec      ServerExecCmd `cmd:"" help:"Run a command on every selected host (accessories' too)."`
}

// ServerExecCmd is `mrsk server exec [--interactive] CMD`.
type ServerExecCmd struct {
	Cmd         string `arg:"" help:"Command to run (shell syntax)."`
	Interactive bool   `short:"i" help:"Run it on the primary host with this terminal (console, shell), through the system's ssh."`
}

func (c *ServerExecCmd) Run(app *App, g *Globals) error {
	return runCommand(app, g, "server exec", flowOpts{}, starlark.String(c.Cmd), starlark.Bool(c.Interactive))
}
