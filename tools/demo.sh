#!/usr/bin/env bash
# The README's first command: build (or reuse) everything, then run `jiradrift demo`:
# a local control plane, the Jira emulator, the chart and the operator, and a real drift.
# With `--context NAME` the demo runs on that kubectl context's cluster instead (kind, k3d, minikube,
# any cluster; kubectl, helm and docker from PATH): no Kubernetes build, no root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for arg in "$@"; do
  if [[ "$arg" == --context || "$arg" == --context=* ]]; then
    if [[ ! -x .venv/bin/jiradrift ]]; then
      "${PYTHON:-python3}" -m venv .venv
      .venv/bin/pip install -q -e .
    fi
    exec .venv/bin/jiradrift demo "$@"
  fi
done
bin="$(bash tools/bootstrap.sh | tail -n1)"
export JIRADRIFT_K8S_BIN="$bin"
exec .venv/bin/jiradrift demo "$@"
