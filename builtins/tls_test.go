package builtins

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func testCert(t *testing.T, notAfter time.Time, names ...string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestACMECertificate(t *testing.T) {
	soon := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	later := time.Now().Add(80 * 24 * time.Hour).Truncate(time.Second)
	oldCert, oldKey := testCert(t, soon, "app.test", "www.app.test")
	newCert, newKey := testCert(t, later, "app.test", "www.app.test")
	otherCert, otherKey := testCert(t, later.Add(time.Hour), "other.test")
	type cert struct {
		Domain      map[string]any `json:"domain"`
		Certificate []byte         `json:"certificate"`
		Key         []byte         `json:"key"`
		Store       string         `json:"Store"`
	}
	file := map[string]any{
		"mrsk": map[string]any{"Account": map[string]any{"Email": "a@b.test"}, "Certificates": []cert{
			{map[string]any{"main": "app.test"}, oldCert, oldKey, "default"},
			{map[string]any{"main": "other.test"}, otherCert, otherKey, "default"},
			{map[string]any{"main": "app.test", "sans": []string{"www.app.test"}}, newCert, newKey, "default"},
		}},
		"letsencrypt": map[string]any{"Certificates": nil},
	}
	data, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	c, k, notAfter, err := acmeCertificate(data, "mrsk", []string{"app.test", "www.app.test"})
	if err != nil || string(c) != string(newCert) || string(k) != string(newKey) || !notAfter.Equal(later) {
		t.Errorf("picked %v (until %s), want the covering certificate that expires last", err, notAfter)
	}
	if c, _, _, err := acmeCertificate(data, "mrsk", []string{"app.test", "api.app.test"}); c != nil || err != nil {
		t.Errorf("a certificate that does not cover every name was picked (%v)", err)
	}
	if c, _, _, err := acmeCertificate(data, "letsencrypt", []string{"app.test"}); c != nil || err != nil {
		t.Error("another resolver's certificates were read")
	}
	if c, _, _, err := acmeCertificate(nil, "mrsk", []string{"app.test"}); c != nil || err != nil {
		t.Error("no acme.json yet is not an error, and no certificate")
	}
	if _, _, _, err := acmeCertificate([]byte("{"), "mrsk", []string{"app.test"}); err == nil {
		t.Error("a corrupt acme.json is an error")
	}
}

// The TLS store file is YAML that Traefik's file provider reads: the PEM
// blocks survive intact, as certificate and as default certificate.
func TestTLSStoreFile(t *testing.T) {
	cert, key := testCert(t, time.Now().Add(time.Hour), "app.test")
	var doc struct {
		TLS struct {
			Certificates []map[string]string `yaml:"certificates"`
			Stores       map[string]struct {
				DefaultCertificate map[string]string `yaml:"defaultCertificate"`
			} `yaml:"stores"`
		} `yaml:"tls"`
	}
	if err := yaml.Unmarshal(tlsStoreFile(cert, key), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.TLS.Certificates) != 1 || doc.TLS.Certificates[0]["certFile"] != string(cert) || doc.TLS.Certificates[0]["keyFile"] != string(key) {
		t.Errorf("certificates = %v", doc.TLS.Certificates)
	}
	if d := doc.TLS.Stores["default"].DefaultCertificate; d["certFile"] != string(cert) || d["keyFile"] != string(key) {
		t.Errorf("default certificate = %v", d)
	}
}

func TestChallengeRoute(t *testing.T) {
	var doc struct {
		HTTP struct {
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				EntryPoints []string `yaml:"entryPoints"`
				Priority    int      `yaml:"priority"`
			} `yaml:"routers"`
			Services map[string]struct {
				LoadBalancer struct {
					PassHostHeader bool                `yaml:"passHostHeader"`
					Servers        []map[string]string `yaml:"servers"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal([]byte(challengeRoute(hostAddress("deploy@10.0.0.2:2222"), 8080)), &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.HTTP.Routers["mrsk_acme_challenge"]
	lb := doc.HTTP.Services["mrsk_acme_challenge"].LoadBalancer
	if r.Rule != "PathPrefix(`/.well-known/acme-challenge/`)" || r.EntryPoints[0] != "web" || r.Priority < 1<<30 ||
		!lb.PassHostHeader || len(lb.Servers) != 1 || lb.Servers[0]["url"] != "http://10.0.0.2:8080" {
		t.Errorf("challenge route = %+v %+v", r, lb)
	}
}

func TestHostAddress(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1": "10.0.0.1", "root@10.0.0.1": "10.0.0.1", "a.example:2222": "a.example", "ssh://u@h": "h",
		"[::1]:22": "::1", "::1": "::1", "u@[fe80::1]": "fe80::1",
	} {
		if got := hostAddress(in); got != want {
			t.Errorf("hostAddress(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(challengeRoute("::1", 80), `"http://[::1]:80"`) {
		t.Error("an IPv6 primary is not bracketed in the URL")
	}
}
