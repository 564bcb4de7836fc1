package main

import (
	"fmt"
	"strconv"

	"github.com/mrsk-go/mrsk/config"
)

// checkVersion refuses a version that is not a valid image tag, before the
// config is read or any host contacted: it becomes the image tag, a
// container name and a label, and a value such as "a;b" would otherwise fail
// only after the deploy lock and the build.
func checkVersion(what, v string) error {
	if v == "" || config.TagRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("%s %s is not a valid image tag: use letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')", what, strconv.Quote(v))
}

// Validate is called by kong after parsing, before any command runs.
func (g *Globals) Validate() error { return checkVersion("--version", g.Version) }

// Validate checks the version to roll back to, like --version.
func (c *RollbackCmd) Validate() error { return checkVersion("version", c.Target) }
