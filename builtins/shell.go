package builtins

import "strings"

// quote makes s one shell word. Plain words stay readable in plans.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// join quotes each argument and joins them into one command line.
func join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

// homePath is a path under the SSH user's home on a host. Commands run in the
// home directory, so relative paths work for docker --env-file; a bind mount
// needs it absolute, which "$HOME"/rel gives (the rest is quoted).
func homePath(rel string) string { return `"$HOME"/` + quote(rel) }
