#!/usr/bin/env bash
# Sign an OCI artifact (the image or the chart) by digest with cosign, storing the signature in the
# registry next to it. In the release workflow the signature is keyless (the workflow's OIDC identity,
# recorded in the public transparency log); with COSIGN_KEY (a key file, COSIGN_PASSWORD its password)
# it is signed with that key and, offline, not uploaded to a transparency log (tests, air-gapped forks).
#
#   tools/release/sign.sh ghcr.io/jiradrift/jira-drift-operator@sha256:...
#   COSIGN_KEY=cosign.key tools/release/sign.sh 127.0.0.1:5000/charts/jira-drift-operator@sha256:...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ref="${1:?usage: sign.sh REGISTRY/REPO@sha256:...}"
[[ "$ref" == *@sha256:* ]] || die "sign by digest, never by tag: $ref (a tag can be moved after signing)"
cosign="$(tool cosign)"
flags=(--yes)
plain_http && flags+=(--allow-http-registry --allow-insecure-registry)
if [[ -n "${COSIGN_KEY:-}" ]]; then
  flags+=(--key "$COSIGN_KEY" --tlog-upload=false)
fi
"$cosign" sign "${flags[@]}" "$ref" >&2
echo "$ref"
