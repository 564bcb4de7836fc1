// Package stdlib embeds the stock Starlark flows (deploy.star), loaded by
// the engine as @mrsk//deploy.star.
package stdlib

import "embed"

// FS holds deploy.star.
//
//go:embed *.star
var FS embed.FS

// Fixture is the project the stock tests (*_test.star) plan against.
//
//go:embed all:testdata/fixture
var Fixture embed.FS
