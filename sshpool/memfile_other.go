//go:build !linux

package sshpool

import "errors"

// memFile needs Linux's memfd: elsewhere, known_hosts content from memory
// is refused rather than written to a temporary file.
func memFile(name string, data []byte) (string, func() error, error) {
	return "", nil, errors.New("known_hosts content from the environment needs Linux (memfd)")
}
