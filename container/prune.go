package container

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mrsk-go/mrsk/shellwords"
)

// pruneFormat is what PruneCandidates reads of each container.
const pruneFormat = `{{.Id}}|{{.Name}}|{{.State.Running}}|{{.State.FinishedAt}}|{{.Created}}`

// PruneList inspects every container f selects, running or not, for
// PruneCandidates. With images it first removes the service's unused
// images, in the same round trip (images of containers removed after
// this go on the next prune).
func (r Runtime) PruneList(f Filter, images bool) string {
	list := shellwords.Join(append([]string{r.Bin(), "ps", "--all", "--quiet"}, f.Args()...)...)
	line := ""
	if images {
		line = r.PruneImages(f.Service) + "; "
	}
	return line + fmt.Sprintf("ids=$(%s); [ -z \"$ids\" ] || %s inspect -f %s $ids", list, r.Bin(), shellwords.Quote(pruneFormat))
}

// PruneImages removes service's images that no container (even a stopped
// one kept for rollback) uses.
func (r Runtime) PruneImages(service string) string {
	return shellwords.Join(r.Bin(), "image", "prune", "--all", "--force", "--filter", "label=service="+service) + " >/dev/null"
}

// PruneRemove removes the containers PruneCandidates picked.
func (r Runtime) PruneRemove(names []string) string {
	return shellwords.Join(append([]string{r.Bin(), "rm"}, names...)...) + " >/dev/null"
}

type inspected struct {
	id, name string
	running  bool
	finished time.Time
	created  time.Time
}

// PruneCandidates picks stopped containers to remove from PruneList's
// output: it keeps the newest `retain` stopped ones, and any stopped less
// than olderThan ago (0: no age limit). Running containers are never picked.
func PruneCandidates(out string, retain int, olderThan time.Duration, now time.Time) []string {
	var stopped []inspected
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			continue
		}
		c := inspected{id: f[0], name: strings.TrimPrefix(f[1], "/"), running: f[2] == "true"}
		c.finished = parseTime(f[3])
		c.created = parseTime(f[4])
		if !c.running {
			stopped = append(stopped, c)
		}
	}
	sort.SliceStable(stopped, func(i, j int) bool { return stopped[i].created.After(stopped[j].created) })
	var remove []string
	for i, c := range stopped {
		if i < retain {
			continue
		}
		if olderThan > 0 && !c.finished.IsZero() && now.Sub(c.finished) < olderThan {
			continue
		}
		remove = append(remove, c.name)
	}
	return remove
}
