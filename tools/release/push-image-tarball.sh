#!/usr/bin/env bash
# Push an image saved as a tarball (`docker save`, e.g. what tools/build-image.sh prints) to a registry
# with crane, no container daemon needed, and print REGISTRY/REPO@sha256:... (what the chart pins with
# image.digest and sign.sh signs). For a registry without a multi-arch build at hand: the node test,
# a dry run; the release workflow pushes with image.sh instead.
#
#   tools/release/push-image-tarball.sh ~/.cache/jiradrift/images/operator-XXXX.tar 127.0.0.1:5000/jiradrift/jira-drift-operator:0.2.0
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tar="${1:?usage: push-image-tarball.sh IMAGE.tar REGISTRY/REPO:TAG}"; ref="${2:?usage: push-image-tarball.sh IMAGE.tar REGISTRY/REPO:TAG}"
[[ "$ref" == *:* && "$ref" != *@* ]] || die "push to a tag (REGISTRY/REPO:TAG), not $ref"
crane="$(tool crane)"
flags=(); plain_http && flags+=(--insecure)
"$crane" "${flags[@]}" push "$tar" "$ref" >&2
digest="$("$crane" "${flags[@]}" digest "$ref")"
[[ "$digest" == sha256:* ]] || die "crane digest $ref printed no digest"
echo "${ref%:*}@$digest"
