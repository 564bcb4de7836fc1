package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrsk-go/mrsk/builtins"
)

// The README's builtin table is the one `mrsk help builtins --markdown`
// prints, so the documentation cannot drift from the code.
func TestReadmeBuiltinTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- builtins:begin -->\n", "<!-- builtins:end -->"
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", strings.TrimSpace(begin), end)
	}
	var want bytes.Buffer
	if err := writeMarkdown(&want, builtinDocs()); err != nil {
		t.Fatal(err)
	}
	if got := readme[i+len(begin) : j]; got != want.String() {
		t.Errorf("README.md's builtin table differs from the code; replace it with the output of\n  go run ./cmd/mrsk help builtins --markdown\n\ngot:\n%s\nwant:\n%s", got, want.String())
	}
}

// Every builtin that Module predeclares is documented, and nothing else.
func TestEveryBuiltinDocumented(t *testing.T) {
	docs := map[string]bool{}
	for _, d := range builtins.Reference() {
		if docs[d.Name] {
			t.Errorf("%s documented twice", d.Name)
		}
		docs[d.Name] = true
		if !strings.HasPrefix(d.Call, d.Name+"(") || d.Summary == "" {
			t.Errorf("%s: call %q or summary %q malformed", d.Name, d.Call, d.Summary)
		}
	}
	for name := range builtins.Module() {
		if !docs[name] {
			t.Errorf("builtin %s has no reference entry", name)
		}
	}
}
