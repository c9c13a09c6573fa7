"""--max-concurrent-captures: a window that opens for many tenants at once runs a bounded number of
captures at a time (found by bench/scale_bench.py: 1,000 at once took 644 MiB and timed out API calls)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, manual_snapshot

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
