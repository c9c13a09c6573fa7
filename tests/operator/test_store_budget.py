"""The byte budget in a cluster: the operator's cluster-wide cap (chart store.maxBytesPerTenant ->
--store-max-bytes) stops a capture that would exceed it, Incomplete with reason BudgetExceeded, and the
store holds no more than the budget."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, manual_snapshot

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.store.configmap import SNAPSHOT_PACK_TYPE

pytestmark = pytest.mark.k8s

BUDGET = 4096


def test_a_capture_over_the_cap_ends_incomplete_budget_exceeded_within_the_budget(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["fields"], paused=True)
    with running_operator(
        control_plane, [ns], tmp_path, tenant_interval=1, extra=[f"--store-max-bytes={BUDGET}"]
    ) as op:
        manual = manual_snapshot("acme-fields-1", "fields")
        control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual)
        status = wait_for(
            lambda: (
                (s := get(k8s_api, ns, "snapshots", "acme-fields-1").get("status") or {}).get("phase")
                in ("Incomplete", "Completed", "Failed")
                and s
            ),
            "acme-fields-1 finished",
            op=op,
            timeout=90,
        )
    assert status["phase"] == "Incomplete", status
    ready = condition({"status": status}, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "BudgetExceeded"), ready
    assert "spec.retention.maxBytes" in ready["message"] and str(BUDGET) in ready["message"]
    parts = json.loads(
        control_plane.kubectl(
            "get", "secrets", "-n", ns, "--field-selector", f"type={SNAPSHOT_PACK_TYPE}", "-o", "json"
        ).stdout
    )["items"]
    stored = sum(len(k) + len(base64.b64decode(v)) for p in parts for k, v in (p.get("data") or {}).items())
    assert stored <= BUDGET
    assert not [p for p in parts if p["metadata"]["labels"].get("jiradrift.io/part") == "manifest"]
