package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DefaultFile is the main config file used when LoadOptions.File is empty.
const DefaultFile = "config/deploy.yml"

// LoadOptions says what to load.
type LoadOptions struct {
	// File is the path of the main file; "" means DefaultFile.
	File string
	// Destination, e.g. "staging", also reads deploy.staging.yml from File's
	// directory, deep-merged over File, and .env.staging (if present) from
	// the project root, whose values win over .env.
	Destination string
	// LookupEnv reads the process environment; nil means os.LookupEnv. The
	// environment wins over .env files.
	LookupEnv func(string) (string, bool)
}

var destinationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// DestinationFile returns the destination file path for file and dest:
// config/deploy.yml + staging => config/deploy.staging.yml.
func DestinationFile(file, dest string) string {
	if file == "" {
		file = DefaultFile
	}
	dir, base := filepath.Split(file)
	ext := filepath.Ext(base)
	return filepath.Join(dir, strings.TrimSuffix(base, ext)+"."+dest+ext)
}

// Load reads, merges, expands and validates the configuration. Every error it
// returns is an *Error.
func Load(opts LoadOptions) (*Config, error) {
	c, err := load(opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func load(opts LoadOptions) (*Config, *Error) {
	file := opts.File
	if file == "" {
		file = DefaultFile
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	c := &Config{
		File:        file,
		Files:       []string{file},
		Root:        filepath.Join(filepath.Dir(file), ".."),
		Destination: opts.Destination,
	}

	if opts.Destination != "" && !destinationRE.MatchString(opts.Destination) {
		return nil, &Error{File: file, Msg: "invalid destination " + strconv.Quote(opts.Destination) +
			": use letters, digits, '.', '-' and '_'"}
	}
	// The variables come first: ERB in the config files reads them.
	envLookup, envFiles, err := dotenvLookup(c.Root, opts.Destination, lookup)
	if err != nil {
		return nil, err
	}
	tm := &templates{root: c.Root, dest: opts.Destination, lookup: envLookup}

	root, err := readConfigFile(file, tm)
	if err != nil {
		return nil, err
	}
	if root.kind != mappingKind {
		return nil, &Error{File: file, Line: root.line, Col: root.col, Msg: "must be a map of settings"}
	}

	if opts.Destination != "" {
		dfile := DestinationFile(file, opts.Destination)
		dest, err := readConfigFile(dfile, tm)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err.Msg = "destination file not found (for -d " + opts.Destination + ")"
			}
			return nil, err
		}
		if dest.kind != mappingKind {
			return nil, &Error{File: dfile, Line: dest.line, Col: dest.col, Msg: "must be a map of settings"}
		}
		c.Files = append(c.Files, dfile)
		root = mergeNodes(root, dest)
	}

	c.Files = append(c.Files, envFiles...)
	l := &loader{file: file, root: c.Root, lookup: envLookup, tm: tm}

	if rd := root.get("require_destination"); rd != nil && opts.Destination == "" {
		if v, set := l.boolean(rd, "require_destination"); set && v {
			return nil, &Error{File: file, Msg: "require_destination is true: pass -d DESTINATION"}
		}
		if l.err != nil {
			return nil, l.err
		}
	}

	l.build(root, c)
	if l.err != nil {
		return nil, l.err
	}
	if err := tm.renderAccessoryFiles(c); err != nil {
		return nil, err
	}
	return c, nil
}

// dotenvLookup reads .env, then .env.DESTINATION over it, and returns a
// lookup where the real environment wins over both, with the files read.
func dotenvLookup(root, dest string, lookup func(string) (string, bool)) (func(string) (string, bool), []string, *Error) {
	var dotenvs []map[string]string
	var read []string
	envFiles := []string{filepath.Join(root, ".env")}
	if dest != "" {
		envFiles = append(envFiles, filepath.Join(root, ".env."+dest))
	}
	for _, f := range envFiles {
		vars, ok, err := readDotenv(f)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, nil, e
			}
			return nil, nil, &Error{File: f, Msg: err.Error(), err: err}
		}
		if ok {
			read = append(read, f)
			dotenvs = append([]map[string]string{vars}, dotenvs...) // later files first
		}
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		for _, vars := range dotenvs {
			if v, ok := vars[name]; ok {
				return v, true
			}
		}
		return "", false
	}, read, nil
}

// readConfigFile reads one YAML file and renders its ERB.
func readConfigFile(file string, tm *templates) (*node, *Error) {
	data, err := os.ReadFile(file)
	if err != nil {
		msg := "cannot read: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "config file not found"
		}
		return nil, &Error{File: file, Msg: msg, err: err}
	}
	return tm.parse(file, data)
}
