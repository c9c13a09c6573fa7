"""Every step after the capture is idempotent: a Snapshot that fails after its manifest is stored
completes on retry from that manifest, without capturing the site again, against the same baseline.

The handler runs in this process (so a fault can be injected between its steps) against the real
kube-apiserver and the emulator; each retry is what kopf does after a handler raised: call it
again with the object as it now is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant

from jiradrift.api.resources import GROUP, VERSION, JiraTenantSpec
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.snapshot import FAULT_POINTS, run_snapshot
from jiradrift.handlers.stored import find_baseline
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.sim.emulator import RunningEmulator

pytestmark = pytest.mark.k8s

TYPE = "workflows"


class InjectedFault(Exception):
    pass


def make_snapshot(api: k8s.ApiClient, ns: str, name: str) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": name},
        "spec": {"tenantRef": {"name": "acme"}, "type": TYPE, "reason": "Manual"},
    }
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", body)


async def run_until_final(ctx: OperatorContext, api: k8s.ApiClient, ns: str, name: str) -> tuple[dict[str, Any], int]:
    """Call the handler as kopf would until the Snapshot's phase is final; (Snapshot, handler calls)."""
    for calls in range(1, 6):
        try:
            await run_snapshot(ctx, get(api, ns, "snapshots", name))
        except Exception:  # kopf.TemporaryError, or the injected fault (kopf retries both)
            pass
        snap = get(api, ns, "snapshots", name)
        if (snap.get("status") or {}).get("phase") in ("Completed", "Incomplete", "Failed"):
            return snap, calls
    raise AssertionError(f"Snapshot {ns}/{name} is not final after 5 calls: {snap.get('status')}")


def capture_counts(jira_sim: RunningEmulator) -> dict[str, int]:
    """Requests to the endpoints only a capture of TYPE reads (not the client's connect, not the audit log)."""
    return {op: n for op, n in jira_sim.requests.counts.items() if "workflow" in op.lower()}


def drift_events(control_plane: ControlPlane, ns: str, snapshot: str) -> list[dict[str, Any]]:
    events = json.loads(control_plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e for e in events if e["reason"] == "DriftDetected" and e["message"].startswith(f"{snapshot}:")]


@pytest.mark.parametrize("fault_at", FAULT_POINTS)
async def test_a_failure_after_the_capture_completes_from_the_stored_manifest(
    fault_at: str,
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    jira_sim: RunningEmulator,
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", [TYPE])
    settings = OperatorSettings(namespaces=[ns], allowed_hosts=HostAllowlist.parse("127.0.0.1"))
    ctx = OperatorContext(kube=kube, settings=settings, holder="test-holder")

    # A first Snapshot, without faults: the baseline, and how many requests one capture makes.
    make_snapshot(k8s_api, ns, "base")
    base, _ = await run_until_final(ctx, k8s_api, ns, "base")
    assert base["status"]["phase"] == "Completed"
    one_capture = capture_counts(jira_sim)
    assert one_capture, f"no {TYPE} endpoint was read: {dict(jira_sim.requests.counts)}"

    # The site drifts; the second Snapshot fails once, after its manifest is stored.
    jira_sim.admin.call("rename_status", {"status_id": jira_sim.site.statuses[0]["id"], "name": "Renamed"})
    jira_sim.requests.clear()
    faults: list[str] = []

    def fault_once(step: str) -> None:
        if step == fault_at and not faults:
            faults.append(step)
            raise InjectedFault(f"injected at {step}")

    ctx.before_step = fault_once
    make_snapshot(k8s_api, ns, "s2")
    snap, calls = await run_until_final(ctx, k8s_api, ns, "s2")

    assert faults == [fault_at] and calls == 2
    status = snap["status"]
    assert status["phase"] == "Completed", status
    assert capture_counts(jira_sim) == one_capture  # the site was captured exactly once
    assert status["drift"]["baseline"] == "base" and status["drift"]["total"] >= 1
    assert status["attempts"] == 2
    tenant = get(k8s_api, ns, "jiratenants", "acme")
    assert tenant["status"]["drift"]["lastSnapshot"] == "s2"
    assert len(drift_events(control_plane, ns, "s2")) == 1  # no duplicate Event from the retry

    # The store holds one manifest for s2, its drift is against base, and s2 is the next baseline.
    store = await ctx.store_for(ns, f"{ns}/acme")
    assert sorted(await store.list_manifests(f"{ns}/acme")) == ["base", "s2"]
    report = await store.get_drift("s2")
    assert report is not None and report.old_snapshot == "base" and report.has_drift
    spec = JiraTenantSpec.model_validate(tenant["spec"])
    following = await find_baseline(store, f"{ns}/acme", TYPE, "s3", spec)
    assert following is not None and following.snapshot_id == "s2"
