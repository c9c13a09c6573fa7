#!/usr/bin/env bash
# The static install manifest for `kubectl apply -f` users: the chart rendered with its defaults (CRDs
# included) into the namespace jiradrift (or NAMESPACE), with the Namespace itself first. Prints its path.
#
#   tools/release/manifest.sh dist/ [helm template flags, e.g. --set image.digest=sha256:...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$(mkdir -p "${1:?usage: manifest.sh OUT_DIR [helm flags]}" && cd "$1" && pwd)"; shift
helm="$(tool helm)"
ns="${NAMESPACE:-jiradrift}"
file="$out/install.yaml"
# No cluster to ask: render for Kubernetes 1.30, the first to serve ValidatingAdmissionPolicy v1, so the
# chart's admission guards are in the manifest as helm install puts them into a cluster that has them.
kube_version=1.30.0
{
  echo "# jira-drift-operator $(version): kubectl apply --server-side -f install.yaml (Kubernetes >= $kube_version)"
  echo "# Rendered from the chart (helm template --include-crds); helm install gives the same objects."
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$ns"
  "$helm" template "$chart_name" "$chart_dir" --namespace "$ns" --include-crds --kube-version "$kube_version" \
    --api-versions admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy "$@"
} >"$file.tmp"
mv "$file.tmp" "$file"
echo "$file"
