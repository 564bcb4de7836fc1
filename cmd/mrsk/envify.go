package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mrsk-go/mrsk/config"
)

// EnvifyCmd is `mrsk envify`, Kamal 1's: it renders .env.erb (or
// .env.DESTINATION.erb with -d) into .env (.env.DESTINATION), mode 0600,
// with the same ERB as deploy.yml (ENV, Rails credentials). It does not
// read deploy.yml, whose ERB may need the very .env being written. Kamal
// then pushes the env to the hosts; mrsk has no push: every deploy
// writes the hosts' env files.
type EnvifyCmd struct{}

func (c *EnvifyCmd) Run(app *App, g *Globals) error {
	tmpl, out := ".env.erb", ".env"
	if g.Destination != "" {
		tmpl, out = ".env."+g.Destination+".erb", ".env."+g.Destination
	}
	root := filepath.Join(filepath.Dir(g.ConfigFile), "..")
	if _, err := os.Stat(filepath.Join(root, tmpl)); errors.Is(err, fs.ErrNotExist) {
		// As Kamal: nothing to render is not a failure.
		fmt.Fprintf(app.Stdout, "Skipping envify (no %s exists)\n", tmpl)
		return nil
	}
	content, err := config.RenderTemplate(config.LoadOptions{File: g.ConfigFile, Destination: g.Destination, LookupEnv: app.LookupEnv}, tmpl)
	if err != nil {
		return &configError{fmt.Errorf("envify: %w", err)}
	}
	if err := writePrivate(filepath.Join(root, out), content); err != nil {
		return fmt.Errorf("envify: %w", err)
	}
	// The values may be secrets: name the file, never its content.
	fmt.Fprintf(app.Stdout, "Wrote %s from %s (mode 0600)\n", out, tmpl)
	return nil
}

// writePrivate replaces path with content, readable by the owner only at
// every moment: a temporary file (created 0600) renamed over it.
func writePrivate(path string, content []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, nothing is left to remove
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
