#!/usr/bin/env bash
# Verify an artifact's cosign signature against the registry before installing it; exit non-zero when
# it is unsigned or signed by someone else. With COSIGN_PUB, against that public key (offline: no
# transparency log); otherwise against the release workflow's keyless identity.
#
#   tools/release/verify.sh ghcr.io/jiradrift/jira-drift-operator@sha256:...
#   COSIGN_PUB=cosign.pub tools/release/verify.sh 127.0.0.1:5000/jiradrift/jira-drift-operator:1.2.3
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ref="${1:?usage: verify.sh REGISTRY/REPO[:TAG|@sha256:...]}"
cosign="$(tool cosign)"
flags=(--output json)
plain_http && flags+=(--allow-http-registry --allow-insecure-registry)
if [[ -n "${COSIGN_PUB:-}" ]]; then
  # Offline: no transparency log, and an empty trusted root, so cosign fetches none from the public
  # TUF repository (a key needs neither).
  trusted_root="$(mktemp)"; trap 'rm -f "$trusted_root"' EXIT
  echo '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' >"$trusted_root"
  flags+=(--key "$COSIGN_PUB" --insecure-ignore-tlog=true --trusted-root "$trusted_root")
else
  flags+=(--certificate-oidc-issuer https://token.actions.githubusercontent.com
          --certificate-identity-regexp "^https://github.com/${JIRADRIFT_REPOSITORY:-jiradrift/jira-drift-operator}/.github/workflows/release.yaml@refs/tags/v")
fi
"$cosign" verify "${flags[@]}" "$ref"
