// Package railscreds reads Rails encrypted credentials natively, so ERB in
// deploy.yml can use Rails.application.credentials without Ruby.
//
// The format is ActiveSupport::EncryptedFile's, the same from Rails 5.2 to
// 8: the file holds base64(ciphertext)--base64(iv)--base64(auth_tag)
// (strict base64), the cipher is aes-128-gcm with no additional data, the
// key is the hex master key (16 bytes), and the plaintext is
// Marshal.dump(yaml_string): EncryptedFile builds its MessageEncryptor
// with Marshal (implicitly before 7.1, explicitly after, when the
// default serializer changed), and without purpose or expiry there is no
// metadata envelope.
package railscreds

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvKey is the variable that holds the master key, as in Rails.
const EnvKey = "RAILS_MASTER_KEY"

// ErrWrongKey is a GCM authentication failure: the key is not the one the
// file was encrypted with (or the file was altered).
var ErrWrongKey = errors.New("wrong key")

// Paths returns the credentials file and its key file, relative to the
// project root: config/credentials/<dest>.yml.enc and .key when a
// destination is given and that file exists, else the default pair.
func Paths(root, dest string) (content, key string) {
	if dest != "" {
		c := filepath.Join("config", "credentials", dest+".yml.enc")
		if _, err := os.Stat(filepath.Join(root, c)); err == nil {
			return c, filepath.Join("config", "credentials", dest+".key")
		}
	}
	return filepath.Join("config", "credentials.yml.enc"), filepath.Join("config", "master.key")
}

// Credentials is a decrypted credentials file.
type Credentials struct {
	File string // relative to the project root, for messages
	doc  *yaml.Node
}

// Load decrypts the credentials of root (for destination dest). The key
// comes from RAILS_MASTER_KEY (through lookup, which wins, as in Rails)
// or from the key file.
func Load(root, dest string, lookup func(string) (string, bool)) (*Credentials, error) {
	file, keyFile := Paths(root, dest)
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Rails credentials: %s not found", file)
		}
		return nil, fmt.Errorf("Rails credentials: %w", err)
	}
	key, from := "", EnvKey
	if lookup != nil {
		key, _ = lookup(EnvKey)
	}
	if key == "" {
		b, err := os.ReadFile(filepath.Join(root, keyFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Rails credentials: cannot decrypt %s: %s is missing and %s is not set", file, keyFile, EnvKey)
		}
		if err != nil {
			return nil, fmt.Errorf("Rails credentials: %w", err)
		}
		key, from = string(b), keyFile
	}
	plain, err := Decrypt(data, key)
	if errors.Is(err, ErrWrongKey) {
		return nil, fmt.Errorf("Rails credentials: the key (from %s) does not decrypt %s", from, file)
	}
	if err != nil {
		return nil, fmt.Errorf("Rails credentials: %s (key from %s): %w", file, from, err)
	}
	c, err := Parse(plain)
	if err != nil {
		return nil, fmt.Errorf("Rails credentials: %s: %w", file, err)
	}
	c.File = file
	return c, nil
}

// Decrypt returns the YAML text of an encrypted credentials file.
func Decrypt(data []byte, hexKey string) ([]byte, error) {
	key, err := parseKey(hexKey)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.TrimSpace(string(data)), "--")
	if len(parts) != 3 {
		return nil, errors.New("not an encrypted file (expected DATA--IV--TAG)")
	}
	var raw [3][]byte
	for i, p := range parts {
		if raw[i], err = base64.StdEncoding.Strict().DecodeString(p); err != nil {
			return nil, fmt.Errorf("not an encrypted file (bad base64): %w", err)
		}
	}
	ct, iv, tag := raw[0], raw[1], raw[2]
	if len(tag) != 16 || len(iv) == 0 {
		return nil, errors.New("not an encrypted file (bad IV or tag length)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	out, err := gcm.Open(nil, iv, append(ct[:len(ct):len(ct)], tag...), nil)
	if err != nil {
		return nil, ErrWrongKey
	}
	return deserialize(out)
}

// deserialize undoes the MessageEncryptor's serializer. Rails writes
// Marshal; a JSON string or bare YAML is accepted too, so a file written
// by a serializer we have not seen still reads when it is plain text.
func deserialize(b []byte) ([]byte, error) {
	s, err := UnmarshalString(b)
	if err == nil {
		return []byte(s), nil
	}
	if !errors.Is(err, errNotMarshal) {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte(`"`)) {
		var js string
		if json.Unmarshal(b, &js) == nil {
			return []byte(js), nil
		}
	}
	if !isText(b) {
		return nil, errors.New("decrypted, but the content is neither a Marshal-serialized string nor text")
	}
	return b, nil
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// Encrypt writes plain (YAML) as Rails does, with the given 12-byte iv;
// it exists for tests and fixtures.
func Encrypt(plain []byte, hexKey string, iv []byte) ([]byte, error) {
	key, err := parseKey(hexKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	sealed := gcm.Seal(nil, iv, MarshalString(string(plain)), nil)
	ct, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	enc := base64.StdEncoding
	return []byte(enc.EncodeToString(ct) + "--" + enc.EncodeToString(iv) + "--" + enc.EncodeToString(tag)), nil
}

// parseKey decodes the hex master key; Rails strips the key file.
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != 16 {
		return nil, fmt.Errorf("the master key must be 32 hex digits (aes-128-gcm), not %d characters", len(s))
	}
	return key, nil
}

// Parse reads decrypted credentials YAML. An empty file is empty
// credentials; anything but a map at the top is an error, as in Rails.
func Parse(plain []byte) (*Credentials, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &Credentials{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("invalid YAML: the top level must be a map")
	}
	return &Credentials{doc: root}, nil
}

// Lookup resolves a key path such as ["registry", "username"]. ok is false
// when a key is absent (Ruby's nil); a value that is a map or a list is
// an error, since it cannot be rendered into a config.
func (c *Credentials) Lookup(path []string) (value string, ok bool, err error) {
	n := c.doc
	for _, k := range path {
		n = child(n, k)
		if n == nil {
			return "", false, nil
		}
	}
	if n == nil {
		return "", false, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "", false, nil
		}
		return n.Value, true, nil
	case yaml.MappingNode:
		return "", false, fmt.Errorf("%s is a map of credentials, not one value", strings.Join(path, "."))
	}
	return "", false, fmt.Errorf("%s is not a single value", strings.Join(path, "."))
}

// child returns the value of key k in mapping n, following aliases and
// merge keys (Rails loads the YAML with aliases allowed).
func child(n *yaml.Node, k string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if key := n.Content[i]; key.Kind == yaml.ScalarNode && key.ShortTag() != "!!merge" && strings.TrimPrefix(key.Value, ":") == k {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if key := n.Content[i]; key.ShortTag() == "!!merge" {
			if v := child(n.Content[i+1], k); v != nil {
				return v
			}
		}
	}
	return nil
}
