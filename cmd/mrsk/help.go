package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mrsk-go/mrsk/builtins"
	"github.com/mrsk-go/mrsk/engine"
)

// HelpCmd is `mrsk help builtins`: the reference of what deploy.star can
// call, from the same table that defines the builtins.
type HelpCmd struct {
	Topic    string `arg:"" enum:"builtins" help:"What to explain: builtins."`
	Markdown bool   `help:"Print a Markdown table (the README's)."`
}

func (c *HelpCmd) Run(app *App) error {
	docs := builtinDocs()
	if c.Markdown {
		return writeMarkdown(app.Stdout, docs)
	}
	group := ""
	for _, d := range docs {
		if d.Group != group {
			group = d.Group
			fmt.Fprintf(app.Stdout, "\n%s:\n", group)
		}
		fmt.Fprintf(app.Stdout, "  %s\n      %s\n", d.Call, d.Summary)
	}
	return nil
}

// builtinDocs is every predeclared name of deploy.star, in reference order.
func builtinDocs() []engine.Doc {
	return append(builtins.Reference(), engine.Reference()...)
}

func writeMarkdown(w io.Writer, docs []engine.Doc) error {
	var b strings.Builder
	b.WriteString("| builtin | does |\n| --- | --- |\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", d.Call, strings.ReplaceAll(d.Summary, "|", `\|`))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
