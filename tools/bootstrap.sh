#!/usr/bin/env bash
# Create .venv with the package and its dev extra, and build (or reuse) promtool, the S3 test server
# and the control plane. Idempotent; prints the control-plane bin dir on its last line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v go >/dev/null || { echo "bootstrap: Go >= 1.26 is required to build kube-apiserver (see README)" >&2; exit 1; }
PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
fi
# promtool checks and unit-tests the chart's alert rules (tests/alerts); quick when cached.
bash tools/build-promtool.sh >/dev/null
bash tools/build-s3.sh >/dev/null  # versitygw for the S3 store tests (tools/test.sh prints its path)
# The release tooling and its tests (tests/release): an OCI registry, crane, cosign, helm-docs, actionlint.
for tool in registry crane cosign helm-docs actionlint; do bash tools/build-go-tool.sh "$tool" >/dev/null; done
# The git servers of tests/plugins/git.py (tests/history, tests/handlers/test_history*.py,
# tests/cmd/test_history_export.py) run Debian's sshd and git (git-shell, http-backend) on loopback.
if ! command -v git >/dev/null || [[ ! -x /usr/sbin/sshd ]] || ! command -v ssh-keygen >/dev/null; then
  echo "bootstrap: installing openssh-server, openssh-client and git from Debian for the history tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client git >/dev/null
fi
bash tools/build-control-plane.sh
