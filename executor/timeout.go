package executor

import (
	"fmt"
	"strings"
	"time"
)

// Default per-command timeouts. A hung Docker daemon (or host) must not
// hang a deploy with its lock held, so every command has a bound unless it
// is meant to run until the user stops it.
const (
	// DefaultCommandTimeout bounds an ordinary command: docker ps, run -d,
	// stop, inspect, the lock's mkdir, file uploads...
	DefaultCommandTimeout = 2 * time.Minute
	// LongCommandTimeout is the least a command that moves images (pull,
	// push, build, load, save), a local command (builds and hooks run on
	// the local machine) or a streamed one (a user's exec, a migration)
	// gets: it may take long for good reasons.
	LongCommandTimeout = 30 * time.Minute
	// NoTimeout, as Command.Timeout or Live.CommandTimeout, means no bound.
	NoTimeout time.Duration = -1
)

// timeoutFor is how long c may run when the ordinary timeout is base (a
// negative base means no timeouts at all). Zero means no bound.
func timeoutFor(c Command, base time.Duration) time.Duration {
	switch {
	case c.Timeout < 0 || base < 0:
		return 0
	case c.Timeout > 0:
		return c.Timeout
	}
	if base == 0 {
		base = DefaultCommandTimeout
	}
	switch kindOf(c) {
	case kindUnbounded:
		return 0
	case kindLong:
		return max(base, LongCommandTimeout)
	}
	return base
}

type commandKind int

const (
	kindShort commandKind = iota
	kindLong
	kindUnbounded
)

// kindOf tells commands apart by the container runtime subcommands in the
// line (a line may chain several, e.g. "docker login ... && docker pull").
// It reads the words only; it is a default, and a builtin that knows
// better sets Command.Timeout.
func kindOf(c Command) commandKind {
	words := strings.Fields(c.Line)
	kind := kindShort
	if c.Host == "" || c.Stream {
		kind = kindLong
	}
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "docker" && words[i] != "podman" {
			continue
		}
		sub := words[i+1]
		if sub == "image" || sub == "container" || sub == "buildx" {
			// docker image pull, docker container logs, docker buildx build
			if i+2 < len(words) {
				sub = words[i+2]
			}
		}
		switch sub {
		case "pull", "push", "build", "load", "save", "import":
			kind = max(kind, kindLong)
		case "wait":
			// Blocks until a container exits, by design: whoever waits
			// bounds it with the context (wait_healthy does).
			return kindUnbounded
		case "logs":
			if follows(words[i+2:]) {
				return kindUnbounded
			}
		}
	}
	return kind
}

// follows reports whether the arguments of "docker logs" ask to follow:
// -f, --follow, or -f among combined short flags (-ft).
func follows(args []string) bool {
	for _, a := range args {
		switch {
		case strings.ContainsAny(a, ";&|"):
			// The end of this command (or a redirection): what follows
			// is another command's.
			return false
		case a == "--follow" || a == "--follow=true":
			return true
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && !strings.ContainsAny(a, "=0123456789") && strings.Contains(a, "f"):
			return true
		}
	}
	return false
}

// TimeoutError is a command that did not finish within its timeout. The
// command was stopped (its SSH session signalled and closed, or the local
// process killed).
type TimeoutError struct {
	Host    string
	Command string // as displayed
	After   time.Duration
}

func (e *TimeoutError) Error() string {
	where := e.Host
	if where == "" {
		where = "local"
	}
	return fmt.Sprintf("on %s: `%s` did not finish within %s and was stopped (raise the limit with --command-timeout or command_timeout in deploy.yml)",
		where, truncate(e.Command, 200), e.After)
}
