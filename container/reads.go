package container

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Reads ride on another command's round trip (the deploy lock's): each
// prints its output, then a marker line with its name and exit status,
// so a failed read is never taken for an answer.

// ReadMark starts the line that ends one read: "--mrsk-read-- NAME CODE".
const ReadMark = "--mrsk-read--"

// Read is cmd as one read named name.
func Read(name, cmd string) string {
	return fmt.Sprintf(`%s; echo "%s %s $?"`, cmd, ReadMark, name)
}

// ParseReads splits the output of Read commands: per name, the output of
// the reads that exited 0 (the others are left out).
func ParseReads(out string) map[string]string {
	got := map[string]string{}
	var buf strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), ReadMark+" ")
		if !ok {
			buf.WriteString(line)
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 {
			if code, err := strconv.Atoi(f[1]); err == nil && code == 0 {
				got[f[0]] = buf.String()
			}
		}
		buf.Reset()
	}
	return got
}

// ImageID prints image's id; it fails when the host does not have it.
func (r Runtime) ImageID(image string) string {
	return shellwords.Join(r.Bin(), "image", "inspect", "--format", "{{.Id}}", r.Qualify(image)) + " 2>/dev/null"
}

// IfAbsent runs cmd only when the host does not have image.
func (r Runtime) IfAbsent(image, cmd string) string {
	return shellwords.Join(r.Bin(), "image", "inspect", r.Qualify(image)) + " >/dev/null 2>&1 || { " + cmd + "; }"
}

// Running reports whether ps without --all lists a container in
// state (it leaves out only stopped ones).
func Running(state string) bool {
	switch state {
	case "running", "paused", "restarting":
		return true
	}
	return false
}
