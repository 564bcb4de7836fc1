package builtins

// HTTPS with traefik.tls. With ACME, several web hosts serve one name, but
// the ACME server checks a name on whichever host DNS (or the load
// balancer) picks. So one Traefik orders the certificate, on the TLS
// primary (config.TLSPrimary): every other web host forwards the HTTP-01
// challenge path there (acmeRouteFile), and gets a copy of the certificate
// and key in its file provider's TLS store (tlsFile), copied by tls_sync on
// every deploy and by `mrsk traefik certs`. The primary's Traefik renews
// on its own 30 days before expiry; the copies follow at the next sync.

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.yaml.in/yaml/v3"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/traefik"
)

const (
	// acmeStateDir is acme.json's directory on the TLS primary: outside
	// the route directory, kept by traefik reboot and remove.
	acmeStateDir = stateDir + "/traefik/acme"
	// tlsFile holds the certificate and key Traefik serves on hosts that
	// do not order it (0600; it holds a private key).
	tlsFile = routeDir + "/_mrsk_tls.yml"
	// acmeRouteFile forwards the ACME challenge to the TLS primary.
	acmeRouteFile = routeDir + "/_mrsk_acme.yml"
)

// certExpiryWarning is how close to expiry a served certificate makes
// tls_sync warn: Traefik renews 30 days before, so less means renewal
// is failing on the primary.
const certExpiryWarning = 21 * 24 * time.Hour

// tlsEnsureScript is the part of traefik_ensure that lays out TLS files on
// host: acme.json's directory on the primary, the challenge forward on the
// others (removed when not wanted, so turning ACME off cleans up).
func (rt *Runtime) tlsEnsureScript(host string) string {
	t := rt.Config.Traefik.TLS
	primary := rt.Config.TLSPrimary()
	var s []string
	switch {
	case primary == "":
		s = append(s, join("rm", "-f", acmeRouteFile))
	case host == primary:
		s = append(s, "umask 077 && mkdir -p "+quote(acmeStateDir), join("rm", "-f", acmeRouteFile))
	default:
		s = append(s, writeIfChangedScript(acmeRouteFile, challengeRoute(hostAddress(primary), rt.Config.Traefik.HostPort)))
	}
	if t == nil {
		s = append(s, join("rm", "-f", tlsFile))
	}
	return strings.Join(s, "; ")
}

// writeIfChangedScript writes content (no secrets: it is in the command
// line) to p, touching p only when it changes: Traefik reloads on a write.
func writeIfChangedScript(p, content string) string {
	tmp := staged(p)
	return fmt.Sprintf("mkdir -p %s && printf '%%s' %s > %s && { cmp -s %s %s && rm -f %s || mv %s %s; }",
		quote(stageDir), quote(content), quote(tmp), quote(tmp), quote(p), quote(tmp), quote(tmp), quote(p))
}

// challengeRoute sends every ACME HTTP-01 request to the primary's
// Traefik, whose challenge handler knows the token; it outranks any
// router of the app, including a redirect to HTTPS. JSON (which is YAML)
// on one line: it travels in the command line and shows in plans.
func challengeRoute(primary string, port int) string {
	const name = "mrsk_acme_challenge"
	type obj = map[string]any
	b, err := json.Marshal(obj{"http": obj{
		"routers": obj{name: obj{"rule": "PathPrefix(`/.well-known/acme-challenge/`)", "entryPoints": []string{"web"},
			"priority": 2147483000, "service": name}},
		"services": obj{name: obj{"loadBalancer": obj{"passHostHeader": true,
			"servers": []obj{{"url": "http://" + net.JoinHostPort(primary, fmt.Sprint(port))}}}}},
	}})
	if err != nil {
		panic(err) // plain values: cannot fail
	}
	return string(b)
}

// hostAddress is the network address in a host of servers
// ([user@]host[:ssh port], IPv6 maybe bracketed).
func hostAddress(h string) string {
	h = strings.TrimPrefix(h, "ssh://")
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[1:end]
		}
	}
	if strings.Count(h, ":") == 1 {
		h, _, _ = strings.Cut(h, ":")
	}
	return h
}

// tlsStoreFile is the dynamic configuration that makes Traefik serve cert
// and key (PEM) for the names they cover, and by default (a client without
// SNI). Traefik takes the PEM itself where a file name would go.
func tlsStoreFile(cert, key []byte) []byte {
	type pair struct {
		CertFile string `yaml:"certFile"`
		KeyFile  string `yaml:"keyFile"`
	}
	p := pair{string(cert), string(key)}
	var doc struct {
		TLS struct {
			Certificates []pair `yaml:"certificates"`
			Stores       struct {
				Default struct {
					DefaultCertificate pair `yaml:"defaultCertificate"`
				} `yaml:"default"`
			} `yaml:"stores"`
		} `yaml:"tls"`
	}
	doc.TLS.Certificates = []pair{p}
	doc.TLS.Stores.Default.DefaultCertificate = p
	b, err := yaml.Marshal(&doc)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return append([]byte("# Written by mrsk: do not edit, the next deploy rewrites it.\n"), b...)
}

// acmeCert is one certificate in Traefik's acme.json.
type acmeCert struct {
	Domain struct {
		Main string   `json:"main"`
		SANs []string `json:"sans"`
	} `json:"domain"`
	Certificate []byte `json:"certificate"` // PEM chain (base64 in the file)
	Key         []byte `json:"key"`
}

// acmeCertificate finds in acme.json (resolver's part) the certificate
// that covers every name in hosts, the one that expires last; nil when
// there is none yet.
func acmeCertificate(data []byte, resolver string, hosts []string) (cert, key []byte, notAfter time.Time, err error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil, time.Time{}, nil
	}
	var file map[string]struct {
		Certificates []acmeCert `json:"Certificates"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("acme.json: %w", err)
	}
	for _, c := range file[resolver].Certificates {
		leaf, err := leafOf(c.Certificate)
		if err != nil || !covers(leaf, hosts) || leaf.NotAfter.Before(notAfter) {
			continue
		}
		cert, key, notAfter = c.Certificate, c.Key, leaf.NotAfter
	}
	return cert, key, notAfter, nil
}

func leafOf(chain []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(chain)
	if block == nil {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func covers(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// tls_sync(hosts, wait=0, required=False) installs the certificate of
// traefik.tls on hosts: the project's own on every host, or, with ACME,
// the one the TLS primary's Traefik obtained on every other host. With
// ACME it waits up to wait for the primary to have it; without one then,
// it warns (or fails when required). Returns the hosts it changed.
func bTLSSync(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var hosts *starlark.List
	var wait duration
	required := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "hosts", &hosts, "wait?", &wait, "required?", &required); err != nil {
		return nil, err
	}
	waitFor := time.Duration(wait)
	var err error
	tlsConf := rt.Config.Traefik.TLS
	if tlsConf == nil {
		return starlark.NewList(nil), nil
	}
	var targets []string
	for i := 0; i < hosts.Len(); i++ {
		h, ok := starlark.AsString(hosts.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: hosts must be strings", b.Name())
		}
		targets = append(targets, h)
	}
	var cert, key []byte
	var notAfter time.Time
	primary := rt.Config.TLSPrimary()
	if tlsConf.Certificate != nil {
		cert, key = tlsConf.Certificate.PEM, []byte(tlsConf.Certificate.Key.Reveal())
		if leaf, err := leafOf(cert); err == nil {
			notAfter = leaf.NotAfter
		}
	} else {
		var others []string
		for _, h := range targets {
			if h != primary {
				others = append(others, h)
			}
		}
		if len(others) == 0 {
			return starlark.NewList(nil), nil
		}
		targets = others
		cert, key, notAfter, err = rt.primaryCertificate(t, primary, tlsConf, waitFor)
		if err != nil {
			return nil, err
		}
		if cert == nil {
			if rt.Exec.DryRun() {
				return starlark.NewList(nil), nil
			}
			msg := fmt.Sprintf("Traefik on %s has no certificate for %s yet: %s serve HTTPS with it once it has (run `mrsk traefik certs`; `mrsk traefik logs` shows why it waits)",
				primary, strings.Join(tlsConf.Hosts, ", "), strings.Join(others, ", "))
			if required {
				return nil, fmt.Errorf("%s", msg)
			}
			rt.Out.Line(primary, "WARNING: "+msg)
			return starlark.NewList(nil), nil
		}
	}
	if !notAfter.IsZero() && time.Until(notAfter) < certExpiryWarning {
		rt.Out.Line(primary, fmt.Sprintf("WARNING: the certificate for %s expires %s", strings.Join(tlsConf.Hosts, ", "), notAfter.Format(time.DateOnly)))
	}
	content := tlsStoreFile(cert, key)
	// Every host at once; each failure is reported, naming its host.
	updated := make([]bool, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, h := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := uploadIfChangedCommand(h, tlsFile, content)
			c.StdinNote = "[REDACTED certificate and key]"
			res, err := rt.run(t, c)
			if err != nil {
				errs[i] = fmt.Errorf("install the TLS certificate on %s: %w", h, err)
				return
			}
			if updated[i] = strings.TrimSpace(res.Stdout) == "updated"; updated[i] {
				rt.Out.Line(h, fmt.Sprintf("serves the certificate for %s (valid until %s)", strings.Join(tlsConf.Hosts, ", "), notAfter.Format(time.DateOnly)))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []starlark.Value
	for i, h := range targets {
		if updated[i] {
			out = append(out, starlark.String(h))
		}
	}
	return starlark.NewList(out), nil
}

// primaryCertificate reads acme.json on the TLS primary until it holds a
// certificate for every name, or wait ends (nil then).
func (rt *Runtime) primaryCertificate(t *starlark.Thread, primary string, c *config.TLS, wait time.Duration) (cert, key []byte, notAfter time.Time, err error) {
	deadline := time.Now().Add(wait)
	read := executor.Command{Host: primary, Line: "cat " + homePath(acmeStateDir+"/acme.json") + " 2>/dev/null || true",
		Display: "cat ~/" + acmeStateDir + "/acme.json (certificates: never printed)"}
	for {
		res, err := rt.run(t, read)
		if err != nil {
			return nil, nil, time.Time{}, fmt.Errorf("read the certificate on %s: %w", primary, err)
		}
		cert, key, notAfter, err = acmeCertificate([]byte(res.Stdout), traefik.Resolver, c.Hosts)
		if err != nil {
			return nil, nil, time.Time{}, fmt.Errorf("on %s: %w", primary, err)
		}
		if cert != nil || rt.Exec.DryRun() || time.Now().After(deadline) {
			return cert, key, notAfter, nil
		}
		select {
		case <-time.After(time.Second):
		case <-engineCtx(t).Done():
			return nil, nil, time.Time{}, engineCtx(t).Err()
		}
	}
}

// uploadIfChangedCommand writes content (on stdin) to p, mode 0600, and
// prints "updated" when p changed, "same" otherwise.
func uploadIfChangedCommand(host, p string, content []byte) executor.Command {
	tmp := staged(p)
	line := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && if cmp -s %s %s; then rm -f %s; echo same; else mv %s %s && echo updated; fi",
		quote(stageDir), quote(tmp), quote(tmp), quote(p), quote(tmp), quote(tmp), quote(p))
	return executor.Command{Host: host, Line: line, Stdin: content}
}
