# Shared by the release scripts (sourced): the repository root, the chart, the version, tool lookup.
# Every tool is taken from PATH first, else from the cache the build scripts fill (~/.cache/jiradrift),
# so the same scripts run in the release workflow (tools installed by the runner or built) and here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
chart_dir="$root/charts/jira-drift-operator"
chart_name=jira-drift-operator
log() { echo "[release] $*" >&2; }
die() { echo "[release] error: $*" >&2; exit 1; }
version() { python3 "$root/tools/release/versions.py" current; }

# tool NAME: the path of helm, cosign, crane... (JIRADRIFT_<NAME>_BIN, else PATH, else built into the cache).
tool() {
  local name=$1 env_var
  env_var="JIRADRIFT_$(echo "$name" | tr 'a-z-' 'A-Z_')_BIN"
  if [[ -n "${!env_var:-}" ]]; then echo "${!env_var}"; return; fi
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  case "$name" in
    helm) echo "$(bash "$root/tools/build-control-plane.sh" | tail -n1)/helm" ;;
    *) bash "$root/tools/build-go-tool.sh" "$name" | tail -n1 ;;
  esac
}

# registry_flags: plain http for a loopback registry without TLS (tests, a local dry run).
plain_http() { [[ "${JIRADRIFT_REGISTRY_PLAIN_HTTP:-}" == 1 ]]; }
