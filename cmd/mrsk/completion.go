package main

// Shell completion: `mrsk completion bash|zsh|fish` prints a script that
// makes the shell ask mrsk itself for completions (COMP_LINE, as
// github.com/posener/complete reads it); kongplete turns the kong model
// into what to offer, and the predictors below add the project's roles,
// hosts, accessories and destinations, read from its deploy.yml.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"
	"go.yaml.in/yaml/v3"
)

// CompletionCmd is `mrsk completion SHELL`.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

// completionScripts ask the binary at ${bin} to complete the line. bash and
// zsh (through bashcompinit) call a function, so a test can drive it with
// COMP_LINE and COMP_POINT as bash sets them.
var completionScripts = map[string]string{
	"bash": `# mrsk completion for bash: source <(mrsk completion bash)
_mrsk_complete() {
    local IFS=$'\n'
    COMPREPLY=($(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" '${bin}' 2>/dev/null))
}
complete -o default -F _mrsk_complete mrsk
`,
	"zsh": `# mrsk completion for zsh: source <(mrsk completion zsh)
autoload -U +X bashcompinit && bashcompinit
_mrsk_complete() {
    local IFS=$'\n'
    COMPREPLY=($(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" '${bin}' 2>/dev/null))
}
complete -o default -F _mrsk_complete mrsk
`,
	"fish": `# mrsk completion for fish: mrsk completion fish | source
function __complete_mrsk
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    set -lx COMP_POINT (string length -- $COMP_LINE)
    '${bin}' 2>/dev/null
end
complete -f -c mrsk -a "(__complete_mrsk)"
`,
}

func (c *CompletionCmd) Run(app *App) error {
	bin, err := selfPath()
	if err != nil {
		return fmt.Errorf("completion: find this program: %w", err)
	}
	script := strings.ReplaceAll(completionScripts[c.Shell], "${bin}", strings.ReplaceAll(bin, "'", `'\''`))
	_, err = fmt.Fprint(app.Stdout, script)
	return err
}

// selfPath is the path the shell should run: the one this program was
// started as (a symlink named mrsk stays one), made absolute.
func selfPath() (string, error) {
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
	}
	return os.Executable()
}

// completeLine answers a completion request (COMP_LINE set by the shell
// script) and reports whether there was one.
func completeLine(parser *kong.Kong, lookupEnv func(string) (string, bool)) (bool, error) {
	if _, ok := lookupEnv("COMP_LINE"); !ok {
		return false, nil
	}
	cmd, err := kongplete.Command(parser, kongplete.WithPredictors(map[string]complete.Predictor{
		"role":        names(func(p project) []string { return p.roles }),
		"host":        names(func(p project) []string { return p.hosts }),
		"accessory":   names(func(p project) []string { return append(p.accessories, "all") }),
		"destination": names(func(p project) []string { return p.destinations }),
	}))
	if err != nil {
		return true, fmt.Errorf("completion: %w", err)
	}
	cmp := complete.New(parser.Model.Name, cmd)
	cmp.Out = parser.Stdout
	cmp.Complete()
	return true, nil
}

// names predicts from the project of the line being completed.
func names(pick func(project) []string) complete.Predictor {
	return complete.PredictFunc(func(a complete.Args) []string {
		return pick(readProject(a.All))
	})
}

// project is what completion offers from a deploy.yml.
type project struct {
	roles, hosts, accessories, destinations []string
}

// readProject reads the names in the config file the line names (-c, else
// config/deploy.yml) and its destinations (-d merges config/deploy.NAME.yml).
// It resolves nothing (no env, no secrets) and fails quietly: a shell
// offering nothing is better than one printing errors.
func readProject(words []string) project {
	file, dest := "config/deploy.yml", ""
	for i, w := range words {
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case w == "-c" || w == "--config-file":
			file = next
		case strings.HasPrefix(w, "--config-file="):
			file = strings.TrimPrefix(w, "--config-file=")
		case w == "-d" || w == "--destination":
			dest = next
		case strings.HasPrefix(w, "--destination="):
			dest = strings.TrimPrefix(w, "--destination=")
		}
	}
	var p project
	files := []string{file}
	base := strings.TrimSuffix(file, filepath.Ext(file))
	if dest != "" {
		files = append(files, base+"."+dest+filepath.Ext(file))
	}
	for _, f := range files {
		p.add(f)
	}
	matches, _ := filepath.Glob(base + ".*" + filepath.Ext(file))
	for _, m := range matches {
		name := strings.TrimSuffix(strings.TrimPrefix(m, base+"."), filepath.Ext(file))
		if name != "" && !strings.Contains(name, ".") {
			p.destinations = append(p.destinations, name)
		}
	}
	return p
}

func (p *project) add(file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	var doc struct {
		Servers     yaml.Node      `yaml:"servers"`
		Accessories map[string]any `yaml:"accessories"`
	}
	if yaml.Unmarshal(b, &doc) != nil {
		return
	}
	addUnique := func(list *[]string, s string) {
		if s != "" && !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	hosts := func(n *yaml.Node) {
		for _, h := range n.Content {
			if h.Kind == yaml.ScalarNode {
				addUnique(&p.hosts, h.Value)
			}
		}
	}
	switch doc.Servers.Kind {
	case yaml.SequenceNode:
		addUnique(&p.roles, "web")
		hosts(&doc.Servers)
	case yaml.MappingNode:
		for i := 0; i+1 < len(doc.Servers.Content); i += 2 {
			name, val := doc.Servers.Content[i], doc.Servers.Content[i+1]
			addUnique(&p.roles, name.Value)
			if val.Kind == yaml.SequenceNode {
				hosts(val)
			}
			for j := 0; val.Kind == yaml.MappingNode && j+1 < len(val.Content); j += 2 {
				if val.Content[j].Value == "hosts" {
					hosts(val.Content[j+1])
				}
			}
		}
	}
	for name := range doc.Accessories {
		addUnique(&p.accessories, name)
	}
	slices.Sort(p.accessories)
}
