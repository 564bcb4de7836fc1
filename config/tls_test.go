package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate for names and its PEM key.
func selfSigned(t *testing.T, names ...string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

func TestTLS(t *testing.T) {
	const head = "service: app\nimage: me/app\nservers: [a, b]\ntraefik:\n  tls:\n"
	cert, key := selfSigned(t, "app.test", "www.app.test")
	_, otherKey := selfSigned(t, "app.test")
	files := func(main string) map[string]string {
		return map[string]string{"config/deploy.yml": main, "config/tls/app.crt": cert, "config/tls/bad.crt": "not a cert"}
	}
	env := map[string]string{"TLS_KEY": key, "OTHER_KEY": otherKey}

	t.Run("acme", func(t *testing.T) {
		c, _, err := loadProject(t, files(head+"    hosts: [app.test]\n    acme: {email: ops@app.test, ca_server: https://ca.test/dir}\n    redirect: true\n"), "", env)
		if err != nil {
			t.Fatal(err)
		}
		tls := c.Traefik.TLS
		if tls == nil || tls.ACME == nil || tls.ACME.Email != "ops@app.test" || tls.ACME.Challenge != "http" || !tls.Redirect || tls.Hosts[0] != "app.test" {
			t.Fatalf("traefik.tls = %+v", tls)
		}
		if p := c.TLSPrimary(); p != "a" {
			t.Errorf("TLSPrimary = %q, want the first web host", p)
		}
	})
	t.Run("own certificate", func(t *testing.T) {
		c, _, err := loadProject(t, files(head+"    hosts: [app.test, www.app.test]\n    certificate: {cert: config/tls/app.crt, key: [TLS_KEY]}\n"), "", env)
		if err != nil {
			t.Fatal(err)
		}
		if crt := c.Traefik.TLS.Certificate; string(crt.PEM) != cert || crt.Key.Reveal() != key {
			t.Fatal("the certificate and key were not read")
		}
		if c.TLSPrimary() != "" {
			t.Error("an own certificate has no ACME primary")
		}
		yb, err := c.YAML()
		y := string(yb)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(y, "PRIVATE KEY") || strings.Contains(y, "BEGIN CERTIFICATE") || !strings.Contains(y, "key: '[REDACTED]'") {
			t.Errorf("mrsk config shows key material or not the settings:\n%s", y)
		}
	})

	for _, tc := range []struct{ name, tls, want string }{
		{"unknown key", "    hosts: [app.test]\n    acme: {email: a@b.test}\n    redirct: true\n", `config/deploy.yml:8:5: traefik.tls.redirct: unknown key; did you mean "redirect"?`},
		{"no hosts", "    acme: {email: a@b.test}\n", "config/deploy.yml:6:5: traefik.tls.hosts: is required"},
		{"bad host", "    hosts: [https://app.test]\n    acme: {email: a@b.test}\n", "config/deploy.yml:6:13: traefik.tls.hosts[0]: must be a DNS name"},
		{"neither", "    hosts: [app.test]\n", "config/deploy.yml:6:5: traefik.tls: needs acme"},
		{"both", "    hosts: [app.test]\n    acme: {email: a@b.test}\n    certificate: {cert: config/tls/app.crt, key: [TLS_KEY]}\n", "config/deploy.yml:8:18: traefik.tls.certificate: set either acme or certificate"},
		{"acme without email", "    hosts: [app.test]\n    acme: {ca_server: https://ca.test/dir}\n", "config/deploy.yml:7:11: traefik.tls.acme.email: is required"},
		{"bad email", "    hosts: [app.test]\n    acme: {email: ops}\n", "config/deploy.yml:7:19: traefik.tls.acme.email: must be an e-mail address"},
		{"http ca", "    hosts: [app.test]\n    acme: {email: a@b.test, ca_server: 'http://ca.test/dir'}\n", "traefik.tls.acme.ca_server: must be the https:// URL"},
		{"dns challenge", "    hosts: [app.test]\n    acme: {email: a@b.test, challenge: dns}\n", "traefik.tls.acme.challenge: must be http"},
		{"acme wildcard", "    hosts: ['*.app.test']\n    acme: {email: a@b.test}\n", "traefik.tls.hosts[0]: a wildcard name needs a DNS challenge"},
		{"missing cert file", "    hosts: [app.test]\n    certificate: {cert: config/tls/nope.crt, key: [TLS_KEY]}\n", "config/deploy.yml:7:25: traefik.tls.certificate.cert: cannot read the certificate: "},
		{"not a cert", "    hosts: [app.test]\n    certificate: {cert: config/tls/bad.crt, key: [TLS_KEY]}\n", "traefik.tls.certificate.cert: config/tls/bad.crt is not a PEM certificate"},
		{"key mismatch", "    hosts: [app.test]\n    certificate: {cert: config/tls/app.crt, key: [OTHER_KEY]}\n", "config/deploy.yml:7:50: traefik.tls.certificate.key: does not match the certificate config/tls/app.crt"},
		{"key inline", "    hosts: [app.test]\n    certificate: {cert: config/tls/app.crt, key: secret}\n", "traefik.tls.certificate.key: must name the environment variable"},
		{"key unset", "    hosts: [app.test]\n    certificate: {cert: config/tls/app.crt, key: [NOPE_KEY]}\n", `environment variable "NOPE_KEY" is not set`},
		{"name not covered", "    hosts: [other.test]\n    certificate: {cert: config/tls/app.crt, key: [TLS_KEY]}\n", "traefik.tls.certificate.cert: config/tls/app.crt does not cover other.test (it names app.test, www.app.test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadProject(t, files(head+tc.tls), "", env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), key[30:60])) {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}
