"""Two operators on one cluster, and an operator killed mid-capture: exactly one capture per window.

Both run as separate `jiradrift run --standalone` processes against the real kube-apiserver; the
Lease per window is the only thing between them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.api.windows import snapshot_name, window_iso
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, running_operator, start_operator, wait_for

pytestmark = pytest.mark.k8s


def scheduled(ns: str, tenant: str, type_: str, start: datetime) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": snapshot_name(tenant, type_, start), "namespace": ns},
        "spec": {
            "tenantRef": {"name": tenant},
            "type": type_,
            "windowStart": window_iso(start),
            "reason": "Scheduled",
        },
    }


def phases(api: k8s.ApiClient, ns: str) -> list[str]:
    return [(s.get("status") or {}).get("phase", "") for s in snapshots(api, ns)]


def acquired_keys(text: str) -> list[str]:
    return re.findall(r"(snapshot_lock:\S+) acquired", text)


def reconciled_tenant(op: OperatorProcess, tenant: str) -> bool:
    """The operator has handled the JiraTenant: it is up and its watches are running."""
    return any(
        (line.get("object") or {}).get("kind") == "JiraTenant"
        and (line.get("object") or {}).get("name") == tenant
        and line.get("message", "").startswith("reconciled JiraTenant")
        for line in op.lines()
    )


def no_leases_left(plane: ControlPlane, ns: str) -> bool:
    """True once the namespace has no Lease: each window's Lease is deleted when its capture releases it."""
    leases: list[dict[str, Any]] = json.loads(plane.kubectl("get", "leases", "-n", ns, "-o", "json").stdout)["items"]
    held = {lease["metadata"]["name"]: lease["spec"].get("holderIdentity") for lease in leases}
    assert not leases, f"{len(leases)} Leases left (want none), holders: {held}"
    return True


def test_two_operators_capture_each_window_exactly_once(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, windows = k8s_namespace, 20
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    # paused: the test, not the schedule, decides which windows exist
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"], paused=True)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with (
        running_operator(control_plane, [ns], tmp_path, name="op-a") as a,
        running_operator(control_plane, [ns], tmp_path, name="op-b") as b,
    ):
        # Both must be watching before the windows exist: one still starting would find them all
        # taken when its first list arrives, and the race this test is about would not happen.
        for op in (a, b):
            wait_for(lambda op=op: reconciled_tenant(op, "acme"), f"{op.log.stem} reconciled the tenant", op=op)
        for i in range(windows):
            body = scheduled(ns, "acme", "priorities", t0 + timedelta(hours=6 * i))
            control_plane.kubectl("apply", "-f", "-", input=json.dumps(body))
        wait_for(
            lambda: phases(k8s_api, ns) == ["Completed"] * windows,
            f"{windows} windows Completed",
            op=a,
            timeout=180,
        )
        assert b.proc.poll() is None
        # the "completed" log line follows the status patch, and the Lease is released after it
        wait_for(
            lambda: len(re.findall(r"snapshot \S+ completed", a.text() + b.text())) >= windows,
            "completion log lines",
            op=a,
            timeout=60,
        )
        wait_for(lambda: no_leases_left(control_plane, ns), "every window's Lease deleted on release", op=a, timeout=60)
        text_a, text_b = a.text(), b.text()
    both = text_a + text_b
    captures = re.findall(r"snapshot (\S+) capturing under", both)
    completions = re.findall(r"snapshot (\S+) completed", both)
    acquired = len(acquired_keys(both))
    denied = len(re.findall(r"snapshot_lock:\S+ denied", both))
    # exactly one capture per window, each completed once
    assert sorted(set(captures)) == sorted(captures) and len(captures) == windows, captures
    assert sorted(completions) == sorted(captures)
    wasted = len(captures) - windows
    attempts = acquired + denied
    print(
        f"\nlock attempts: {attempts} ({acquired} acquired, {denied} denied: contention {denied / attempts:.1%}); "
        f"captures: {len(captures)} for {windows} windows, wasted {wasted} ({wasted / len(captures):.1%})"
    )
    assert wasted / len(captures) < 0.01
    # both did work (the lock shared it out)
    assert re.search("capturing under", text_a) and re.search("capturing under", text_b)


def test_operator_killed_mid_capture_completes_the_window_once(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows"], paused=True)
    jira_sim.set_latency(300)  # a capture of several seconds, so the kill lands inside it
    body = scheduled(ns, "acme", "workflows", datetime(2026, 1, 1, tzinfo=UTC))
    name = body["metadata"]["name"]
    first = start_operator(control_plane, [ns], tmp_path, name="op-first", lease_duration=8)
    try:
        control_plane.kubectl("apply", "-f", "-", input=json.dumps(body))
        wait_for(
            lambda: (get(k8s_api, ns, "snapshots", name).get("status") or {}).get("phase") == "Capturing",
            "capture started",
            op=first,
            timeout=60,
        )
    finally:
        first.kill()  # SIGKILL: no release, no cleanup
    held = json.loads(control_plane.kubectl("get", "leases", "-n", ns, "-o", "json").stdout)["items"]
    assert len(held) == 1 and held[0]["spec"]["holderIdentity"].startswith("op-first")
    jira_sim.set_latency(0)
    # A tenant tick once at startup, then not for 10 minutes: the takeover at the dead holder's
    # Lease expiry must come from the retry timer of the denied attempt, not from a later tick.
    with running_operator(
        control_plane, [ns], tmp_path, name="op-second", lease_duration=8, tenant_interval=600
    ) as second:
        snap = wait_for(
            lambda: (
                (s := get(k8s_api, ns, "snapshots", name)) and (s.get("status") or {}).get("phase") == "Completed" and s
            ),
            "the window Completed by the restarted operator",
            op=second,
            timeout=120,
        )
        # the "completed" log line follows the status patch, and the Lease is released after it
        wait_for(
            lambda: f"snapshot {ns}/{name} completed" in second.text(), "the completed log line", op=second, timeout=60
        )
        wait_for(lambda: no_leases_left(control_plane, ns), "no orphaned lock", op=second, timeout=60)
        text = second.text()
    assert re.search(r"snapshot_lock:\S+ is held by another operator; retried in [1-9]s", text), text
    assert snap["status"]["lock"]["holder"].startswith("op-second")
    assert snap["status"]["lock"]["transitions"] >= 1  # taken over from the dead holder
    assert len(re.findall(rf"snapshot {ns}/{name} completed", text)) == 1
    assert len(snapshots(k8s_api, ns)) == 1
