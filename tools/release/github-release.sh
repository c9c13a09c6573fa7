#!/usr/bin/env bash
# Create the GitHub release for TAG with the artifacts in DIST attached (install manifest, SBOM,
# wheel, chart package) and notes that name the signed image and chart by digest. Its section of
# CHANGELOG.md (with the upgrade note) leads the notes. Needs the gh CLI and GH_TOKEN.
#
#   tools/release/github-release.sh v1.2.3 dist ghcr.io/...@sha256:... ghcr.io/.../charts/jira-drift-operator@sha256:...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tag="${1:?usage: github-release.sh TAG DIST IMAGE_REF CHART_REF}"; dist="$2"; image="$3"; chart="$4"
v="${tag#v}"
notes="$(mktemp)"; trap 'rm -f "$notes"' EXIT
{
  # The version's section of CHANGELOG.md: from its heading to the next version heading.
  if [[ -f "$root/CHANGELOG.md" ]]; then
    awk -v v="$v" '/^## /{p = index($0, v) > 0} p' "$root/CHANGELOG.md"
  fi
  cat <<NOTES

### Install

    helm install jira-drift-operator oci://${chart%/jira-drift-operator@*}/jira-drift-operator --version $v

or \`kubectl apply --server-side -f install.yaml\` (attached).

Image: \`$image\`
Chart: \`$chart\`

Both are signed with cosign by this workflow; verify before installing:

    tools/release/verify.sh $image
    tools/release/verify.sh $chart
NOTES
} >"$notes"
prerelease=(); [[ "$v" == *-rc.* ]] && prerelease=(--prerelease)
gh release create "$tag" --title "$tag" --notes-file "$notes" --verify-tag "${prerelease[@]}" \
  "$dist"/install.yaml "$dist"/*.cdx.json "$dist"/*.whl "$dist"/*.tgz
