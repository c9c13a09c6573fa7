#!/usr/bin/env bash
# Build promtool (the Prometheus rule checker and rule unit-test runner) from the Go
# module proxy, into a cache outside the repository, the way build-control-plane.sh
# builds Kubernetes. Only ./cmd/promtool is compiled. Idempotent: when the binary for
# this exact version exists and runs, it prints its directory and exits at once.
#
#   tools/build-promtool.sh                 # prints the bin dir on its last line
#   JIRADRIFT_CACHE=/some/dir tools/build-promtool.sh
set -euo pipefail

# github.com/prometheus/prometheus v0.316.0 is Prometheus 3.16.0 (module tags are v0.<major><minor>.<patch>).
PROMETHEUS_MODULE_VERSION=v0.316.0
PROMETHEUS_VERSION=3.16.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${JIRADRIFT_CACHE:-$HOME/.cache/jiradrift}"
bin="$cache/promtool-v$PROMETHEUS_VERSION/bin"
mkdir -p "$bin"

log() { echo "[build-promtool] $*" >&2; }

ok() { [[ -x "$bin/promtool" ]] && "$bin/promtool" --version >/dev/null 2>&1; }

# Fast path without the lock: a cached binary that runs.
if ok; then log "promtool cached"; echo "$bin"; exit 0; fi

# One build at a time per cache (tests and helpers may call this at once).
exec 9>"$cache/.promtool-build.lock"
flock 9
if ok; then log "promtool cached"; echo "$bin"; exit 0; fi

command -v go >/dev/null || { log "Go >= 1.26 is required to build promtool (see README)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# remove_all_sd leaves out Prometheus's service-discovery plugins (cloud SDKs, Kubernetes, Nomad...):
# rule checks and rule unit tests need none of them, and they are most of the build.
log "building promtool $PROMETHEUS_VERSION (module $PROMETHEUS_MODULE_VERSION; cold: a few minutes)"
v=github.com/prometheus/common/version
(cd "$here/prometheus" && go build -trimpath \
  -ldflags "-s -w -X $v.Version=$PROMETHEUS_VERSION -X $v.Branch=release -X $v.Revision=module-$PROMETHEUS_MODULE_VERSION" \
  -tags remove_all_sd -o "$bin/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
mv "$bin/promtool.tmp" "$bin/promtool"
ok || { log "built promtool does not run: $bin/promtool --version"; exit 1; }
echo "$bin"
