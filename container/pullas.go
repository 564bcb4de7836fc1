package container

import "github.com/mrsk-go/mrsk/shellwords"

// PullAs pulls image from and names it to on the host. The name to exists
// only once the pull has completed (docker tags nothing before), and from's
// name is removed whatever happens, so an interrupted or failed pull leaves
// no name behind and a completed one only to.
func PullAs(from, to string) string {
	return shellwords.Join("docker", "pull", "--quiet", from) + " && " + shellwords.Join("docker", "tag", from, to) +
		"; rc=$?; " + shellwords.Join("docker", "rmi", from) + " >/dev/null 2>&1; exit $rc"
}
