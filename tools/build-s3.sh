#!/usr/bin/env bash
# Build a real S3-compatible server for the tests: versitygw (posix backend) from the Go module
# proxy, into the same cache as the control plane. Idempotent: when the binary for this exact
# version exists and runs, it prints its path and exits in well under a second.
#
#   tools/build-s3.sh                 # prints the versitygw binary path on its last line
#   JIRADRIFT_CACHE=/some/dir tools/build-s3.sh
set -euo pipefail

VERSITYGW_VERSION=v1.8.0  # github.com/versity/versitygw; its go.mod has no replace directives

cache="${JIRADRIFT_CACHE:-$HOME/.cache/jiradrift}"
bin="$cache/versitygw-$VERSITYGW_VERSION/bin"
mkdir -p "$bin"
# One build at a time per cache (parallel test runs and helpers may all call this at once).
exec 9>"$cache/.build-s3.lock"
flock 9

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { echo "[build-s3] $*" >&2; }

if [[ -x "$bin/versitygw" ]] && "$bin/versitygw" --version >/dev/null 2>&1; then
  log "versitygw cached"
else
  command -v go >/dev/null || { log "Go >= 1.25 is required to build versitygw"; exit 1; }
  log "building versitygw $VERSITYGW_VERSION (cold: a few minutes)"
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  mv "$tmp/versitygw" "$bin/versitygw"; rmdir "$tmp"
fi

echo "$bin/versitygw"
