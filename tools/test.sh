#!/usr/bin/env bash
# The test command: unit, emulator and integration tests together, against a real
# kube-apiserver + etcd and a real S3 server (versitygw), both built from Go modules. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$(bash tools/bootstrap.sh | tail -n1)"
export JIRADRIFT_K8S_BIN="$bin"
JIRADRIFT_S3_BIN="$(bash tools/build-s3.sh | tail -n1)"  # built by bootstrap; cached: instant
export JIRADRIFT_S3_BIN
# The node tests need the operator image. Build it here (cached by build-context hash) rather than in a
# fixture, where a cold build on a busy machine ran into pytest's per-test timeout.
if [[ $# -eq 0 || "$*" == *tests/node* ]]; then
  bash tools/build-image.sh >/dev/null
fi
exec .venv/bin/pytest -p no:cacheprovider "$@"
