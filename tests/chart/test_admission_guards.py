"""An install has its admission guards or fails with a message; an opt-out is explicit and said
(issue 23, Secrets: the guards were rendered only when Helm saw the ValidatingAdmissionPolicy API,
so `helm template` -- as GitOps pipelines run it, even with --kube-version -- and 1.29 clusters
silently got none of them, and NOTES.txt said nothing).
"""

from __future__ import annotations

import pytest
from chartlib import CHART, Helm, by_kind, documents, unique

from jiradrift.dev.controlplane import ControlPlane

GUARDS = {"-secret-guard", "-tenant-spec-guard", "-tenant-hosts"}


def _guards(manifest: str) -> set[str]:
    names: set[str] = set()
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        for doc in by_kind(documents(manifest), kind):
            names |= {f"{kind}:{suffix}" for suffix in GUARDS if doc["metadata"]["name"].endswith(suffix)}
    return names


ALL = {f"{kind}:{s}" for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding") for s in GUARDS}


@pytest.mark.parametrize("kube_version", ["1.30.0", "1.36.3"])
def test_helm_template_renders_every_guard_without_seeing_the_api(helm: Helm, kube_version: str) -> None:
    """No --api-versions: what a GitOps pipeline's `helm template` sees."""
    out = helm.run("template", "drift", str(CHART), "--kube-version", kube_version).stdout
    assert _guards(out) == ALL


def test_a_cluster_without_validating_admission_policy_v1_is_refused_with_a_message(helm: Helm) -> None:
    proc = helm.run("template", "drift", str(CHART), "--kube-version", "1.29.9", check=False)
    assert proc.returncode != 0
    assert ">=1.30.0-0" in proc.stderr and "1.29.9" in proc.stderr, proc.stderr


@pytest.mark.k8s
def test_an_opt_out_is_explicit_and_said_in_the_notes(helm: Helm, control_plane: ControlPlane) -> None:
    both = ("--set", "tenantSpecGuard.enabled=false", "--set", "hostAllowlistPolicy.enabled=false")
    out = helm.run("template", "drift", str(CHART), "--kube-version", "1.36.3", *both).stdout
    assert _guards(out) == set()

    def notes(*sets: str) -> str:
        # a server dry run: the real cluster's version and APIs, nothing persisted
        args = ("install", unique("jdn"), str(CHART), "--dry-run=server", "--namespace", "default")
        return control_plane.helm(*args, "--set", "crds.install=false", *sets).stdout

    off = notes(*both)
    assert "WARNING: admission guards switched off" in off
    assert "tenantSpecGuard.enabled=false" in off and "hostAllowlistPolicy.enabled=false" in off
    default = notes()
    assert "Admission guards installed" in default and "WARNING" not in default
