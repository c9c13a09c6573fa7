#!/usr/bin/env bash
# A CycloneDX SBOM of the Python packages the image installs: the wheel and its dependencies, resolved
# into a scratch virtualenv exactly as the Dockerfile installs them (the image's own SBOM, of its OS
# packages too, comes from buildx in image.sh). Prints the SBOM's path; the number of components on stderr.
#
#   tools/release/sbom.sh dist/jira_drift_operator-1.2.3-py3-none-any.whl dist/
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wheel="${1:?usage: sbom.sh WHEEL OUT_DIR}"; out="$(mkdir -p "${2:?usage: sbom.sh WHEEL OUT_DIR}" && cd "$2" && pwd)"
py="${PYTHON:-python3}"
venv="$(mktemp -d)"; trap 'rm -rf "$venv"' EXIT
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$wheel" >&2
"$venv/bin/pip" uninstall -q -y pip >&2  # as the Dockerfile does: the image ships no pip
cyclonedx="$(dirname "$py")/cyclonedx-py"
[[ -x "$cyclonedx" ]] || cyclonedx="$(command -v cyclonedx-py)" || die "cyclonedx-py is missing: pip install cyclonedx-bom"
file="$out/$(basename "$wheel" .whl).cdx.json"
"$cyclonedx" environment --output-format JSON --output-file "$file" "$venv/bin/python" >&2
python3 - "$file" <<'PY' >&2
import json, sys
bom = json.load(open(sys.argv[1]))
print(f"sbom: {len(bom.get('components', []))} packages in {sys.argv[1]}")
PY
echo "$file"
