package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
}

const (
	maxLoadTime     = 3 * time.Minute
	maxLoadRequests = 500_000
)

// client sends the requests over keep-alive connections (for HTTPS, verified
// against opts' root): a deploy must not break a connection a client holds.
func startLoad(url string, workers int, client *http.Client, opts httpOpts) *loadGen {
	ctx, cancel := context.WithTimeout(context.Background(), maxLoadTime)
	g := &loadGen{cancel: cancel}
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
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 200 && resp.StatusCode < 300 {
						g.ok.Add(1)
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
// requests were made, prints the counts, and fails on any failed request or
// on fewer than MIN. An https URL is verified against -root (pebble's root:
// `pebble root FILE`); -resolve dials a name the test process cannot resolve.
func loadCmd() func(ts *testscript.TestScript, neg bool, args []string) {
	var mu sync.Mutex
	gens := map[string]*loadGen{}
	return func(ts *testscript.TestScript, neg bool, args []string) {
		opts, args, err := parseHTTPArgs(args, "-resolve", "-root", "-host")
		if err != nil || len(args) < 3 {
			ts.Fatalf("usage: load start NAME URL [WORKERS] [-resolve NAME:IP] [-root FILE] [-host NAME] | load stop NAME MIN (%v)", err)
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
			for _, e := range g.errs {
				fmt.Fprintf(ts.Stdout(), "  %s\n", e)
			}
			bad := g.failed.Load() > 0 || g.total.Load() < int64(min)
			if bad != neg {
				ts.Fatalf("load %s: %d requests (want >= %d), %d failed", args[1], g.total.Load(), min, g.failed.Load())
			}
		default:
			ts.Fatalf("load: unknown action %q", args[0])
		}
	}
}
