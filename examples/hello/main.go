// Command hello is the example app deployed by the README's demo.
//
//	GET /           "hello from <MRSK_VERSION or dev> on <hostname>\n"; with
//	                FAIL_RATE=R (0..1) a share R of them answer 500 instead,
//	                spread evenly (a bad version for canary tests)
//	GET /up         200 "ok" once ready, 503 before (READY_DELAY, NEVER_READY=1)
//	GET /slow?ms=N  sleeps N ms, then 200
//	GET /env/NAME   the sha256 (hex) of env var NAME, so tests can check a
//	                secret arrived without the app ever printing it
//	GET /fetch?url=U GETs U from inside the container and returns its body
//	                (shows the app reaches an accessory over the network)
//	GET /assets/F   the file F of /assets (ASSETS_DIR overrides), if the
//	                image has one: a stand-in for fingerprinted assets
//
// It listens on :3000 (PORT overrides). On SIGTERM it stops accepting, lets
// in-flight requests finish (up to 30s) and exits 0. CRASH=1 makes it exit 1 at start.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("hello: ")
	if os.Getenv("CRASH") == "1" {
		log.Print("CRASH=1: exiting with status 1")
		os.Exit(1)
	}

	version := os.Getenv("MRSK_VERSION")
	if version == "" {
		version = "dev"
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	var readyDelay time.Duration
	if v := os.Getenv("READY_DELAY"); v != "" {
		readyDelay, err = time.ParseDuration(v)
		if err != nil {
			log.Fatalf("READY_DELAY=%q: %v", v, err)
		}
	}
	neverReady := os.Getenv("NEVER_READY") == "1"
	var failRate float64
	if v := os.Getenv("FAIL_RATE"); v != "" {
		failRate, err = strconv.ParseFloat(v, 64)
		if err != nil || failRate < 0 || failRate > 1 {
			log.Fatalf("FAIL_RATE=%q: want a share between 0 and 1", v)
		}
	}
	var served atomic.Int64

	var ready atomic.Bool
	if !neverReady {
		if readyDelay <= 0 {
			ready.Store(true)
		} else {
			time.AfterFunc(readyDelay, func() {
				ready.Store(true)
				log.Print("ready")
			})
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// Request n fails when the running count of failures due, n*R,
		// passes a whole number: exactly R of them, evenly spread.
		if n := served.Add(1); int64(float64(n)*failRate) > int64(float64(n-1)*failRate) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "failing from %s on %s (FAIL_RATE=%g)\n", version, hostname, failRate)
			return
		}
		fmt.Fprintf(w, "hello from %s on %s\n", version, hostname)
	})
	mux.HandleFunc("GET /up", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "not ready")
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /env/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := os.LookupEnv(r.PathValue("name"))
		if !ok {
			http.Error(w, "unset", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%x\n", sha256.Sum256([]byte(v)))
	})
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	assets := os.Getenv("ASSETS_DIR")
	if assets == "" {
		assets = "/assets"
	}
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(http.Dir(assets))))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms := 500
		if v := r.URL.Query().Get("ms"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
				return
			}
			ms = n
		}
		// Deliberately not cut short by the client or by shutdown: an in-flight
		// request must finish during a graceful stop.
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "slept %dms on %s\n", ms, hostname)
	})

	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("version %s on %s listening on :%s (ready delay %s, never ready %v, fail rate %g)", version, hostname, port, readyDelay, neverReady, failRate)

	select {
	case err := <-errc:
		log.Fatalf("serve: %v", err)
	case sig := <-stop:
		log.Printf("%s: shutting down, finishing in-flight requests", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
		os.Exit(1)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("serve: %v", err)
	}
	log.Print("stopped")
}
