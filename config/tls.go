package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// tlsHostRE is a DNS name as a certificate names it: lowercase labels,
// optionally a leading "*." (own certificates only).
var tlsHostRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// tls reads traefik.tls. Everything a deploy needs is checked here, before
// any host is touched: the names, one source of certificate, the ACME
// e-mail, and that an own certificate exists, parses, matches its key and
// covers the names.
func (l *loader) tls(n *node, path string) *TLS {
	if isNull(n) {
		return nil
	}
	t := &TLS{}
	var hostsNode, certNode *node
	if !l.object(n, path, "a map with hosts, acme or certificate, and redirect", handlers{
		"hosts": func(v *node, p string) {
			hostsNode = v
			t.Hosts = l.stringList(v, p)
			for i, h := range t.Hosts {
				if !tlsHostRE.MatchString(h) {
					l.failf(v.items[i], indexPath(p, i), "must be a DNS name like app.example.com (lowercase, no scheme or port)")
					return
				}
			}
		},
		"acme": func(v *node, p string) { t.ACME = l.acme(v, p) },
		"certificate": func(v *node, p string) {
			certNode = v
			t.Certificate = l.tlsCertificate(v, p)
		},
		"redirect": func(v *node, p string) { t.Redirect, _ = l.boolean(v, p) },
	}) || l.err != nil {
		return nil
	}
	switch {
	case len(t.Hosts) == 0:
		at := hostsNode
		if at == nil {
			at = n
		}
		l.failf(at, joinPath(path, "hosts"), "is required: the names to serve over HTTPS, like [app.example.com]")
	case t.ACME == nil && t.Certificate == nil:
		l.failf(n, path, "needs acme (a certificate from Let's Encrypt or another ACME server) or certificate (your own)")
	case t.ACME != nil && t.Certificate != nil:
		l.failf(certNode, joinPath(path, "certificate"), "set either acme or certificate, not both")
	case t.ACME != nil:
		for i, h := range t.Hosts {
			if strings.HasPrefix(h, "*.") {
				l.failf(hostsNode.items[i], indexPath(joinPath(path, "hosts"), i), "a wildcard name needs a DNS challenge, which mrsk does not do: use your own certificate")
			}
		}
	default:
		l.checkCertificate(certNode, joinPath(path, "certificate"), t)
	}
	if l.err != nil {
		return nil
	}
	return t
}

func (l *loader) acme(n *node, path string) *ACME {
	a := &ACME{Challenge: "http"}
	if !l.object(n, path, "a map with email, ca_server and challenge", handlers{
		"email": func(v *node, p string) {
			a.Email = strings.TrimSpace(l.str(v, p))
			if _, err := mail.ParseAddress(a.Email); a.Email != "" && (err != nil || strings.ContainsAny(a.Email, "<> ")) {
				l.failf(v, p, "must be an e-mail address like ops@example.com")
			}
		},
		"ca_server": func(v *node, p string) {
			a.CAServer = strings.TrimSpace(l.str(v, p))
			if u, err := url.Parse(a.CAServer); err != nil || u.Scheme != "https" || u.Host == "" {
				l.failf(v, p, "must be the https:// URL of an ACME directory, like https://acme-staging-v02.api.letsencrypt.org/directory")
			}
		},
		"challenge": func(v *node, p string) {
			a.Challenge = strings.TrimSpace(l.str(v, p))
			if a.Challenge != "http" {
				l.failf(v, p, "must be http (HTTP-01 on port 80, answered on every web host); tls and dns challenges are not supported")
			}
		},
	}) || l.err != nil {
		return nil
	}
	if a.Email == "" {
		l.failf(n, joinPath(path, "email"), "is required: the ACME server writes there before a certificate expires")
		return nil
	}
	return a
}

func (l *loader) tlsCertificate(n *node, path string) *TLSCertificate {
	c := &TLSCertificate{}
	var keyNode *node
	if !l.object(n, path, "a map with cert (a file) and key (a secret: [NAME])", handlers{
		"cert": func(v *node, p string) {
			c.File = strings.TrimSpace(l.str(v, p))
			if c.File == "" {
				return
			}
			f := c.File
			if !filepath.IsAbs(f) {
				f = filepath.Join(l.root, f)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				l.failf(v, p, "cannot read the certificate: %v", err)
				return
			}
			c.PEM = b
		},
		"key": func(v *node, p string) {
			keyNode = v
			// The key is a secret: only [NAME] (read from the environment
			// or .env), never written in the file.
			if v.kind != seqKind {
				l.failf(v, p, "must name the environment variable that holds the PEM key, like [TLS_KEY]: a key is a secret, never written in the config")
				return
			}
			c.Key = l.secret(v, p)
		},
	}) || l.err != nil {
		return nil
	}
	if c.File == "" {
		l.failf(n, joinPath(path, "cert"), "is required: the certificate file (PEM, with its chain)")
	} else if keyNode == nil || c.Key.IsZero() {
		l.failf(n, joinPath(path, "key"), "is required: [NAME] of the environment variable that holds the PEM key")
	}
	if l.err != nil {
		return nil
	}
	return c
}

// checkCertificate checks that t's own certificate matches its key and
// covers every name in t.Hosts.
func (l *loader) checkCertificate(n *node, path string, t *TLS) {
	c := t.Certificate
	certPath := joinPath(path, "cert")
	certNode := n.get("cert")
	if certNode == nil {
		certNode = n
	}
	block, _ := pem.Decode(c.PEM)
	if block == nil || block.Type != "CERTIFICATE" {
		l.failf(certNode, certPath, "%s is not a PEM certificate", c.File)
		return
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		l.failf(certNode, certPath, "%s: %v", c.File, err)
		return
	}
	keyNode := n.get("key")
	if keyNode == nil {
		keyNode = n
	}
	if _, err := tls.X509KeyPair(c.PEM, []byte(c.Key.Reveal())); err != nil {
		// The error text never holds key material, only what is wrong.
		l.failf(keyNode, joinPath(path, "key"), "does not match the certificate %s: %v", c.File, err)
		return
	}
	for _, h := range t.Hosts {
		covered := leaf.VerifyHostname(h) == nil
		if strings.HasPrefix(h, "*.") {
			covered = slices.Contains(leaf.DNSNames, h)
		}
		if !covered {
			l.failf(certNode, certPath, "%s does not cover %s (it names %s)", c.File, h, strings.Join(leaf.DNSNames, ", "))
			return
		}
	}
}
