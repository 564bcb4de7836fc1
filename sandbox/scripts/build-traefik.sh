#!/usr/bin/env bash
# Builds a static Traefik binary from the Go module proxy (there is no Docker Hub
# here) and prints its path; sandbox.sh wraps it in a FROM-scratch image.
# The binary is cached under $MRSK_CACHE so later runs take seconds; a lock keeps
# two concurrent runs from building (and writing) the same binary at once.
set -euo pipefail
version=${TRAEFIK_VERSION:-v3.6.12}
cache=${MRSK_CACHE:-/var/cache/mrsk}
out="$cache/traefik-$version/traefik"
export PATH="$PATH:/usr/local/go/bin"
mkdir -p "$cache"
exec 9>"$cache/traefik-$version.lock"
flock 9
if [ ! -x "$out" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cd "$work"
  # Repeat Traefik's own replace and exclude directives: a requiring module
  # does not inherit them, and the build fails without them.
  gomod=$(go mod download -json "github.com/traefik/traefik/v3@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  go mod init traefikbuild >/dev/null 2>&1
  go mod edit -require="github.com/traefik/traefik/v3@$version"
  awk '/^replace \(/{r=1;next} r&&/^\)/{r=0} r&&/=>/{print}' "$gomod" | while read -r from arrow to ver; do
    go mod edit -replace="$from=$to@$ver"
  done
  sed -n 's/^exclude \(.*\) \(.*\)$/\1@\2/p' "$gomod" | while read -r ex; do go mod edit -exclude="$ex"; done
  go_line=$(sed -n 's/^go \(.*\)$/\1/p' "$gomod")
  go mod edit -go="$go_line"
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
GO
  go mod tidy -e >/dev/null 2>&1 || true
  mkdir -p "$(dirname "$out")"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version" -o "$out.tmp" github.com/traefik/traefik/v3/cmd/traefik
  mv "$out.tmp" "$out"
fi
echo "$out"
