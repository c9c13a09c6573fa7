#!/usr/bin/env bash
# Build the operator image from the repository's Dockerfile (or, with `Dockerfile.emulator` as the
# argument, the Jira emulator's image), for the test harness and the demo, and save it as a tarball
# that containerd imports. Idempotent and cached outside the repository:
# the image is rebuilt only when the build context (Dockerfile, pyproject.toml, README.md,
# operator/) changes. Prints "<tarball> <image ref>" on its last line.
#
# The Dockerfile's upstream base (python:3.11-slim-bookworm) cannot be pulled here, so a base is made
# from Debian packages (mmdebstrap: python3, python3-venv) with this machine's CA bundle, and passed as
# PYTHON_IMAGE. The build runs on a private dockerd (own socket, data root in the cache, no bridge, no
# iptables rules: builds use the host network), which is stopped again when the build is done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dockerfile="${1:-Dockerfile}"
case "$dockerfile" in
  Dockerfile) name=operator ;;
  Dockerfile.emulator) name=emulator ;;
  *) echo "usage: $0 [Dockerfile|Dockerfile.emulator]" >&2; exit 2 ;;
esac

cache="${JIRADRIFT_CACHE:-$HOME/.cache/jiradrift}"
images="$cache/images"
mkdir -p "$images"
exec 9>"$cache/.image.lock"
flock 9
log() { echo "[build-image] $*" >&2; }

need=()
for tool in dockerd:docker.io mmdebstrap:mmdebstrap; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if ((${#need[@]})); then
  log "installing ${need[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
docker=/usr/bin/docker  # Debian's client: it builds with the daemon's BuildKit without a buildx plugin

# The base: Debian bookworm's python3 (3.11) and venv module, and the host's trust store.
base_key=$(printf 'bookworm python3 python3-venv passwd ca-certificates git openssh-client v2\n%s' "$(sha256sum /etc/ssl/certs/ca-certificates.crt)" | sha256sum | cut -c1-12)
base_tar="$images/base-$base_key.tar"
if [[ ! -s "$base_tar" ]]; then
  log "making the base image with mmdebstrap (cold: a minute or two)"
  mmdebstrap --quiet --format=tar --variant=minbase --include=python3,python3-venv,passwd,ca-certificates,git,openssh-client \
    --customize-hook='copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/' \
    --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
    bookworm "$base_tar.tmp" http://deb.debian.org/debian
  mv "$base_tar.tmp" "$base_tar"
fi

# The image: keyed by the build context's content and the base.
context_key=$( (cat "$dockerfile" pyproject.toml README.md; find operator -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
  ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum; echo "$base_key") | sha256sum | cut -c1-12)
# The tarball's name carries the version the tree says (the Dockerfile's VERSION), so the upgrade test's
# previous release, built from a copy stamped with a lower version, does not evict the current one.
version=$(sed -n 's/^ARG VERSION=//p' "$dockerfile" | head -1)
ref="jira-drift-$name:dev-$context_key"
image_tar="$images/$name-${version:-dev}-$context_key.tar"
if [[ -s "$image_tar" ]]; then
  log "image $ref cached"
  echo "$image_tar $ref"
  exit 0
fi

# One private dockerd per cache (the lock above serialises builds within it). dockerd must not inherit
# the lock's descriptor (9>&- below): a build killed before it stopped dockerd left the lock held by
# the orphaned daemon, and every later build waited on it forever.
instance=$(printf '%s' "$cache" | sha256sum | cut -c1-8)
run_dir="/run/jiradrift-docker-$instance"
sock="$run_dir/docker.sock"
dockerd_pid=""
stop_dockerd() {
  if [[ -n "$dockerd_pid" ]] && kill -0 "$dockerd_pid" 2>/dev/null; then
    kill "$dockerd_pid"
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$dockerd_pid" 2>/dev/null || true
  fi
  rm -f "$sock"
}
trap stop_dockerd EXIT
# A dockerd left by a crashed build: stop it before starting ours.
if [[ -f "$run_dir/dockerd.pid" ]] && kill -0 "$(cat "$run_dir/dockerd.pid")" 2>/dev/null; then
  kill "$(cat "$run_dir/dockerd.pid")" || true
  sleep 2
fi
mkdir -p "$run_dir"
log "starting a private dockerd"
dockerd --host "unix://$sock" --data-root "$cache/docker" --exec-root "$run_dir/exec" \
  --pidfile "$run_dir/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
  --log-level=warn >"$run_dir/dockerd.log" 2>&1 9>&- &
dockerd_pid=$!
for _ in $(seq 150); do
  "$docker" -H "unix://$sock" version >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$run_dir/dockerd.log" >&2; exit 1; }
  sleep 0.2
done
export DOCKER_HOST="unix://$sock" DOCKER_BUILDKIT=1

base_ref="jiradrift-base:bookworm-$base_key"
if ! "$docker" image inspect "$base_ref" >/dev/null 2>&1; then
  "$docker" import "$base_tar" "$base_ref" >/dev/null
fi
log "building $ref from $dockerfile (PYTHON_IMAGE=$base_ref)"
"$docker" build --network host --build-arg "PYTHON_IMAGE=$base_ref" -f "$dockerfile" -t "$ref" . >&2
"$docker" save "$ref" -o "$image_tar.tmp"
mv "$image_tar.tmp" "$image_tar"
# Keep the cache small: older tarballs of this image go.
find "$images" -name "$name-${version:-dev}-*.tar" ! -name "$(basename "$image_tar")" -delete
"$docker" image prune -f >/dev/null 2>&1 || true
echo "$image_tar $ref"
