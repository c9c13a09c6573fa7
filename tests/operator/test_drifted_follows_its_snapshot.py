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
from tests.operator.kube import FULL_CAPTURES_ONLY, condition, get, make_secret, make_tenant, manual_snapshot, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def test_drifted_is_set_when_the_snapshot_ends_not_at_the_next_tick(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "acme-jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "acme-jira", ["workflows"], schedule=FULL_CAPTURES_ONLY)
    with running_operator(control_plane, [ns], tmp_path, extra=("--tenant-interval", "3600")) as op:
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "False",
            "Drifted=False after the first Snapshot ended (its baseline), an hour before the next tick",
            op=op,
            timeout=120,
        )
        global_wf = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
        jira_sim.admin.change_workflow(global_wf["id"], description="changed by the test")
        control_plane.kubectl(
            "apply", "-n", ns, "-f", "-", input=manual_snapshot("acme-workflows-manual-1", "workflows")
        )
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "True",
            "Drifted=True once the manual Snapshot ended, without waiting for the tenant's hourly tick",
            op=op,
            timeout=120,
        )
        manual = next(s for s in snapshots(k8s_api, ns) if s["metadata"]["name"] == "acme-workflows-manual-1")
        assert manual["status"]["phase"] == "Completed", manual["status"]
