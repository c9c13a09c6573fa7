#!/usr/bin/env bash
# The release checks CI runs on every commit: every version place agrees, and the chart changed since
# the last release tag (or --base REF, e.g. the merge base of a pull request) only with a version bump.
# A clone without release tags passes the second check: nothing was published to compare against.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 "$here/versions.py" check
python3 "$here/versions.py" chart-bump "$@"
