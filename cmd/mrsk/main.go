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
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/output"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// kamalVersion is the Kamal release whose configuration mrsk reads:
// deploy.yml's minimum_version, a Kamal version, is compared with it.
const kamalVersion = "1.9.3"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// App is what every command's Run receives (bound by kong).
type App struct {
	Stdout, Stderr io.Writer // Stdout is for people: stderr with --output json
	LookupEnv      func(string) (string, bool)
	Ctx            context.Context
	// Events is the JSON stream (--output json), else nil.
	Events *output.Stream
	// Result collects what the result event reports.
	Result *runResult
	// Stdin and Interactive: whether a question can be asked there.
	Stdin       io.Reader
	Interactive bool
	// planFlow, when set, replaces runFlow: plan() in `mrsk test` parses
	// a command line with the CLI itself and plans its flow (test.go).
	planFlow func(g *Globals, flow string, opts flowOpts, args []starlark.Value) error
}

func run(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	start := time.Now()
	human := stdout
	var events *output.Stream
	if outputMode(args, lookupEnv) == "json" {
		// stdout carries only events; what people read goes to stderr.
		events = output.NewStream(stdout)
		human = stderr
	}
	res := &runResult{}
	code, err := runCLI(args, human, stderr, lookupEnv, events, res)
	if events != nil && !isHelp(args) {
		for _, e := range res.hostResults {
			events.Emit(e)
		}
		events.Emit(resultEvent(res, code, err, time.Since(start)))
	}
	return code
}

// runCLI parses args and runs the command; it returns the exit code and
// the error behind it (already printed).
func runCLI(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool), events *output.Stream, res *runResult) (int, error) {
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
		return exitUsage, err
	}
	if done, err := completeLine(parser, lookupEnv); done {
		return exitCode(err), err
	}
	kctx, err := parser.Parse(goTestFlags(args))
	if isHelp(args) {
		return exitOK, nil // kong printed the help
	}
	if err != nil {
		fmt.Fprintln(stderr, "mrsk:", err)
		return exitUsage, &usageError{err.Error()}
	}
	res.command = commandPath(kctx)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &App{Stdout: stdout, Stderr: stderr, LookupEnv: lookupEnv, Ctx: ctx, Events: events, Result: res,
		Stdin: os.Stdin, Interactive: interactive(lookupEnv)}
	if err := kctx.Run(app, &cli.Globals); err != nil {
		var r reported
		if !errors.As(err, &r) {
			fmt.Fprintln(stderr, "mrsk:", err)
		}
		return exitCode(err), err
	}
	return exitOK, nil
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

func (r reported) Unwrap() error { return r.error }

// errorMessage is the one line that says why a command failed, as printed
// after "mrsk: X failed: ".
func errorMessage(err error) string {
	var r reported
	if errors.As(err, &r) {
		return strings.TrimPrefix(lastLine(engine.CaughtError{Err: r.error}.String()), "fail: ")
	}
	return err.Error()
}
