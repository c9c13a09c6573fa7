#!/usr/bin/env bash
# The version to release: the v* tag at HEAD without its "v", else jiradrift.__version__ (a development
# build). --pep440 prints the wheel's spelling (1.2.3-rc.1 -> 1.2.3rc1).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${1:-}" == "--pep440" ]]; then exec python3 "$here/versions.py" pep440; fi
exec python3 "$here/versions.py" current
