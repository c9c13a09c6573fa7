"""Snapshots the operator has nothing left to do for cost it nothing per event: a namespace's users
can touch their finished Snapshots (labels, annotations) as often as they like, and the operator
neither reads nor writes anything for it. Counted by kube-apiserver itself
(``apiserver_request_total``), as in test_steady_tenant.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, conditions_are, make_secret, make_tenant, manual_snapshot, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import api_requests
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

FINISHED, TOUCHES, TICKS = 12, 5, 8


def test_events_of_finished_snapshots_cost_the_operator_no_request(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "site", jira_sim.base_url, "jira", ["priorities"], paused=True)
    names = [f"gone-{i}" for i in range(FINISHED)]
    for name in names:  # naming a tenant that does not exist: Failed at once, the operator's one act
        control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual_snapshot(name, "priorities", "gone"))
    quiet_notifier = ["--notify-interval", "3600"]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=quiet_notifier) as op:

        def all_failed() -> bool:
            phases = {s["metadata"]["name"]: (s.get("status") or {}).get("phase") for s in snapshots(k8s_api, ns)}
            assert set(phases.values()) == {"Failed"} and len(phases) == FINISHED, phases
            return True

        wait_for(all_failed, "every Snapshot naming a missing tenant Failed", op=op, timeout=60)

        def tenant_steady() -> bool:  # its status written: Ready, and Drifted from the first acceptance
            tenant = conditions_are(k8s_api, ns, "site", Ready="True")
            assert condition(tenant, "Drifted"), "no Drifted condition yet"
            return True

        wait_for(tenant_steady, "the paused tenant's status written", op=op, timeout=60)
        before, began = api_requests(k8s_api), time.monotonic()
        objects = k8s.CustomObjectsApi(k8s_api)
        for round_ in range(TOUCHES):
            for name in names:
                patch = {"metadata": {"annotations": {"example.com/touched": str(round_)}}}
                objects.patch_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", name, patch)

        def ticks() -> dict[tuple[str, str], float]:  # the paused tenant's reconciliations go on meanwhile
            now = api_requests(k8s_api)
            delta = {k: v - before.get(k, 0.0) for k, v in now.items() if v != before.get(k, 0.0)}
            assert delta.get(("GET", "secrets"), 0) >= TICKS, delta
            return delta

        delta = wait_for(ticks, f"{TICKS} reconciliations after the touches", op=op, timeout=TICKS * 4)
        elapsed = time.monotonic() - began

    assert delta.pop(("PATCH", "snapshots"), 0) == FINISHED * TOUCHES, "only this test's own patches"
    reads = {k: v for k, v in delta.items() if k[0] in ("GET", "LIST", "WATCH")}
    writes = {k: v for k, v in delta.items() if k not in reads}
    own_lease_renewals = writes.pop(("PUT", "leases"), 0)  # kube-apiserver's identity Lease, every 10 s
    assert own_lease_renewals <= elapsed / 10 + 1, f"{own_lease_renewals} Lease writes in {elapsed:.0f}s"
    assert writes == {}, f"finished Snapshots' events made the operator write {writes}"
    snapshot_reads = {k: v for k, v in reads.items() if k[1].startswith("snapshots") and k[0] != "WATCH"}
    assert snapshot_reads == {}, f"finished Snapshots' events made the operator read {reads}"
