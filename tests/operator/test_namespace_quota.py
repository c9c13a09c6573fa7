"""A namespace at its ResourceQuota's Snapshot count (the chart's resourceQuota): the operator's
scheduled create is refused by the API server; the operator says so (a Warning Event on the tenant,
naming the quota and the fix), keeps the tenant's status current, and tries again at later ticks
instead of failing the whole reconciliation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import conditions_are, make_secret, make_tenant, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def full_snapshot_quota(api: k8s.ApiClient, ns: str) -> None:
    """A quota of no Snapshots. This control plane has no kube-controller-manager: its status (what
    the quota controller would write) is set here; the API server's admission enforces it."""
    core = k8s.CoreV1Api(api)
    hard = {"count/snapshots.jiradrift.io": "0"}
    quota = core.create_namespaced_resource_quota(
        ns, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "objects"}, "spec": {"hard": hard}}
    )
    body = api.sanitize_for_serialization(quota)
    core.replace_namespaced_resource_quota_status(
        "objects", ns, {**body, "status": {"hard": hard, "used": dict.fromkeys(hard, "0")}}
    )


def test_a_full_quota_is_reported_and_the_tenant_status_still_written(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    full_snapshot_quota(k8s_api, ns)
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"])
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1) as op:

        def quota_event() -> dict[str, Any]:
            items = json.loads(control_plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
            found = [e for e in items if e["involvedObject"]["name"] == "acme" and e["reason"] == "QuotaExceeded"]
            assert found, "no QuotaExceeded Event on the tenant yet"
            return dict(found[0])

        event = wait_for(quota_event, "a QuotaExceeded Event on the JiraTenant", op=op, timeout=60)
        assert event["type"] == "Warning" and "count/snapshots.jiradrift.io" in event["message"], event
        tenant = wait_for(lambda: conditions_are(k8s_api, ns, "acme", Ready="True"), "the tenant Ready", op=op)
        assert (tenant.get("status") or {}).get("nextSnapshotTime"), tenant.get("status")
        assert snapshots(k8s_api, ns) == []
        wait_for(lambda: op.text().count("not created: ") >= 2, "the create tried again at a later tick", op=op)
