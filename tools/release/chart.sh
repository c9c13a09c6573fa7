#!/usr/bin/env bash
# Lint and package the chart at the release version into OUT; print the .tgz path.
#
#   tools/release/chart.sh dist/
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$(mkdir -p "${1:?usage: chart.sh OUT_DIR}" && cd "$1" && pwd)"
helm="$(tool helm)"
v="$(version)"
python3 "$root/tools/release/versions.py" check >&2
"$helm" lint --strict "$chart_dir" >&2
"$helm" package "$chart_dir" --version "$v" --app-version "$v" --destination "$out" >&2
tgz="$out/$chart_name-$v.tgz"
[[ -f "$tgz" ]] || die "helm package did not write $tgz"
echo "$tgz"
