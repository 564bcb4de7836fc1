package builtins

import "github.com/mrsk-go/mrsk/shellwords"

// quote and join are shellwords' Quote and Join under the short names the
// command-building code of every builtin reads best with.
func quote(s string) string { return shellwords.Quote(s) }

func join(args ...string) string { return shellwords.Join(args...) }

// homePath is a path under the SSH user's home on a host. Commands run in the
// home directory, so relative paths work for docker --env-file; a bind mount
// needs it absolute, which "$HOME"/rel gives (the rest is quoted).
func homePath(rel string) string { return `"$HOME"/` + quote(rel) }
