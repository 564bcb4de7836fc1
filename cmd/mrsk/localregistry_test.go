package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mrsk-go/mrsk/localregistry"
)

// listenWatch samples the TCP listeners of this machine and of sandbox
// hosts while a command runs, to show that a deploy with registry.server
// local opens none on a non-loopback address, on either side.
type listenWatch struct {
	mu      sync.Mutex
	samples map[string][][]string // side -> samples of listening addresses
	stop    chan struct{}
	wg      sync.WaitGroup
	cmds    []*exec.Cmd
}

// listenersCmd: `listeners start NAME N...` starts sampling (every 50 ms)
// here and on sandbox hosts N...; `listeners stop NAME [ALLOWED...]` stops
// and prints, per side, the listeners that appeared after the first
// sample. It fails if one of them is not on 127.0.0.1 or ::1 and not
// ALLOWED (Traefik's published port, say, which a first deploy opens in
// any mode).
func listenersCmd(root string) func(ts *testscript.TestScript, neg bool, args []string) {
	var mu sync.Mutex
	watches := map[string]*listenWatch{}
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: listeners start NAME N... | listeners stop NAME [ALLOWED...]")
		}
		key := fmt.Sprintf("%p/%s", ts, args[1])
		switch args[0] {
		case "start":
			w := &listenWatch{samples: map[string][][]string{}, stop: make(chan struct{})}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				for {
					out, err := exec.Command("ss", "-Hltn").Output()
					if err == nil {
						w.add("local", parseSS(string(out)))
					}
					select {
					case <-w.stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}()
			for _, n := range args[2:] {
				// One long-lived loop per host: entering the host's
				// namespaces per sample would be too slow to catch a pull.
				cmd := exec.Command(filepath.Join(root, "sandbox", "sandbox.sh"), "exec", n, "sh", "-c",
					`i=0; while [ $i -lt 3000 ]; do ss -Hltn; echo ---; sleep 0.05; i=$((i+1)); done`)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				out, err := cmd.StdoutPipe()
				ts.Check(err)
				ts.Check(cmd.Start())
				w.cmds = append(w.cmds, cmd)
				side := "host " + n
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					sc := bufio.NewScanner(out)
					var cur strings.Builder
					for sc.Scan() {
						if sc.Text() == "---" {
							w.add(side, parseSS(cur.String()))
							cur.Reset()
							continue
						}
						cur.WriteString(sc.Text() + "\n")
					}
				}()
			}
			mu.Lock()
			watches[key] = w
			mu.Unlock()
		case "stop":
			mu.Lock()
			w := watches[key]
			delete(watches, key)
			mu.Unlock()
			if w == nil {
				ts.Fatalf("no watch named %s", args[1])
			}
			close(w.stop)
			for _, c := range w.cmds {
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
			w.wg.Wait()
			for _, c := range w.cmds {
				c.Wait()
			}
			sides := make([]string, 0, len(w.samples))
			for s := range w.samples {
				sides = append(sides, s)
			}
			sort.Strings(sides)
			var bad []string
			for _, side := range sides {
				samples := w.samples[side]
				base := samples[0]
				var added []string
				for _, s := range samples[1:] {
					for _, a := range s {
						if !slices.Contains(base, a) && !slices.Contains(added, a) {
							added = append(added, a)
						}
					}
				}
				fmt.Fprintf(ts.Stdout(), "%s: %d samples; new listeners: %s\n", side, len(samples), strings.Join(added, " "))
				for _, a := range added {
					if !strings.HasPrefix(a, "127.") && !strings.HasPrefix(a, "[::1]") && !slices.Contains(args[2:], a) {
						bad = append(bad, side+": "+a)
					}
				}
			}
			if len(bad) > 0 {
				ts.Fatalf("listeners on a non-loopback address appeared: %s", strings.Join(bad, ", "))
			}
		default:
			ts.Fatalf("usage: listeners start NAME N... | listeners stop NAME [ALLOWED...]")
		}
	}
}

func (w *listenWatch) add(side string, addrs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples[side] = append(w.samples[side], addrs)
}

// parseSS returns the local addresses of `ss -Hltn` lines.
func parseSS(out string) []string {
	var addrs []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			addrs = append(addrs, f[3])
		}
	}
	return addrs
}

// pullbytesCmd: `pullbytes FILE HOST OLD NEW` reads from FILE (mrsk's
// output) how many bytes the pull of NEW (repo:tag, in the image cache
// $MRSK_IMAGE_CACHE) sent to HOST, and checks that it was at most what
// NEW adds to OLD (OLD "-": the whole image): its layers that OLD lacks,
// its manifest and config, within 10% + 64 KiB. It prints both figures.
func pullbytesCmd() func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 4 {
			ts.Fatalf("usage: pullbytes FILE HOST OLD|- NEW")
		}
		out, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		repo, tag, _ := strings.Cut(args[3], ":")
		re := regexp.MustCompile(`\[` + regexp.QuoteMeta(args[1]) + `\] pulled localhost/` + regexp.QuoteMeta(args[3]) + `: sent .* \((\d+) bytes;`)
		m := re.FindSubmatch(out)
		if m == nil {
			ts.Fatalf("%s: no line says what the pull of %s sent to %s", args[0], args[3], args[1])
		}
		sent, _ := strconv.ParseInt(string(m[1]), 10, 64)
		c, err := localregistry.OpenCache(ts.Getenv("MRSK_IMAGE_CACHE"))
		ts.Check(err)
		im, err := c.Lookup(repo, tag)
		ts.Check(err)
		have := map[string]bool{}
		if args[2] != "-" {
			orepo, otag, _ := strings.Cut(args[2], ":")
			old, err := c.Lookup(orepo, otag)
			ts.Check(err)
			for _, l := range old.Layers {
				have[l.Digest.String()] = true
			}
		}
		want := im.Manifest.Size + im.Config.Size
		changed, changedBytes := 0, int64(0)
		for _, l := range im.Layers {
			if !have[l.Digest.String()] {
				changed++
				changedBytes += l.Size
			}
		}
		want += changedBytes
		fmt.Fprintf(ts.Stdout(), "%s to %s: sent %d bytes; %s is %d bytes, %d of its %d layers (%d bytes) new since %s, manifest %d, config %d\n",
			args[3], args[1], sent, args[3], im.Size(), changed, len(im.Layers), changedBytes, args[2], im.Manifest.Size, im.Config.Size)
		if limit := want + want/10 + 64<<10; sent > limit {
			ts.Fatalf("sent %d bytes to %s, more than %d (what %s adds to %s, %d bytes, + 10%% + 64 KiB)", sent, args[1], limit, args[3], args[2], want)
		}
	}
}
