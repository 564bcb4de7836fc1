package railscreds

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "00112233445566778899aabbccddeeff"

var testIV = []byte("0123456789ab")

func TestUnmarshalString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  string
	}{
		// Marshal.dump("hello") in Ruby 1.9+ (UTF-8 source).
		{"utf-8", "\x04\bI\"\nhello\x06:\x06ET", "hello", ""},
		// "hello".b: ASCII-8BIT, no encoding ivar (binread).
		{"binary", "\x04\b\"\nhello", "hello", ""},
		// "hello".force_encoding("US-ASCII").
		{"us-ascii", "\x04\bI\"\nhello\x06:\x06EF", "hello", ""},
		// "hi".encode("ISO-8859-1"): an :encoding ivar naming it.
		{"named encoding", "\x04\bI\"\ahi\x06:\rencoding\"\x0fISO-8859-1", "hi", ""},
		// a 300-byte string: the length takes two bytes.
		{"long", "\x04\bI\"\x02\x2c\x01" + strings.Repeat("a", 300) + "\x06:\x06ET", strings.Repeat("a", 300), ""},
		{"empty", "\x04\bI\"\x00\x06:\x06ET", "", ""},
		{"a hash", "\x04\b{\x00", "", "expected a String"},
		{"truncated", "\x04\bI\"\nhel", "", "truncated"},
		{"trailing", "\x04\b\"\x06a0", "", "left after"},
		{"bad symlink", "\x04\bI\"\x06a\x06;\x06T", "", "symbol link"},
		{"not marshal", "hello", "", "not Ruby Marshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnmarshalString([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestMarshalStringMatchesRuby(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                  "\x04\bI\"\nhello\x06:\x06ET",
		"":                       "\x04\bI\"\x00\x06:\x06ET",
		strings.Repeat("a", 300): "\x04\bI\"\x02\x2c\x01" + strings.Repeat("a", 300) + "\x06:\x06ET",
	} {
		if got := string(MarshalString(in)); got != want {
			t.Errorf("MarshalString(%.10q) = %q, want %q", in, got, want)
		}
	}
}

// seal encrypts payload (already serialized) the way MessageEncryptor
// does, to test the other serializers.
func seal(t *testing.T, payload []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher([]byte("\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"))
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	s := gcm.Seal(nil, testIV, payload, nil)
	e := base64.StdEncoding
	return []byte(e.EncodeToString(s[:len(s)-16]) + "--" + e.EncodeToString(testIV) + "--" + e.EncodeToString(s[len(s)-16:]))
}

func TestDecrypt(t *testing.T) {
	yml := "registry:\n  username: me\n"
	enc, err := Encrypt([]byte(yml), testKey, testIV)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		key  string
		want string
		err  string
	}{
		{"marshal utf-8", enc, testKey, yml, ""},
		{"key with newline", enc, testKey + "\n", yml, ""},
		{"marshal binary", seal(t, append([]byte{4, 8, '"', byte(len(yml) + 5)}, yml...)), testKey, yml, ""},
		{"json string", seal(t, []byte(`"registry:\n  username: me\n"`)), testKey, yml, ""},
		{"bare yaml", seal(t, []byte(yml)), testKey, yml, ""},
		{"wrong key", enc, "ffeeddccbbaa99887766554433221100", "", "wrong key"},
		{"short key", enc, "abcd", "", "32 hex digits"},
		{"not hex", enc, strings.Repeat("z", 32), "", "32 hex digits"},
		{"garbage", []byte("hello"), testKey, "", "expected DATA--IV--TAG"},
		{"bad base64", []byte("a--b--c"), testKey, "", "bad base64"},
		{"binary payload", seal(t, []byte{1, 2, 3}), testKey, "", "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decrypt(tt.data, tt.key)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestFixture(t *testing.T) {
	// testdata/credentials.yml.enc was written by Encrypt with testKey and
	// testIV; this keeps the format from drifting silently.
	data, err := os.ReadFile(filepath.Join("testdata", "credentials.yml.enc"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decrypt(data, testKey)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := Encrypt(plain, testKey, testIV)
	if string(enc) != strings.TrimSpace(string(data)) {
		t.Errorf("Encrypt no longer reproduces the fixture")
	}
	c, err := Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Lookup([]string{"registry", "password"}); !ok || err != nil || v != "fixture-secret" {
		t.Errorf("registry.password = %q, %v, %v", v, ok, err)
	}
}

func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoad(t *testing.T) {
	const otherKey = "ffeeddccbbaa99887766554433221100"
	main, _ := Encrypt([]byte("who: main\n"), testKey, testIV)
	staging, _ := Encrypt([]byte("who: staging\n"), otherKey, testIV)
	noEnv := func(string) (string, bool) { return "", false }
	envKey := func(k string) func(string) (string, bool) {
		return func(n string) (string, bool) { return k, n == EnvKey }
	}
	tests := []struct {
		name   string
		files  map[string]string
		dest   string
		lookup func(string) (string, bool)
		want   string
		err    string
	}{
		{"master.key", map[string]string{"config/credentials.yml.enc": string(main), "config/master.key": testKey + "\n"}, "", noEnv, "main", ""},
		{"RAILS_MASTER_KEY wins", map[string]string{"config/credentials.yml.enc": string(main), "config/master.key": otherKey}, "", envKey(testKey), "main", ""},
		{"destination file", map[string]string{"config/credentials.yml.enc": string(main), "config/master.key": testKey,
			"config/credentials/staging.yml.enc": string(staging), "config/credentials/staging.key": otherKey}, "staging", noEnv, "staging", ""},
		{"destination without its file", map[string]string{"config/credentials.yml.enc": string(main), "config/master.key": testKey}, "production", noEnv, "main", ""},
		{"missing key", map[string]string{"config/credentials.yml.enc": string(main)}, "", noEnv, "",
			"cannot decrypt config/credentials.yml.enc: config/master.key is missing and RAILS_MASTER_KEY is not set"},
		{"missing destination key", map[string]string{"config/credentials/staging.yml.enc": string(staging)}, "staging", noEnv, "",
			"config/credentials/staging.key is missing"},
		{"wrong key", map[string]string{"config/credentials.yml.enc": string(main), "config/master.key": otherKey}, "", noEnv, "",
			"the key (from config/master.key) does not decrypt config/credentials.yml.enc"},
		{"wrong env key", map[string]string{"config/credentials.yml.enc": string(main)}, "", envKey(otherKey), "",
			"the key (from RAILS_MASTER_KEY) does not decrypt"},
		{"no file", map[string]string{}, "", noEnv, "", "config/credentials.yml.enc not found"},
		{"not a map", map[string]string{"config/credentials.yml.enc": mustEncrypt(t, "- a\n"), "config/master.key": testKey}, "", noEnv, "", "top level must be a map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeProject(t, tt.files)
			c, err := Load(root, tt.dest, tt.lookup)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _, _ := c.Lookup([]string{"who"}); v != tt.want {
				t.Errorf("who = %q, want %q", v, tt.want)
			}
		})
	}
}

func mustEncrypt(t *testing.T, yml string) string {
	b, err := Encrypt([]byte(yml), testKey, testIV)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLookup(t *testing.T) {
	c, err := Parse([]byte("aws:\n  key: k1\n  nested:\n    deep: 42\ndefaults: &d\n  region: eu\nprod:\n  <<: *d\n  name: p\n:sym: s\nempty:\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
		ok   bool
		err  string
	}{
		{"aws.key", "k1", true, ""},
		{"aws.nested.deep", "42", true, ""},
		{"prod.region", "eu", true, ""},
		{"prod.name", "p", true, ""},
		{"sym", "s", true, ""},
		{"empty", "", false, ""},
		{"nope", "", false, ""},
		{"aws.key.more", "", false, ""},
		{"aws", "", false, "aws is a map of credentials"},
	}
	for _, tt := range tests {
		v, ok, err := c.Lookup(strings.Split(tt.path, "."))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.path, err, tt.err)
			}
			continue
		}
		if v != tt.want || ok != tt.ok || err != nil {
			t.Errorf("%s = %q, %v, %v; want %q, %v", tt.path, v, ok, err, tt.want, tt.ok)
		}
	}
	empty, _ := Parse(nil)
	if _, ok, err := empty.Lookup([]string{"a"}); ok || err != nil {
		t.Errorf("empty credentials: %v %v", ok, err)
	}
}
