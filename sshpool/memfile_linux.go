//go:build linux

package sshpool

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memFile holds data in an anonymous memory file (memfd) and returns a
// path that opens it: known_hosts content from the environment is read by
// the same known_hosts code as files (hashed names, wildcards,
// @cert-authority, @revoked) without ever being written to a disk.
func memFile(name string, data []byte) (string, func() error, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("memfd: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), f.Close, nil
}
