package main

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/stdlib"
)

// goOnly are the commands that run no flow: Go does their work.
var goOnly = map[string]bool{"init": true, "config": true, "version": true, "test": true, "help": true, "completion": true, "envify": true}

// Every command of the CLI has an entry in COMMANDS, every entry is a
// command, and every flow it names is a function of the stock flows.
func TestCommandTableCoversTheCLI(t *testing.T) {
	var cli CLI
	parser, err := kong.New(&cli, kong.Name("mrsk"))
	if err != nil {
		t.Fatal(err)
	}
	cliPaths := map[string]bool{}
	var walk func(n *kong.Node, prefix []string)
	walk = func(n *kong.Node, prefix []string) {
		for _, c := range n.Children {
			if c.Type != kong.CommandNode {
				continue
			}
			path := append(append([]string(nil), prefix...), c.Name)
			if len(c.Children) == 0 || !hasCommands(c) {
				cliPaths[strings.Join(path, " ")] = true
				for _, a := range c.Aliases {
					cliPaths[strings.Join(append(prefix, a), " ")] = true
				}
			}
			walk(c, path)
		}
	}
	walk(parser.Model.Node, nil)
	// prune takes what to prune as an argument: one entry per value.
	delete(cliPaths, "prune")
	for _, w := range []string{"all", "containers", "images"} {
		cliPaths["prune "+w] = true
	}

	specs, err := stockCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(context.Background(), engine.Options{Stdlib: stdlib.FS, Builtins: builtins.Module()})
	if err != nil {
		t.Fatal(err)
	}
	for p := range cliPaths {
		if goOnly[p] {
			continue
		}
		spec, ok := specs[p]
		if !ok {
			t.Errorf("mrsk %s: no entry in COMMANDS", p)
			continue
		}
		if _, ok := eng.Stock(spec.Flow).(*starlark.Function); !ok {
			t.Errorf("COMMANDS[%q] names %q, which is no function of the stock flows", p, spec.Flow)
		}
	}
	var extra []string
	for p := range specs {
		if !cliPaths[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("COMMANDS has entries no command runs: %v", extra)
	}
}

func hasCommands(n *kong.Node) bool {
	for _, c := range n.Children {
		if c.Type == kong.CommandNode {
			return true
		}
	}
	return false
}
