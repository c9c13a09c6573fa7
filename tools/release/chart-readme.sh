#!/usr/bin/env bash
# The chart's README.md, generated from values.yaml (its `# --` comments) and README.md.gotmpl by
# helm-docs (built from Go modules by tools/build-go-tool.sh). --check regenerates into a scratch copy
# and fails, with the diff, when the committed README differs (CI runs that).
#
#   tools/release/chart-readme.sh            # rewrite charts/jira-drift-operator/README.md
#   tools/release/chart-readme.sh --check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
helm_docs="$(tool helm-docs)"
generate() {  # chart dir
  (cd "$1" && "$helm_docs" --chart-search-root . --template-files README.md.gotmpl --output-file README.md \
     --log-level warning >&2)
}
if [[ "${1:-}" == "--check" ]]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  cp -r "$chart_dir" "$tmp/chart"
  generate "$tmp/chart"
  if ! diff -u "$chart_dir/README.md" "$tmp/chart/README.md" >&2; then
    die "charts/jira-drift-operator/README.md is stale: run tools/release/chart-readme.sh and commit it"
  fi
  log "chart README is up to date"
else
  generate "$chart_dir"
  log "wrote $chart_dir/README.md"
fi
