#!/usr/bin/env bash
# Push a packaged chart to an OCI registry and print the pushed reference by digest
# (REGISTRY/REPO/jira-drift-operator@sha256:...), which sign.sh signs.
#
#   tools/release/push-chart.sh dist/jira-drift-operator-1.2.3.tgz oci://ghcr.io/jiradrift/charts
#   JIRADRIFT_REGISTRY_PLAIN_HTTP=1 tools/release/push-chart.sh ... oci://127.0.0.1:5000/charts
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tgz="${1:?usage: push-chart.sh CHART.tgz oci://REGISTRY/REPO}"; dest="${2:?usage: push-chart.sh CHART.tgz oci://REGISTRY/REPO}"
[[ "$dest" == oci://* ]] || die "the destination must be oci://REGISTRY/REPO, not $dest"
helm="$(tool helm)"
flags=(); plain_http && flags+=(--plain-http)
out="$("$helm" push "$tgz" "$dest" "${flags[@]}" 2>&1)" || die "helm push $tgz $dest failed: $out"
echo "$out" >&2
digest="$(sed -n 's/^Digest: //p' <<<"$out")"
[[ "$digest" == sha256:* ]] || die "helm push printed no digest: $out"
echo "${dest#oci://}/$chart_name@$digest"
