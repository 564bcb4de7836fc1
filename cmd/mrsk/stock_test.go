package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStockFlows runs the stock flows' own Starlark tests
// (stdlib/*_test.star) through `mrsk test`, as a user would, so go test
// and CI cover them.
func TestStockFlows(t *testing.T) {
	dir := t.TempDir() // no config/*_test.star of its own: only the stock tests
	var out bytes.Buffer
	args := []string{"test", "-v", "-c", filepath.Join(dir, "config", "deploy.yml")}
	if code := run(args, &out, &out, os.LookupEnv); code != 0 {
		t.Fatalf("mrsk test exited %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "ok  \t@mrsk//deploy_test.star") {
		t.Fatalf("the stock tests did not run:\n%s", out.String())
	}
	t.Log(out.String())
}
