package main

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed templates
var templates embed.FS

// InitCmd is `mrsk init`: deploy.yml, deploy.star, a first
// deploy_test.star that `mrsk test` passes, and .env.
type InitCmd struct{}

// Run writes the starter files, refusing to overwrite any of them: it checks
// them all before writing one, so it never leaves a half-initialized project.
func (c *InitCmd) Run(app *App) error {
	files := []struct{ tmpl, dest string }{
		{"templates/deploy.yml", "config/deploy.yml"},
		{"templates/deploy.star", "config/deploy.star"},
		{"templates/deploy_test.star", "config/deploy_test.star"},
		{"templates/env", ".env"},
	}
	for _, f := range files {
		if _, err := os.Stat(f.dest); err == nil {
			return fmt.Errorf("init: %s already exists; nothing was written", f.dest)
		}
	}
	for _, f := range files {
		b, err := templates.ReadFile(f.tmpl)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(f.dest), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.dest == ".env" {
			mode = 0o600
		}
		if err := os.WriteFile(f.dest, b, mode); err != nil {
			return err
		}
		fmt.Fprintln(app.Stdout, "created", f.dest)
	}
	return ignoreEnv(app)
}

// ignoreEnv adds .env to .gitignore unless it is there already.
func ignoreEnv(app *App) error {
	b, err := os.ReadFile(".gitignore")
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == ".env" {
			return nil
		}
	}
	s := string(b)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(".gitignore", []byte(s+".env\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(app.Stdout, "added .env to .gitignore")
	return nil
}
