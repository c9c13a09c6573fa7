#!/usr/bin/env bash
# Build a real control plane and node (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, etcd, kubectl) and helm from the Go
# module proxy, into a cache outside the repository. Idempotent: when the binaries for
# these exact versions exist and run, it prints their directory and exits in seconds.
#
#   tools/build-control-plane.sh            # prints the bin dir on its last line
#   JIRADRIFT_CACHE=/some/dir tools/build-control-plane.sh
set -euo pipefail

K8S_VERSION=v1.36.3      # k8s.io/kubernetes; staging modules are replaced with v0.36.3 in tools/k8s/go.mod
ETCD_VERSION=v3.6.8      # go.etcd.io/etcd/server/v3, the version Kubernetes 1.36.3 pins
HELM_VERSION=v3.21.4     # helm.sh/helm/v3, no replace directives, built with `go install`

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${JIRADRIFT_CACHE:-$HOME/.cache/jiradrift}"
bin="$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION/bin"
mkdir -p "$bin"
# One build at a time per cache (tests, the demo and helpers may all call this at once).
exec 9>"$cache/.build.lock"
flock 9

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { echo "[build-control-plane] $*" >&2; }

ok() { [[ -x "$bin/$1" ]] && "$bin/$1" "${@:2}" >/dev/null 2>&1; }

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
version_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  version_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build_k8s() {  # name, package
  local name=$1 pkg=$2
  if ok "$name" --version || ok "$name" version --client; then log "$name cached"; return; fi
  log "building $name from $pkg (cold: several minutes)"
  (cd "$here/k8s" && go build -trimpath -ldflags "-s -w $version_ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
}

build_k8s kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build_k8s kubectl k8s.io/kubernetes/cmd/kubectl
# The node: controllers, scheduler, kubelet and kube-proxy from the same module graph.
build_k8s kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build_k8s kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build_k8s kubelet k8s.io/kubernetes/cmd/kubelet
build_k8s kube-proxy k8s.io/kubernetes/cmd/kube-proxy

if ok etcd --version; then log "etcd cached"; else
  log "building etcd $ETCD_VERSION"
  (cd "$here/k8s" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

if ok helm version; then log "helm cached"; else
  log "building helm $HELM_VERSION"
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$bin/helm"; rmdir "$tmp"
fi

echo "$bin"
