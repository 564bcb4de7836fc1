// Command fleetsim runs mrsk against simulated hosts (package fleetsim).
//
//	fleetsim bench [-mrsk BIN] [-latency 100ms] [-runs 3] N...
//	    for each N: start N simulated hosts, deploy v1 to them (the first
//	    deploy, which also starts Traefik), then measure `mrsk deploy
//	    --skip-push` of a new version, -runs times: the fastest wall time,
//	    the largest peak RSS of the mrsk process, SSH handshakes (total and
//	    most on one host, per run), commands per host, and how many lines
//	    mrsk printed. Prints one table row per N. The fastest run is the
//	    one least disturbed by whatever else the machine does. Then, for
//	    the largest N, a deploy with 3 hosts refusing connections must
//	    fail naming them, with no host changed.
//	fleetsim serve [-latency 100ms] [-dir DIR] N
//	    start N simulated hosts and an mrsk project for them, print how to
//	    use it, and serve until interrupted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mrsk-go/mrsk/fleetsim"
)

func main() {
	// The simulator shares the machine with the mrsk it measures: fewer
	// collections leave more CPU to mrsk. Memory is not what is measured here.
	debug.SetGCPercent(400)
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: fleetsim bench|serve [flags] N...")
	}
	switch args[0] {
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "serve":
		return serve(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q (want bench or serve)", args[0])
}

func hostCounts(args []string) ([]int, error) {
	var ns []int
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("want host counts >= 1, got %q", a)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, errors.New("no host counts given")
	}
	return ns, nil
}

// result is one measured deploy.
type result struct {
	hosts       int
	first, wall time.Duration
	rssKB       int64
	handshakes  int64
	maxConns    int64         // most handshakes on one host
	mrskCPU     time.Duration // user+system CPU of mrsk, in the fastest run
	simCPU      time.Duration // CPU of the simulator (this process), in the fastest run
	cmdsPerHost float64
	lines       int
}

func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	bin := fs.String("mrsk", "", "mrsk binary (default: build ./cmd/mrsk)")
	latency := fs.Duration("latency", 100*time.Millisecond, "simulated latency before each command")
	runs := fs.Int("runs", 3, "measured deploys per host count (the fastest is shown)")
	keep := fs.Bool("keep", false, "keep the work directory and print mrsk's output of the last run")
	profile := fs.String("cpuprofile", "", "write the simulator's CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ns, err := hostCounts(fs.Args())
	if err != nil {
		return err
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	work, err := os.MkdirTemp("", "fleetsim-bench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	if *bin == "" {
		*bin = filepath.Join(work, "mrsk")
		build := exec.Command("go", "build", "-o", *bin, "./cmd/mrsk")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build mrsk: %w", err)
		}
	}
	fmt.Fprintf(stdout, "mrsk deploy --skip-push to N simulated hosts, %s latency per command; first: the first deploy (starts Traefik); wall: fastest of %d redeploys\n", *latency, *runs)
	fmt.Fprintf(stdout, "%6s  %9s  %9s  %9s  %10s  %13s  %12s  %9s  %9s\n", "hosts", "first", "wall", "peak RSS", "handshakes", "commands/host", "output lines", "mrsk CPU", "sim CPU")
	var last []byte
	for _, n := range ns {
		r, out, err := benchOne(*bin, filepath.Join(work, strconv.Itoa(n)), n, *latency, *runs)
		if err != nil {
			stderr.Write(out)
			return fmt.Errorf("%d hosts: %w", n, err)
		}
		last = out
		fmt.Fprintf(stdout, "%6d  %9s  %9s  %6.1f MB  %10s  %13.1f  %12d  %9s  %9s\n", r.hosts, r.first.Round(time.Millisecond),
			r.wall.Round(time.Millisecond), float64(r.rssKB)/1024, fmt.Sprintf("%d (max %d)", r.handshakes, r.maxConns), r.cmdsPerHost, r.lines,
			r.mrskCPU.Round(10*time.Millisecond), r.simCPU.Round(10*time.Millisecond))
	}
	if n := ns[len(ns)-1]; n >= 4 {
		line, err := unreachableCheck(*bin, filepath.Join(work, "down"), n, *latency)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, line)
	}
	if *keep {
		fmt.Fprintf(stdout, "work directory: %s\n--- mrsk output of the last run ---\n%s", work, last)
	}
	return nil
}

// unreachableCheck deploys to n hosts of which 3 refuse connections: mrsk
// must fail naming the 3, with nothing changed on any host.
func unreachableCheck(bin, dir string, n int, latency time.Duration) (string, error) {
	key := filepath.Join(dir, "id_ed25519")
	pub, err := fleetsim.NewClientKey(key)
	if err != nil {
		return "", err
	}
	down := []int{n / 4, n / 2, 3 * n / 4}
	fleet, err := fleetsim.Start(fleetsim.Options{Hosts: n, Dir: filepath.Join(dir, "hosts"), Latency: latency, ClientKey: pub, Down: down})
	if err != nil {
		return "", err
	}
	defer fleet.Close()
	proj, err := fleet.WriteProject(dir, key, "")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "deploy", "--skip-push", "--version", "v1")
	cmd.Dir = proj.Dir
	cmd.Env = append(os.Environ(), proj.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if cmd.Run() == nil {
		return "", fmt.Errorf("%d hosts, 3 down: the deploy succeeded:\n%s", n, out.Bytes())
	}
	wall := time.Since(start)
	var names []string
	for _, i := range down {
		a := fleetsim.Address(i)
		if !bytes.Contains(out.Bytes(), []byte(a+":")) {
			return "", fmt.Errorf("%d hosts, 3 down: the error does not name %s:\n%s", n, a, out.Bytes())
		}
		names = append(names, a)
	}
	for _, h := range fleet.Hosts() {
		if _, err := os.Stat(filepath.Join(h.Dir(), ".mrsk")); err == nil || len(h.Containers()) > 0 {
			return "", fmt.Errorf("%d hosts, 3 down: %s was changed:\n%s", n, h.Addr(), out.Bytes())
		}
	}
	return fmt.Sprintf("%d hosts with 3 refusing connections: the deploy failed in %s naming %s, and no host was changed",
		n, wall.Round(time.Millisecond), strings.Join(names, ", ")), nil
}

func benchOne(bin, dir string, n int, latency time.Duration, runs int) (result, []byte, error) {
	r := result{hosts: n}
	key := filepath.Join(dir, "id_ed25519")
	pub, err := fleetsim.NewClientKey(key)
	if err != nil {
		return r, nil, err
	}
	fleet, err := fleetsim.Start(fleetsim.Options{Hosts: n, Dir: filepath.Join(dir, "hosts"), Latency: latency, ClientKey: pub})
	if err != nil {
		return r, nil, err
	}
	defer fleet.Close()
	proj, err := fleet.WriteProject(dir, key, "")
	if err != nil {
		return r, nil, err
	}
	deploy := func(version string) (time.Duration, *os.ProcessState, []byte, error) {
		cmd := exec.Command(bin, "deploy", "--skip-push", "--version", version)
		cmd.Dir = proj.Dir
		cmd.Env = append(os.Environ(), proj.Env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		return time.Since(start), cmd.ProcessState, out.Bytes(), err
	}
	first, _, out, err := deploy("v1")
	if err != nil {
		return r, out, fmt.Errorf("deploy v1: %w", err)
	}
	r.first = first
	for i := 0; i < runs; i++ {
		fleet.ResetStats()
		version := fmt.Sprintf("v%d", i+2)
		before := selfCPU()
		wall, st, o, err := deploy(version)
		sim := selfCPU() - before
		out = o
		if err != nil {
			return r, out, fmt.Errorf("deploy %s: %w", version, err)
		}
		ru, _ := st.SysUsage().(*syscall.Rusage)
		if r.wall == 0 || wall < r.wall {
			r.wall, r.simCPU = wall, sim
			if ru != nil {
				r.mrskCPU = cpu(ru)
			}
		}
		if ru != nil {
			r.rssKB = max(r.rssKB, ru.Maxrss) // kilobytes on Linux
		}
		var handshakes, cmds int64
		for _, s := range fleet.Stats() {
			handshakes += s.Handshakes
			r.maxConns = max(r.maxConns, s.Handshakes)
			cmds += s.Commands
		}
		r.handshakes = max(r.handshakes, handshakes)
		r.cmdsPerHost = float64(cmds) / float64(n)
		r.lines = bytes.Count(out, []byte("\n"))
	}
	return r, out, nil
}

func cpu(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfCPU is the CPU this process (the simulator) has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return cpu(&ru)
}

func serve(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	latency := fs.Duration("latency", 100*time.Millisecond, "simulated latency before each command")
	dir := fs.String("dir", "", "work directory (default: a new temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ns, err := hostCounts(fs.Args())
	if err != nil || len(ns) != 1 {
		return errors.New("usage: fleetsim serve [-latency D] [-dir DIR] N")
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "fleetsim-"); err != nil {
			return err
		}
	}
	key := filepath.Join(*dir, "id_ed25519")
	pub, err := fleetsim.NewClientKey(key)
	if err != nil {
		return err
	}
	fleet, err := fleetsim.Start(fleetsim.Options{Hosts: ns[0], Dir: filepath.Join(*dir, "hosts"), Latency: *latency, ClientKey: pub})
	if err != nil {
		return err
	}
	defer fleet.Close()
	proj, err := fleet.WriteProject(*dir, key, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d simulated hosts on port %d (%s ... %s); host files under %s\n", ns[0], fleet.Port(),
		fleetsim.Address(0), fleetsim.Address(ns[0]-1), filepath.Join(*dir, "hosts"))
	fmt.Fprintf(stdout, "try: cd %s && env %s mrsk deploy --skip-push --version v1\n", proj.Dir, strings.Join(proj.Env, " "))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	for i, s := range fleet.Stats() {
		fmt.Fprintf(stdout, "%s: %d handshakes, %d commands, %d dials\n", fleetsim.Address(i), s.Handshakes, s.Commands, s.Dials)
	}
	return nil
}
