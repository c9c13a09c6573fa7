"""A tenant's ``Drifted`` follows the Snapshot that ended, not the tenant's next tick: the watch
event of a Snapshot reaching a final phase makes its tenant due at once (``TenantTicker.nudge``).

The operator runs with a tenant tick of an hour, so only that nudge can set ``Drifted`` within the
test's bounds (before it, the latency bench measured a median 26 s of a change's 93 s here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, drift_by_hand, get, make_acme, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def test_drifted_is_set_when_the_snapshot_ends_not_at_the_next_tick(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    make_acme(k8s_api, ns, jira_sim, ["workflows"])
    with running_operator(control_plane, [ns], tmp_path, extra=("--tenant-interval", "3600")) as op:
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "False",
            "Drifted=False after the first Snapshot ended (its baseline), an hour before the next tick",
            op=op,
            timeout=120,
        )
        why = "Drifted=True once the manual Snapshot ended, without waiting for the tenant's hourly tick"
        drift_by_hand(control_plane, k8s_api, ns, jira_sim, op, why)
        manual = next(s for s in snapshots(k8s_api, ns) if s["metadata"]["name"] == "acme-workflows-manual-1")
        assert manual["status"]["phase"] == "Completed", manual["status"]
