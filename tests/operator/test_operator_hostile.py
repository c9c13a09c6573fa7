"""A hostile Jira site next to a healthy one, in one operator: the hostile tenant's Snapshot ends
``Incomplete`` with reasons that say what the site did, the healthy tenant completes its window
on time, and a site that stalls its health check is reported within the probe deadline.

Three emulators on loopback; the operator is its own process (``jiradrift run``) with limits
tightened by flags so the test takes seconds (tests/snapshot/test_capture_hostile_sites.py proves the
defaults bounded too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, snapshots
from tests.plugins.sim import EmulatorFactory

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

MiB = 1024 * 1024
LIMITS = ["--max-response-bytes", str(8 * MiB), "--max-pages", "40", "--request-deadline", "4", "--max-wait", "10"]
LIMITS += ["--probe-timeout", "3"]


def _final(api: k8s.ApiClient, ns: str, tenant: str) -> dict[str, Any] | None:
    for snap in snapshots(api, ns):
        if snap["spec"]["tenantRef"]["name"] == tenant and (snap.get("status") or {}).get("phase") in (
            "Completed",
            "Incomplete",
            "Failed",
        ):
            return snap
    return None


def test_hostile_tenant_is_incomplete_while_a_healthy_one_completes(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim_factory: EmulatorFactory,
    tmp_path: Path,
) -> None:
    ns = k8s_namespace
    healthy, hostile, stalling = jira_sim_factory(seed=1), jira_sim_factory(seed=2), jira_sim_factory(seed=3)
    # One attack per listing of the priorities snapshot type; serverInfo and the probe's
    # /statuses/search stay sane, so the hostile tenant is Ready and captures.
    hostile.faults.gzip_bomb(size=100 * MiB, path="/rest/api/3/resolution/search")
    hostile.faults.looping_pages(path="/rest/api/3/priority/search")
    hostile.faults.retry_after("inf", path="/rest/api/3/issueLinkType")
    hostile.faults.trickle(seconds=1.0, path="/rest/api/3/priorityscheme")
    stalling.faults.trickle(seconds=1.0, path="/rest/api/3/serverInfo")
    for name, sim in (("healthy", healthy), ("hostile", hostile), ("stalling", stalling)):
        make_secret(k8s_api, ns, name, {"email": sim.credentials.email, "token": sim.credentials.api_token})
        make_tenant(k8s_api, ns, name, sim.base_url, name, ["priorities"])

    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=LIMITS) as op:
        bad = wait_for(lambda: _final(k8s_api, ns, "hostile"), "the hostile tenant's Snapshot final", op=op, timeout=90)
        good = wait_for(
            lambda: _final(k8s_api, ns, "healthy"), "the healthy tenant's Snapshot final", op=op, timeout=60
        )
        stalled = wait_for(
            lambda: (
                (t := get(k8s_api, ns, "jiratenants", "stalling"))
                and condition(t, "Reachable").get("status") == "False"
                and t
            ),
            "the stalling tenant reported",
            op=op,
            timeout=60,
        )

    status = bad["status"]
    assert status["phase"] == "Incomplete", status
    ready = condition(bad, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "Incomplete"
    assert status["errorCount"] == 4, status
    assert "exceeded 8.0 MiB after decompression" in ready["message"]
    assert "repeats the items of page 1" in ready["message"]
    assert "asked us to wait forever" in ready["message"]
    assert 4 <= status["durationSeconds"] < 30, status  # the trickled listing was cut at its 4 s deadline

    def incomplete_event() -> str:  # posted after the status patch
        events = control_plane.kubectl(
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "reason=SnapshotIncomplete",
            "-o",
            "jsonpath={.items[*].message}",
        ).stdout
        assert "exceeded 8.0 MiB after decompression" in events, f"SnapshotIncomplete Events: {events!r}"
        return events

    wait_for(incomplete_event, "the SnapshotIncomplete Event", timeout=60)
    assert status["itemCount"] > 0  # the sources the site did not attack were read

    assert good["status"]["phase"] == "Completed", good["status"]
    assert good["status"]["errorCount"] == 0
    assert good["status"]["durationSeconds"] < 10, good["status"]  # not held up by its neighbour

    reachable = condition(stalled, "Reachable")
    assert reachable["reason"] == "ProbeTimeout" and "within 3 s" in reachable["message"], reachable
    assert snapshots(k8s_api, ns) and not [s for s in snapshots(k8s_api, ns) if "stalling" in s["metadata"]["name"]]
    for sim in (healthy, hostile, stalling):
        assert sim.credentials.api_token not in op.text()
