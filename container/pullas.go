package container

import "github.com/mrsk-go/mrsk/shellwords"

// PullAs pulls image from and names it to on the host. The name to exists
// only once the pull has completed (neither runtime tags before), and
// from's name is removed whatever happens, so an interrupted or failed pull
// leaves no name behind and a completed one only to. from is mrsk's own
// registry on the host's loopback (plain HTTP through the SSH forward):
// Docker treats 127.0.0.1 as insecure already, Podman must be told.
func (r Runtime) PullAs(from, to string) string {
	pull := []string{r.Bin(), "pull", "--quiet"}
	if r == Podman {
		pull = append(pull, "--tls-verify=false")
	}
	return shellwords.Join(append(pull, from)...) + " && " + shellwords.Join(r.Bin(), "tag", from, to) +
		"; rc=$?; " + shellwords.Join(r.Bin(), "rmi", from) + " >/dev/null 2>&1; exit $rc"
}
