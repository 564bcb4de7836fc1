package main

// HTTPS test commands: clients that verify certificates against pebble's
// root (never InsecureSkipVerify), and what pebble's log says it issued.
//
// The test process does not use the sandbox DNS (only the hosts do), so a
// test name such as app.test reaches a host through -resolve NAME:IP, like
// curl --resolve: the URL, the Host header and the TLS server name stay the
// name, only the dial goes to IP.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// httpOpts are the flags shared by httpget, httpsget and load start.
type httpOpts struct {
	resolve    map[string]string // host name -> IP to dial instead
	rootFile   string            // PEM roots to verify against; "" = the system's
	host       string            // Host header (and TLS server name)
	noRedirect bool
}

// parseHTTPArgs separates the flags (anywhere among the arguments) from the
// positional arguments. allowed names the flags the command takes.
func parseHTTPArgs(args []string, allowed ...string) (httpOpts, []string, error) {
	o := httpOpts{resolve: map[string]string{}}
	var rest []string
	ok := func(f string) bool {
		for _, a := range allowed {
			if a == f {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || len(a) == 1 {
			rest = append(rest, a)
			continue
		}
		if !ok(a) {
			return o, nil, fmt.Errorf("unknown flag %s", a)
		}
		if a == "-noredirect" {
			o.noRedirect = true
			continue
		}
		if i+1 >= len(args) {
			return o, nil, fmt.Errorf("flag %s needs a value", a)
		}
		i++
		v := args[i]
		switch a {
		case "-resolve":
			name, ip, found := strings.Cut(v, ":")
			if !found || name == "" || net.ParseIP(ip) == nil {
				return o, nil, fmt.Errorf("-resolve %q: want NAME:IP", v)
			}
			o.resolve[strings.ToLower(name)] = ip
		case "-root":
			o.rootFile = v
		case "-host":
			o.host = v
		}
	}
	return o, rest, nil
}

// transport dials o.resolve's names at their IPs and verifies TLS against
// o.rootFile. Keep-alive stays on: the load generator measures what a
// long-lived client connection sees during a deploy.
func (o httpOpts) transport(ts *testscript.TestScript, maxIdle int) *http.Transport {
	tc := &tls.Config{ServerName: o.host}
	if o.rootFile != "" {
		pemData, err := os.ReadFile(ts.MkAbs(o.rootFile))
		ts.Check(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			ts.Fatalf("%s: no PEM certificate", o.rootFile)
		}
		tc.RootCAs = pool
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	resolve := o.resolve
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if h, port, err := net.SplitHostPort(addr); err == nil {
				if ip, ok := resolve[strings.ToLower(h)]; ok {
					addr = net.JoinHostPort(ip, port)
				}
			}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: maxIdle,
	}
}

func (o httpOpts) client(ts *testscript.TestScript, maxIdle int) *http.Client {
	c := &http.Client{Timeout: 10 * time.Second, Transport: o.transport(ts, maxIdle)}
	if o.noRedirect {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

func (o httpOpts) newRequest(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil && o.host != "" {
		req.Host = o.host
	}
	return req, err
}

// certLine describes the certificate a server presented, for scenarios to
// match: "cert CN=app.test SAN=app.test issuer=Pebble Intermediate CA 1a2b3c".
func certLine(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "cert none"
	}
	c := cs.PeerCertificates[0]
	sans := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	return fmt.Sprintf("cert CN=%s SAN=%s issuer=%s", c.Subject.CommonName, strings.Join(sans, ","), c.Issuer.CommonName)
}

// getCmd is httpget (plain, retries 5 s) and httpsget (prints the served
// certificate, retries 10 s, as a fresh Traefik serves its default
// certificate until its ACME order completes: see retryable).
func getCmd(name string, retry time.Duration, printCert bool) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		o, rest, err := parseHTTPArgs(args, "-resolve", "-root", "-host", "-noredirect")
		if err != nil || len(rest) != 1 {
			ts.Fatalf("usage: %s [-resolve NAME:IP] [-root FILE] [-host NAME] [-noredirect] URL (%v)", name, err)
		}
		url := rest[0]
		client := o.client(ts, 1)
		defer client.CloseIdleConnections()
		var lastErr error
		for deadline := time.Now().Add(retry); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			req, err := o.newRequest(context.Background(), url)
			ts.Check(err)
			resp, err := client.Do(req)
			if err != nil {
				lastErr = err
				if !retryable(err) {
					break
				}
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if o.noRedirect && resp.StatusCode >= 300 && resp.StatusCode < 400 {
				fmt.Fprintf(ts.Stdout(), "%d %s\n", resp.StatusCode, resp.Header.Get("Location"))
				if neg {
					ts.Fatalf("GET %s: %s", url, resp.Status)
				}
				return
			}
			ts.Stdout().Write(body)
			if printCert {
				if len(body) > 0 && !bytes.HasSuffix(body, []byte("\n")) {
					fmt.Fprintln(ts.Stdout())
				}
				fmt.Fprintln(ts.Stdout(), certLine(resp.TLS))
			}
			ok := resp.StatusCode >= 200 && resp.StatusCode < 300
			if ok == neg {
				ts.Fatalf("GET %s: %s", url, resp.Status)
			}
			return
		}
		if !neg {
			ts.Fatalf("GET %s: %v", url, lastErr)
		}
	}
}

// traefikDefaultCN is the subject of the certificate Traefik serves for a
// name it has no certificate for (yet).
const traefikDefaultCN = "TRAEFIK DEFAULT CERT"

// retryable says whether a failed request may pass if tried again soon: a
// connection error (Traefik starting, a port not yet published), or
// Traefik's default certificate while its ACME order is under way. Any
// other certificate that does not verify fails at once.
func retryable(err error) bool {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return len(cv.UnverifiedCertificates) > 0 && cv.UnverifiedCertificates[0].Subject.CommonName == traefikDefaultCN
	}
	var he x509.HostnameError
	if errors.As(err, &he) {
		return he.Certificate != nil && he.Certificate.Subject.CommonName == traefikDefaultCN
	}
	return true
}

// ---------------------------------------------------------------- pebble

// pebbleEnv is where the sandbox's pebble is ($STATE/env, else defaults).
func pebbleEnv(ts *testscript.TestScript) (mgmt, listenerCA, logFile string) {
	get := func(k, def string) string {
		if v := ts.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return get("MRSK_SANDBOX_ACME_MANAGEMENT", "https://10.77.0.1:15000"),
		get("MRSK_SANDBOX_ACME_CA_LOCAL", filepath.Join(sandboxState(), "pebble", "ca.pem")),
		get("MRSK_SANDBOX_PEBBLE_LOG", filepath.Join(sandboxState(), "pebble.log"))
}

// pebbleMarkEnv holds the pebble log's size when the scenario started (or
// at the last `pebble mark`): `pebble orders` counts only what came after.
const pebbleMarkEnv = "PEBBLE_LOG_MARK"

// markPebbleLog is called by setup, before a scenario's first command.
func markPebbleLog(e *testscript.Env) {
	f := e.Getenv("MRSK_SANDBOX_PEBBLE_LOG")
	if f == "" {
		return
	}
	if st, err := os.Stat(f); err == nil {
		e.Setenv(pebbleMarkEnv, fmt.Sprint(st.Size()))
	}
}

// pebbleEvents is what pebble's log says happened for ACME orders.
type pebbleEvents struct {
	// validations: one per challenge pebble validated, by identifier. With
	// PEBBLE_AUTHZREUSE=0 (the sandbox) every new order for a name gets a new
	// authorization, so this counts the orders that reached validation.
	validations map[string]int
	// issued: serials of the certificates issued (finalized orders), in
	// order; the log does not name their names, the management API does.
	issued []string
}

var (
	// Pebble 2.4: `Pulled a task from the Tasks queue: &va.vaTask{Identifier:acme.Identifier{Type:"dns", Value:"app.test"}, ...`
	pebbleTaskRE = regexp.MustCompile(`Pulled a task from the Tasks queue: .*Identifier:acme\.Identifier\{Type:"[a-z]+", Value:"([^"]+)"\}`)
	// `Issued certificate serial 2d80e533499e6ed2 for order fC9OPcXk...`
	pebbleIssuedRE = regexp.MustCompile(`Issued certificate serial ([0-9a-f]+) for order (\S+)`)
)

func parsePebbleLog(b []byte) pebbleEvents {
	ev := pebbleEvents{validations: map[string]int{}}
	for _, line := range strings.Split(string(b), "\n") {
		if m := pebbleTaskRE.FindStringSubmatch(line); m != nil {
			ev.validations[strings.ToLower(m[1])]++
		} else if m := pebbleIssuedRE.FindStringSubmatch(line); m != nil {
			ev.issued = append(ev.issued, m[1])
		}
	}
	return ev
}

// countFor counts the validations and certificates for name; names gives a
// certificate's names by serial.
func (ev pebbleEvents) countFor(name string, names func(serial string) ([]string, error)) (orders, certs int, err error) {
	name = strings.ToLower(name)
	for _, s := range ev.issued {
		ns, err := names(s)
		if err != nil {
			return 0, 0, err
		}
		for _, n := range ns {
			if strings.ToLower(n) == name {
				certs++
				break
			}
		}
	}
	return ev.validations[name], certs, nil
}

// pebbleClient talks to the management API, trusting the listener's CA.
func pebbleClient(ts *testscript.TestScript) (*http.Client, string) {
	mgmt, ca, _ := pebbleEnv(ts)
	o := httpOpts{rootFile: ca}
	return &http.Client{Timeout: 10 * time.Second, Transport: o.transport(ts, 1)}, mgmt
}

func pebbleGet(ts *testscript.TestScript, path string) ([]byte, error) {
	c, mgmt := pebbleClient(ts)
	defer c.CloseIdleConnections()
	resp, err := c.Get(mgmt + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, err
}

// certNames reads the names of the certificate with serial through
// pebble's management API (/cert-status-by-serial/).
func certNames(ts *testscript.TestScript, serial string) ([]string, error) {
	b, err := pebbleGet(ts, "/cert-status-by-serial/"+serial)
	if err != nil {
		return nil, err
	}
	var st struct{ Certificate string }
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("cert-status-by-serial/%s: %v", serial, err)
	}
	blk, _ := pem.Decode([]byte(st.Certificate))
	if blk == nil {
		return nil, fmt.Errorf("cert-status-by-serial/%s: no PEM certificate", serial)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return append([]string{c.Subject.CommonName}, c.DNSNames...), nil
}

// pebbleCmd: `pebble root FILE`, `pebble mark`, `pebble orders NAME`.
func pebbleCmd() func(ts *testscript.TestScript, neg bool, args []string) {
	var mu sync.Mutex
	names := map[string][]string{} // serial -> names; pebble never reissues a serial
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg {
			ts.Fatalf("pebble does not take !")
		}
		usage := "usage: pebble root FILE | pebble mark | pebble orders NAME"
		if len(args) == 0 {
			ts.Fatalf("%s", usage)
		}
		switch {
		case args[0] == "root" && len(args) == 2:
			// The root that issued certificates chain to; pebble makes a new
			// one at every start, so scenarios fetch it, never keep it.
			b, err := pebbleGet(ts, "/roots/0")
			ts.Check(err)
			if blk, _ := pem.Decode(b); blk == nil || blk.Type != "CERTIFICATE" {
				ts.Fatalf("pebble /roots/0: not a PEM certificate: %.100q", b)
			}
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
		case args[0] == "mark" && len(args) == 1:
			_, _, logFile := pebbleEnv(ts)
			st, err := os.Stat(logFile)
			ts.Check(err)
			ts.Setenv(pebbleMarkEnv, fmt.Sprint(st.Size()))
		case args[0] == "orders" && len(args) == 2:
			_, _, logFile := pebbleEnv(ts)
			b, err := os.ReadFile(logFile)
			ts.Check(err)
			from, _ := strconv.Atoi(ts.Getenv(pebbleMarkEnv))
			if from > len(b) {
				from = 0 // a new log: everything in it is new
			}
			ev := parsePebbleLog(b[from:])
			orders, certs, err := ev.countFor(args[1], func(serial string) ([]string, error) {
				mu.Lock()
				ns, ok := names[serial]
				mu.Unlock()
				if ok {
					return ns, nil
				}
				ns, err := certNames(ts, serial)
				if err != nil {
					return nil, err
				}
				mu.Lock()
				names[serial] = ns
				mu.Unlock()
				return ns, nil
			})
			if err != nil {
				ts.Fatalf("pebble orders: %v", errors.Join(err, errors.New("(was pebble restarted since the issuance?)")))
			}
			fmt.Fprintf(ts.Stdout(), "%s: orders %d, certificates %d\n", args[1], orders, certs)
		default:
			ts.Fatalf("%s", usage)
		}
	}
}

// A real pebble 2.4 log (sandbox, Traefik 3.6 on h1 ordering app.test), plus
// a second order for two names and a failed validation.
const pebbleLogSample = `Pebble 2026/11/30 03:42:57 POST /order-plz -> calling handler()
Pebble 2026/11/30 03:42:57 There are now 1 authorizations in the db
Pebble 2026/11/30 03:42:57 Added order "fC9OPcXkwQo3rnaYuMfso__9LQAR2Npyeu0dYnr3vaQ" to the db
Pebble 2026/11/30 03:42:57 There are now 1 orders in the db
Pebble 2026/11/30 03:42:57 POST /chalZ/ -> calling handler()
Pebble 2026/11/30 03:42:57 Pulled a task from the Tasks queue: &va.vaTask{Identifier:acme.Identifier{Type:"dns", Value:"app.test"}, Challenge:(*core.Challenge)(0xc0001ae1e0), Account:(*core.Account)(0xc0001a15c0)}
Pebble 2026/11/30 03:42:57 Starting 3 validations.
Pebble 2026/11/30 03:42:57 Attempting to validate w/ HTTP: http://app.test:80/.well-known/acme-challenge/5WSMN41axezWlusg6K14uPpyiAXQYxEiJq7Vzctq-aw
Pebble 2026/11/30 03:42:57 authz 4S7hRUQE2cdy8w9ECYJagXMuMQ4rKUMcG-LxeGlZgFQ set VALID by completed challenge v5nA_bvBinyOCRDr-CW3wz1SThV8432NjnggazKupwk
Pebble 2026/11/30 03:42:58 Order fC9OPcXkwQo3rnaYuMfso__9LQAR2Npyeu0dYnr3vaQ is fully authorized. Processing finalization
Pebble 2026/11/30 03:42:58 Issued certificate serial 2d80e533499e6ed2 for order fC9OPcXkwQo3rnaYuMfso__9LQAR2Npyeu0dYnr3vaQ
Pebble 2026/11/30 03:50:01 Pulled a task from the Tasks queue: &va.vaTask{Identifier:acme.Identifier{Type:"dns", Value:"App.Test"}, Challenge:(*core.Challenge)(0xc0001ae1e0), Account:(*core.Account)(0xc0001a15c0)}
Pebble 2026/11/30 03:50:01 Pulled a task from the Tasks queue: &va.vaTask{Identifier:acme.Identifier{Type:"dns", Value:"www.app.test"}, Challenge:(*core.Challenge)(0xc0001ae1e0), Account:(*core.Account)(0xc0001a15c0)}
Pebble 2026/11/30 03:50:02 Issued certificate serial 0a1b for order XYZ
Pebble 2026/11/30 03:51:00 Pulled a task from the Tasks queue: &va.vaTask{Identifier:acme.Identifier{Type:"dns", Value:"other.test"}, Challenge:(*core.Challenge)(0xc0001ae1e0), Account:(*core.Account)(0xc0001a15c0)}
Pebble 2026/11/30 03:51:00 authz abc set INVALID by completed challenge def
`

func TestParsePebbleLog(t *testing.T) {
	ev := parsePebbleLog([]byte(pebbleLogSample))
	if got, want := fmt.Sprint(ev.validations), "map[app.test:2 other.test:1 www.app.test:1]"; got != want {
		t.Errorf("validations = %s, want %s", got, want)
	}
	if got, want := strings.Join(ev.issued, " "), "2d80e533499e6ed2 0a1b"; got != want {
		t.Errorf("issued = %s, want %s", got, want)
	}
	certs := map[string][]string{"2d80e533499e6ed2": {"app.test", "app.test"}, "0a1b": {"app.test", "app.test", "www.app.test"}}
	lookup := func(s string) ([]string, error) { return certs[s], nil }
	for _, c := range []struct {
		name          string
		orders, certs int
	}{{"app.test", 2, 2}, {"APP.test", 2, 2}, {"www.app.test", 1, 1}, {"other.test", 1, 0}, {"none.test", 0, 0}} {
		o, n, err := ev.countFor(c.name, lookup)
		if err != nil || o != c.orders || n != c.certs {
			t.Errorf("countFor(%s) = %d, %d, %v; want %d, %d", c.name, o, n, err, c.orders, c.certs)
		}
	}
	if _, _, err := ev.countFor("app.test", func(string) ([]string, error) { return nil, errors.New("gone") }); err == nil {
		t.Error("countFor: a failed lookup must be an error, not a zero count")
	}
	if ev := parsePebbleLog(nil); len(ev.validations) != 0 || len(ev.issued) != 0 {
		t.Errorf("empty log: %+v", ev)
	}
}

func TestParseHTTPArgs(t *testing.T) {
	o, rest, err := parseHTTPArgs([]string{"a1", "-resolve", "App.test:10.77.0.12", "https://app.test/", "8", "-root", "root.pem"}, "-resolve", "-root")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rest, " ") != "a1 https://app.test/ 8" || o.resolve["app.test"] != "10.77.0.12" || o.rootFile != "root.pem" {
		t.Errorf("got %+v %q", o, rest)
	}
	o, rest, err = parseHTTPArgs([]string{"-noredirect", "-host", "app.test", "http://10.77.0.11/"}, "-host", "-noredirect")
	if err != nil || !o.noRedirect || o.host != "app.test" || len(rest) != 1 {
		t.Errorf("got %+v %q %v", o, rest, err)
	}
	for _, bad := range [][]string{{"-root"}, {"-resolve", "app.test"}, {"-resolve", "app.test:nope"}, {"-host", "x", "u"}} {
		if _, _, err := parseHTTPArgs(bad, "-resolve", "-root"); err == nil {
			t.Errorf("parseHTTPArgs(%q): no error", bad)
		}
	}
}
