#!/usr/bin/env bash
# Build one pinned Go command for the release tooling and its tests from the Go module proxy, into the
# same cache as the control plane (never into the repository). Idempotent: when the binary for this
# exact version exists and runs, it prints its path and exits at once.
#
#   tools/build-go-tool.sh registry|crane|cosign|actionlint|helm-docs   # prints the binary path last
#   JIRADRIFT_CACHE=/some/dir tools/build-go-tool.sh crane
#
# Each module below has no replace directives, so `go install pkg@version` builds exactly what the
# module pins.
set -euo pipefail

name="${1:?usage: build-go-tool.sh registry|crane|cosign|actionlint|helm-docs}"
case "$name" in
  # The CNCF distribution registry: a real OCI registry for the chart and image tests.
  registry)   pkg=github.com/distribution/distribution/v3/cmd/registry; version=v3.1.2
              ldflags="-X github.com/distribution/distribution/v3/version.version=$version"
              probe=(--version) ;;
  # crane: pushes an OCI image to a registry and resolves digests without a container daemon.
  crane)      pkg=github.com/google/go-containerregistry/cmd/crane; version=v0.22.1; ldflags=""
              probe=(version) ;;
  cosign)     pkg=github.com/sigstore/cosign/v2/cmd/cosign; version=v2.6.5
              ldflags="-X sigs.k8s.io/release-utils/version.gitVersion=$version"
              probe=(version) ;;
  actionlint) pkg=github.com/rhysd/actionlint/cmd/actionlint; version=v1.7.12
              ldflags="-X github.com/rhysd/actionlint.version=$version"
              probe=(-version) ;;
  helm-docs)  pkg=github.com/norwoodj/helm-docs/cmd/helm-docs; version=v1.14.2; ldflags=""
              probe=(--help) ;;  # it has no --version
  *) echo "build-go-tool: unknown tool $name" >&2; exit 2 ;;
esac

cache="${JIRADRIFT_CACHE:-$HOME/.cache/jiradrift}"
bin="$cache/$name-$version/bin"
mkdir -p "$bin"
log() { echo "[build-go-tool] $*" >&2; }
ok() { [[ -x "$bin/$name" ]] && "$bin/$name" "${probe[@]}" >/dev/null 2>&1; }

if ok; then log "$name $version cached"; echo "$bin/$name"; exit 0; fi
# One build at a time per tool and cache (tests, CI and helpers may call this at once).
exec 9>"$cache/.build-$name.lock"
flock 9
if ok; then log "$name $version cached"; echo "$bin/$name"; exit 0; fi

command -v go >/dev/null || { log "Go >= 1.25 is required to build $name (see README)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
log "building $name $version from $pkg (cold: a minute to several)"
tmp="$(mktemp -d)"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"
mv "$tmp/$name" "$bin/$name"; rmdir "$tmp"
ok || { log "built $name does not run: $bin/$name ${probe[*]}"; exit 1; }
echo "$bin/$name"
