#!/usr/bin/env bash
# The whole release, in the order the workflow (.github/workflows/release.yaml) runs it, for a dry run
# on a workstation or against a registry on loopback. Each step is its own script in this folder.
#
#   tools/release/release.sh OUT_DIR [REGISTRY]    # e.g. REGISTRY=ghcr.io/jiradrift or 127.0.0.1:5000/jiradrift
#
# Without REGISTRY it stops after the local artifacts (wheel, SBOM, chart package, install manifest).
# With it: the image when docker buildx is there (SKIP_IMAGE=1 leaves it out), the chart pushed as
# OCI, both signed (COSIGN_KEY for a key; keyless otherwise) and the chart's signature verified
# (COSIGN_PUB). Prints one "name: path-or-reference" line per artifact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$(mkdir -p "${1:?usage: release.sh OUT_DIR [REGISTRY]}" && cd "$1" && pwd)"
registry="${2:-}"
here="$root/tools/release"
t0=$(date +%s.%N)
step() { log "$1 ($(python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.1f}')" "$(date +%s.%N)" "$t0") s)"; }

v="$(version)"
step "version $v"
bash "$here/check.sh" >&2
wheel="$(bash "$here/wheel.sh" "$out")"; step "wheel $wheel"
sbom=""
if command -v cyclonedx-py >/dev/null 2>&1 || [[ -x "$(dirname "${PYTHON:-python3}")/cyclonedx-py" ]]; then
  sbom="$(bash "$here/sbom.sh" "$wheel" "$out")"; step "sbom $sbom"
else
  log "cyclonedx-py not installed: no Python SBOM (pip install cyclonedx-bom)"
fi
tgz="$(bash "$here/chart.sh" "$out")"; step "chart $tgz"

image_ref=""
manifest_flags=()
if [[ -n "$registry" && "${SKIP_IMAGE:-}" != 1 ]] && docker buildx version >/dev/null 2>&1; then
  image_ref="$(bash "$here/image.sh" "$registry/jira-drift-operator")"; step "image $image_ref"
  manifest_flags=(--set "image.repository=${image_ref%@*}" --set "image.digest=${image_ref#*@}")
fi
manifest="$(bash "$here/manifest.sh" "$out" "${manifest_flags[@]}")"; step "manifest $manifest"

chart_ref=""
if [[ -n "$registry" ]]; then
  chart_ref="$(bash "$here/push-chart.sh" "$tgz" "oci://$registry/charts")"; step "chart pushed $chart_ref"
  bash "$here/sign.sh" "$chart_ref" >/dev/null; step "chart signed"
  [[ -n "$image_ref" ]] && { bash "$here/sign.sh" "$image_ref" >/dev/null; step "image signed"; }
  if [[ -n "${COSIGN_PUB:-}" || -z "${COSIGN_KEY:-}" ]]; then
    bash "$here/verify.sh" "$chart_ref" >/dev/null; step "chart signature verified"
  fi
fi
echo "version: $v"
echo "wheel: $wheel"
[[ -n "$sbom" ]] && echo "sbom: $sbom"
echo "chart: $tgz"
echo "manifest: $manifest"
[[ -n "$image_ref" ]] && echo "image: $image_ref"
[[ -n "$chart_ref" ]] && echo "chart-oci: $chart_ref"
step "done"
