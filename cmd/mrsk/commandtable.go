package main

import (
	"context"
	"fmt"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/engine"
	"github.com/mrsk-go/mrsk/stdlib"
)

// commandSpec is what one mrsk command runs: an entry of COMMANDS in
// stdlib/deploy.star, the one table from command to flow.
type commandSpec struct {
	Flow    string // looked up project first, so a project can replace it
	Version bool   // the flow acts on the version being deployed
}

// stockCommands reads COMMANDS from the stock flows. Loading them runs no
// builtin (only definitions), so no runtime is needed.
func stockCommands(ctx context.Context) (map[string]commandSpec, error) {
	eng, err := engine.New(ctx, engine.Options{Stdlib: stdlib.FS, Builtins: builtins.Module()})
	if err != nil {
		return nil, fmt.Errorf("load the stock flows: %w", err)
	}
	table, ok := eng.Stock("COMMANDS").(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("%sdeploy.star: COMMANDS is not a dict", engine.StdlibPrefix)
	}
	specs := map[string]commandSpec{}
	for _, item := range table.Items() {
		path, ok := starlark.AsString(item[0])
		st, isStruct := item[1].(*starlarkstruct.Struct)
		if !ok || !isStruct {
			return nil, fmt.Errorf("%sdeploy.star: COMMANDS[%s]: want command(flow, version=...)", engine.StdlibPrefix, item[0])
		}
		flow, _ := st.Attr("flow")
		version, _ := st.Attr("version")
		name, _ := starlark.AsString(flow)
		if name == "" {
			return nil, fmt.Errorf("%sdeploy.star: COMMANDS[%q] names no flow", engine.StdlibPrefix, path)
		}
		specs[path] = commandSpec{Flow: name, Version: version != nil && bool(version.Truth())}
	}
	return specs, nil
}

// runCommand runs the flow that COMMANDS names for path.
func runCommand(app *App, g *Globals, path string, opts flowOpts, args ...starlark.Value) error {
	specs, err := stockCommands(app.Ctx)
	if err != nil {
		return err
	}
	spec, ok := specs[path]
	if !ok {
		var known []string
		for p := range specs {
			known = append(known, p)
		}
		sort.Strings(known)
		return fmt.Errorf("mrsk %s: no such entry in COMMANDS of %sdeploy.star (have %v)", path, engine.StdlibPrefix, known)
	}
	// app exec --reuse runs in the running container: no version needed.
	opts.needVersion = spec.Version && !opts.reuse
	opts.actsOnVersion = spec.Version || path == "rollback"
	return runFlow(app, g, spec.Flow, opts, args...)
}
