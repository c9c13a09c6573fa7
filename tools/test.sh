#!/usr/bin/env bash
# The test command: unit, emulator and integration tests together, against a real
# kube-apiserver + etcd built from Go modules. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$(bash tools/bootstrap.sh | tail -n1)"
export JIRADRIFT_K8S_BIN="$bin"
exec .venv/bin/pytest -p no:cacheprovider "$@"
