"""resourceQuota: the chart's optional ResourceQuota of object counts, and the real API server
refusing the JiraTenant and the Snapshot over the count, naming the quota."""

from __future__ import annotations

from typing import Any

import pytest
from chartlib import CHART, KUBE_VERSION, Helm, by_kind, documents
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

TENANTS, SNAPSHOTS = 2, 3


def quotas(helm: Helm, *args: str) -> list[dict[str, Any]]:
    return by_kind(documents(helm.template(*args, namespace="jd")), "ResourceQuota")


def test_off_by_default_and_one_per_tenant_namespace(helm: Helm) -> None:
    assert quotas(helm) == []
    rendered = quotas(helm, "--set", "resourceQuota.enabled=true", "--set", "watchNamespaces={team-a,team-b}")
    assert [q["metadata"]["namespace"] for q in rendered] == ["team-a", "team-b"]
    assert rendered[0]["spec"]["hard"] == {
        "count/jiratenants.jiradrift.io": "20",
        "count/snapshots.jiradrift.io": "5000",
    }
    cluster_wide = helm.run(
        "template", "x", str(CHART), "--kube-version", KUBE_VERSION,
        "--set", "resourceQuota.enabled=true", "--set", "rbac.clusterWide=true",
        check=False,
    )  # fmt: skip
    assert cluster_wide.returncode != 0 and "resourceQuota.namespaces" in cluster_wide.stderr


def _tenant(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name},
        "spec": {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "jira"}}}},
    }


def _snapshot(name: str) -> dict[str, Any]:
    spec = {"tenantRef": {"name": "t0"}, "type": "workflows"}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Snapshot", "metadata": {"name": name}, "spec": spec}


def test_the_api_server_refuses_the_object_over_the_count(
    control_plane: ControlPlane, helm: Helm, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    values = ["--set", "resourceQuota.enabled=true", "--set", f"resourceQuota.namespaces={{{ns}}}"]
    values += ["--set", f"resourceQuota.jiraTenants={TENANTS}", "--set", f"resourceQuota.snapshots={SNAPSHOTS}"]
    (quota,) = quotas(helm, *values)
    core = k8s.CoreV1Api(k8s_api)
    created = core.create_namespaced_resource_quota(ns, quota)
    # This control plane has no kube-controller-manager: write the status its quota controller would
    # (what is used now: nothing); the API server's admission then counts every create itself.
    hard = quota["spec"]["hard"]
    core.replace_namespaced_resource_quota_status(
        created.metadata.name,
        ns,
        {
            **core.api_client.sanitize_for_serialization(created),
            "status": {"hard": hard, "used": dict.fromkeys(hard, "0")},
        },
    )
    objects = k8s.CustomObjectsApi(k8s_api)
    for i in range(TENANTS):
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", _tenant(f"t{i}"))
    for i in range(SNAPSHOTS):
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", _snapshot(f"s{i}"))
    for plural, body in (("jiratenants", _tenant("one-too-many")), ("snapshots", _snapshot("one-too-many"))):
        with pytest.raises(ApiException) as refused:
            objects.create_namespaced_custom_object(GROUP, VERSION, ns, plural, body)
        assert refused.value.status == 403, refused.value.body
        assert "exceeded quota" in refused.value.body and f"count/{plural}.{GROUP}" in refused.value.body
