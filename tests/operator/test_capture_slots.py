"""--max-concurrent-captures: a window that opens for many tenants at once runs a bounded number of
captures at a time (found by bench/scale_bench.py: 1,000 at once took 644 MiB and timed out API calls)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, manual_snapshot, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.api.windows import snapshot_name, window_iso
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

SLOTS, TENANTS = 2, 6


def test_captures_beyond_the_slots_wait_their_turn(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    jira_sim.set_latency(150)  # each capture takes a while, so they would overlap if let
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    names = [f"site-{i}" for i in range(TENANTS)]
    for name in names:
        make_tenant(k8s_api, ns, name, jira_sim.base_url, "jira", ["workflows"], paused=True)
    extra = ["--max-concurrent-captures", str(SLOTS)]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=extra) as op:
        for name in names:
            control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual_snapshot(f"{name}-m", "workflows", name))

        def all_completed() -> bool:
            phases = {n: (get(k8s_api, ns, "snapshots", f"{n}-m").get("status") or {}).get("phase") for n in names}
            assert set(phases.values()) == {"Completed"}, phases
            return True

        wait_for(all_completed, f"{TENANTS} Snapshots Completed", op=op, timeout=180)
        wait_for(lambda: len(re.findall(r" completed: ", op.text())) >= TENANTS, "completion log lines", op=op)
        lines = op.lines()

    events: list[tuple[datetime, int]] = []
    for line in lines:
        message = line.get("message", "")
        if re.match(r"snapshot \S+ capturing under", message):
            events.append((datetime.fromisoformat(line["time"].replace("Z", "+00:00")), +1))
        elif re.match(r"snapshot \S+ completed: ", message):
            events.append((datetime.fromisoformat(line["time"].replace("Z", "+00:00")), -1))
    running = peak = 0
    for _, step in sorted(events):
        running += step
        peak = max(peak, running)
    assert sum(1 for _, s in events if s > 0) == TENANTS
    assert peak == SLOTS, f"at most {SLOTS} captures at once, and the slots were used: peak {peak}"


FLOOD = 20


def test_forged_scheduled_snapshots_do_not_jump_the_queue(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    """One tenant's author floods Snapshots that claim to be scheduled for 1970 (with the
    deterministic name of such a window, or any name); another tenant's own scheduled window, opened
    while the flood waits, gets the next free slot: with one slot, no more than one forged capture
    starts between its creation and its capture. Before the fix it waited for the whole flood."""
    ns, creds = k8s_namespace, jira_sim.credentials
    jira_sim.set_latency(400)  # a forged capture takes a while: the flood still waits when the window opens
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "flood", jira_sim.base_url, "jira", ["workflows"], paused=True)
    make_tenant(k8s_api, ns, "victim", jira_sim.base_url, "jira", ["priorities"])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    objects = k8s.CustomObjectsApi(k8s_api)
    for i in range(FLOOD):
        start = epoch + timedelta(hours=6 * i)
        name = snapshot_name("flood", "workflows", start) if i % 2 else f"aaa-forged-{i}"
        spec = {"tenantRef": {"name": "flood"}, "type": "workflows", "reason": "Scheduled"}
        spec["windowStart"] = window_iso(start)
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Snapshot", "metadata": {"name": name}, "spec": spec}
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", body)
    extra = ["--max-concurrent-captures", "1"]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=extra) as op:

        def victim_completed() -> str:
            mine = [s for s in snapshots(k8s_api, ns) if s["spec"]["tenantRef"]["name"] == "victim"]
            assert len(mine) == 1, "the victim's window has no Snapshot yet"
            assert (mine[0].get("status") or {}).get("phase") == "Completed", mine[0].get("status")
            return str(mine[0]["metadata"]["name"])

        victim = wait_for(victim_completed, "the victim's scheduled Snapshot Completed", op=op, timeout=120)
        wait_for(lambda: f"snapshot {ns}/{victim} completed: " in op.text(), "its completion log line", op=op)
        messages = [str(x.get("message", "")) for x in op.lines()]
    created = next(i for i, m in enumerate(messages) if m.startswith(f"created Snapshot {victim} "))
    started = next(i for i, m in enumerate(messages) if m.startswith(f"snapshot {ns}/{victim} capturing under"))
    flood = re.compile(rf"snapshot {ns}/(aaa-forged|flood-)\S+ capturing under")
    forged = [i for i, m in enumerate(messages) if flood.match(m)]
    jumped = [i for i in forged if created < i < started]
    assert len(jumped) <= 1, f"{len(jumped)} forged captures started while the victim's scheduled one waited"
    waiting = FLOOD - len([i for i in forged if i < started])
    assert waiting >= 2, f"the flood had drained before the victim's capture: {waiting} forged captures waiting"
