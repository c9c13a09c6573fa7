#!/usr/bin/env bash
# The README's first command: build (or reuse) everything, then run `jiradrift demo`:
# a local control plane, the Jira emulator, the chart and the operator, and a real drift.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$(bash tools/bootstrap.sh | tail -n1)"
export JIRADRIFT_K8S_BIN="$bin"
exec .venv/bin/jiradrift demo "$@"
