#!/usr/bin/env bash
# Build the operator image for linux/amd64 and linux/arm64 with docker buildx, with an SBOM and
# max-mode build provenance attached as attestations, push it as IMAGE:VERSION and print
# IMAGE@sha256:... (the digest the chart pins and sign.sh signs). Needs a docker daemon with buildx
# and (for the foreign architecture) QEMU binfmt, as the release runner has.
#
#   tools/release/image.sh ghcr.io/jiradrift/jira-drift-operator
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image="${1:?usage: image.sh REGISTRY/REPO}"
v="$(version)"
platforms="${PLATFORMS:-linux/amd64,linux/arm64}"
revision="$(git -C "$root" rev-parse HEAD)"
created="$(git -C "$root" log -1 --format=%cI HEAD)"
meta="$(mktemp)"; trap 'rm -f "$meta"' EXIT
docker buildx build "$root" \
  --platform "$platforms" \
  --build-arg "VERSION=$v" \
  --label "org.opencontainers.image.version=$v" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$created" \
  --label "org.opencontainers.image.source=https://github.com/${JIRADRIFT_REPOSITORY:-jiradrift/jira-drift-operator}" \
  --sbom=true --provenance=mode=max \
  --tag "$image:$v" \
  --metadata-file "$meta" \
  --push >&2
digest="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["containerimage.digest"])' "$meta")"
[[ "$digest" == sha256:* ]] || die "buildx reported no image digest"
echo "$image@$digest"
