#!/usr/bin/env bash
# Build the wheel (and sdist) of the version in the tree into OUT, check its metadata (twine check when
# twine is installed) and print the wheel's path. The version comes from jiradrift.__version__: stamp first.
#
#   tools/release/wheel.sh dist/
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$(mkdir -p "${1:?usage: wheel.sh OUT_DIR}" && cd "$1" && pwd)"
want="$(python3 "$root/tools/release/versions.py" pep440)"
py="${PYTHON:-python3}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# A copy of exactly what the wheel is built from: no egg-info or build/ of an editable install leaks in.
cp -r "$root/pyproject.toml" "$root/README.md" "$root/operator" "$tmp/"
[[ -f "$root/LICENSE" ]] && cp "$root/LICENSE" "$tmp/"
find "$tmp" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
"$py" -m pip wheel -q --no-deps --no-build-isolation "$tmp" -w "$out" >&2 2>/dev/null \
  || "$py" -m pip wheel -q --no-deps "$tmp" -w "$out" >&2
wheel="$out/jira_drift_operator-$want-py3-none-any.whl"
[[ -f "$wheel" ]] || die "expected $wheel (version $want) after the build; found: $(ls "$out")"
if "$py" -m twine --version >/dev/null 2>&1; then "$py" -m twine check --strict "$wheel" >&2; fi
echo "$wheel"
