#!/usr/bin/env bash
# Write one version into every place that carries it (jiradrift.__version__ and so the wheel and
# `jiradrift --version`, the chart's version, appVersion and Artifact Hub image, the Dockerfile's
# VERSION label), regenerate the chart README (it shows the version), then check they agree. With
# --digest, also pin the chart's default image to that digest.
#
#   tools/release/stamp.sh 1.2.3 [--digest sha256:...]
#   tools/release/stamp.sh "$(tools/release/version.sh)"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 "$here/versions.py" stamp "$@"
bash "$here/chart-readme.sh"
python3 "$here/versions.py" check
