"""Issue 23, end to end with the filesystem store: tenants in two namespaces with the same names (so
the same Snapshot names) keep their own payloads, and a baseline naming another tenant's Snapshot
fails that Snapshot with a clear reason instead of putting the other tenant's data in its report."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, manual_snapshot

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, running_operator, wait_for
from jiradrift.store.filesystem import FilesystemStore

pytestmark = pytest.mark.k8s

FINAL = ("Completed", "Incomplete", "Failed")


@pytest.fixture
def second_namespace(k8s_api: k8s.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = k8s.CoreV1Api(k8s_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def finished(api: k8s.ApiClient, ns: str, name: str, op: OperatorProcess) -> dict[str, Any]:
    status: dict[str, Any] = wait_for(
        lambda: (s := get(api, ns, "snapshots", name).get("status") or {}).get("phase") in FINAL and s,
        f"{ns}/{name} finished",
        op=op,
        timeout=90,
    )
    return status


def test_same_names_in_two_namespaces_stay_apart_and_another_tenants_baseline_is_refused(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    second_namespace: str,
    jira_sim: Any,
    tmp_path: Path,
) -> None:
    team_a, team_b, creds = k8s_namespace, second_namespace, jira_sim.credentials
    for ns in (team_a, team_b):
        make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
        make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"], paused=True)
    foreign = {"compareTo": "baseline", "baselineSnapshot": "acme-priorities-1"}
    make_tenant(k8s_api, team_a, "other", jira_sim.base_url, "jira", ["priorities"], paused=True, drift=foreign)
    with running_operator(control_plane, [team_a, team_b], tmp_path, store="filesystem", tenant_interval=1) as op:
        for ns in (team_a, team_b):
            control_plane.kubectl(
                "apply", "-n", ns, "-f", "-", input=manual_snapshot("acme-priorities-1", "priorities")
            )
        a = finished(k8s_api, team_a, "acme-priorities-1", op)
        b = finished(k8s_api, team_b, "acme-priorities-1", op)
        assert a["phase"] == b["phase"] == "Completed", (a, b)

        manual = manual_snapshot("other-priorities-1", "priorities", tenant="other")
        control_plane.kubectl("apply", "-n", team_a, "-f", "-", input=manual)
        other = finished(k8s_api, team_a, "other-priorities-1", op)
    assert other["phase"] == "Failed", other
    ready = condition({"status": other}, "Ready")
    assert ready["reason"] == "BaselineOfAnotherTenant", ready
    message = ready["message"]
    assert "'acme-priorities-1'" in message and f"'{team_a}/acme'" in message and "baselineSnapshot" in message

    # each namespace has its own store, each holding its own tenant's snapshot
    root = tmp_path / "store"
    for ns in (team_a, team_b):
        store = FilesystemStore.open(root / "namespaces" / ns)
        infos = [(i.snapshot_id, i.tenant) for i in store._list_snapshots()]
        assert ("acme-priorities-1", f"{ns}/acme") in infos, infos
