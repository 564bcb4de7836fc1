// Command mrsk deploys containerized web apps to hosts over SSH with
// zero downtime, Traefik in front. Every command runs a Starlark flow: the
// stock ones in stdlib/deploy.star, changed by the project's
// config/deploy.star.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"go.starlark.net/starlark"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// App is what every command's Run receives (bound by kong).
type App struct {
	Stdout, Stderr io.Writer
	LookupEnv      func(string) (string, bool)
	Ctx            context.Context
	// planFlow, when set, replaces runFlow: plan() in `mrsk test` parses
	// a command line with the CLI itself and plans its flow (test.go).
	planFlow func(g *Globals, flow string, opts flowOpts, args []starlark.Value) error
}

func run(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("mrsk"),
		kong.Description("Deploy web apps in containers to servers over SSH, with zero downtime through Traefik."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) {}),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintln(stderr, "mrsk:", err)
		return 2
	}
	kctx, err := parser.Parse(goTestFlags(args))
	if isHelp(args) {
		return 0 // kong printed the help
	}
	if err != nil {
		fmt.Fprintln(stderr, "mrsk:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &App{Stdout: stdout, Stderr: stderr, LookupEnv: lookupEnv, Ctx: ctx}
	if err := kctx.Run(app, &cli.Globals); err != nil {
		var r reported
		if !errors.As(err, &r) {
			fmt.Fprintln(stderr, "mrsk:", err)
		}
		return 1
	}
	return 0
}

func isHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

// reported is an error already printed (with its backtrace).
type reported struct{ error }
