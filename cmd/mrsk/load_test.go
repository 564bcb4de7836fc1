package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// loadGen sends requests in a loop to measure that a deploy drops none.
// It is bounded: it stops by itself after maxLoadTime or maxLoadRequests.
type loadGen struct {
	cancel            context.CancelFunc
	done              sync.WaitGroup
	total, ok, failed atomic.Int64
	mu                sync.Mutex
	errs              []string
	versions          map[string]int64 // ok answers by "hello from VERSION"
}

const (
	maxLoadTime     = 3 * time.Minute
	maxLoadRequests = 500_000
)

// client sends the requests over keep-alive connections (for HTTPS, verified
// against opts' root): a deploy must not break a connection a client holds.
func startLoad(url string, workers int, client *http.Client, opts httpOpts) *loadGen {
	ctx, cancel := context.WithTimeout(context.Background(), maxLoadTime)
	g := &loadGen{cancel: cancel, versions: map[string]int64{}}
	for i := 0; i < workers; i++ {
		g.done.Add(1)
		go func() {
			defer g.done.Done()
			for ctx.Err() == nil && g.total.Load() < maxLoadRequests {
				req, _ := opts.newRequest(ctx, url)
				resp, err := client.Do(req)
				if ctx.Err() != nil {
					return // stopped mid-request: not a failure of the server
				}
				g.total.Add(1)
				if err == nil {
					head := make([]byte, 128)
					n, _ := io.ReadFull(resp.Body, head)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 200 && resp.StatusCode < 300 {
						g.ok.Add(1)
						if f := strings.Fields(string(head[:n])); len(f) > 2 && f[0] == "hello" && f[1] == "from" {
							g.mu.Lock()
							g.versions[f[2]]++
							g.mu.Unlock()
						}
						continue
					}
					err = fmt.Errorf("%s", resp.Status)
				}
				g.failed.Add(1)
				g.mu.Lock()
				if len(g.errs) < 5 {
					g.errs = append(g.errs, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
				}
				g.mu.Unlock()
			}
		}()
	}
	return g
}

// loadCmd: `load start NAME URL [WORKERS] [-resolve NAME:IP] [-root FILE]
// [-host NAME]` and `load stop NAME MIN`. stop waits until at least MIN
// requests were made, prints the counts (and how many ok answers each
// "hello from VERSION" had), and fails on any failed request or on fewer
// than MIN; `load stop NAME MIN PCT%` allows up to PCT% failed. An https URL is verified against -root (pebble's root:
// `pebble root FILE`); -resolve dials a name the test process cannot resolve.
func loadCmd() func(ts *testscript.TestScript, neg bool, args []string) {
	var mu sync.Mutex
	gens := map[string]*loadGen{}
	return func(ts *testscript.TestScript, neg bool, args []string) {
		opts, args, err := parseHTTPArgs(args, "-resolve", "-root", "-host")
		if err != nil || len(args) < 3 {
			ts.Fatalf("usage: load start NAME URL [WORKERS] [-resolve NAME:IP] [-root FILE] [-host NAME] | load stop NAME MIN [MAXFAILED%%] (%v)", err)
		}
		key := fmt.Sprintf("%p/%s", ts, args[1])
		switch args[0] {
		case "start":
			workers := 8
			if len(args) > 3 {
				workers, err = strconv.Atoi(args[3])
				ts.Check(err)
			}
			client := &http.Client{Timeout: 10 * time.Second, Transport: opts.transport(ts, workers)}
			mu.Lock()
			gens[key] = startLoad(args[2], workers, client, opts)
			mu.Unlock()
		case "stop":
			min, err := strconv.Atoi(args[2])
			ts.Check(err)
			mu.Lock()
			g := gens[key]
			delete(gens, key)
			mu.Unlock()
			if g == nil {
				ts.Fatalf("no load named %s", args[1])
			}
			for deadline := time.Now().Add(time.Minute); g.total.Load() < int64(min) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			g.cancel()
			g.done.Wait()
			fmt.Fprintf(ts.Stdout(), "%s: %d requests, %d ok, %d failed\n", args[1], g.total.Load(), g.ok.Load(), g.failed.Load())
			if len(g.versions) > 0 {
				var seen []string
				for _, v := range slices.Sorted(maps.Keys(g.versions)) {
					seen = append(seen, fmt.Sprintf("%s=%d", v, g.versions[v]))
				}
				fmt.Fprintf(ts.Stdout(), "%s: versions %s\n", args[1], strings.Join(seen, " "))
			}
			for _, e := range g.errs {
				fmt.Fprintf(ts.Stdout(), "  %s\n", e)
			}
			bad := g.failed.Load() > 0 || g.total.Load() < int64(min)
			if len(args) > 3 {
				// A share of failures allowed: "1.5%" (a canary's).
				pct, err := strconv.ParseFloat(strings.TrimSuffix(args[3], "%"), 64)
				ts.Check(err)
				share := 100 * float64(g.failed.Load()) / float64(max(g.total.Load(), 1))
				fmt.Fprintf(ts.Stdout(), "%s: %.2f%% failed (at most %g%% allowed)\n", args[1], share, pct)
				bad = share > pct || g.total.Load() < int64(min)
			}
			if bad != neg {
				ts.Fatalf("load %s: %d requests (want >= %d), %d failed", args[1], g.total.Load(), min, g.failed.Load())
			}
		default:
			ts.Fatalf("load: unknown action %q", args[0])
		}
	}
}
