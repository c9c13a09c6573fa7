"""Incremental windows in the operator (issue 26): a change made in the emulator after the first
full capture is reported by an incremental window, as a Snapshot of reason Incremental with drift
like any other, without a full capture; a window in which nothing changed creates no Snapshot and
writes the tenant's status only (counted by kube-apiserver itself, ``apiserver_request_total``).

The incremental interval is the smallest the CRD allows (1m): the windows open at minute
boundaries, so this test waits for up to two of them (about two minutes at worst).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import api_requests
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

TYPES = ["workflows", "priorities"]
WINDOW = "2026-01-01T00:00:00Z"  # a past window: the Scheduled Snapshot this test creates itself
WINDOW_LINE = r"JiraTenant {ns}/acme: incremental window (\S+): .*"


def test_an_incremental_window_reports_a_change_and_a_quiet_one_writes_only_the_tenant_status(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(
        k8s_api,
        ns,
        "acme",
        jira_sim.base_url,
        "jira",
        TYPES,
        schedule={"interval": "6h", "incremental": {"enabled": True, "interval": "1m"}},
    )
    quiet_notifier = ["--notify-interval", "3600"]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=quiet_notifier) as op:

        def windows() -> list[str]:
            return re.findall(WINDOW_LINE.format(ns=re.escape(ns)), op.text())

        def full_done() -> list[dict[str, Any]]:
            done = [s for s in snapshots(k8s_api, ns) if (s.get("status") or {}).get("phase") == "Completed"]
            assert len(done) == len(TYPES), [s["metadata"]["name"] for s in snapshots(k8s_api, ns)]
            return done

        first = wait_for(full_done, "the first full window's Snapshots Completed", op=op, timeout=120)
        for snap in first:
            assert snap["spec"]["reason"] == "Scheduled"
            assert snap["status"]["capture"]["mode"] == "full"
            assert snap["status"]["capture"]["reread"] == snap["status"]["itemCount"]
        # the first incremental window runs once the full ones are finished; nothing changed since
        seen = wait_for(lambda: windows(), "the first incremental window", op=op, timeout=60)
        assert "changed nothing" in op.text(), op.text()[-3000:]

        assert seen

        def steady() -> bool:  # the first Snapshots accepted: the acceptance's own writes are done
            drifted = condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted")
            assert drifted.get("reason") == "MatchesAccepted", drifted
            return True

        wait_for(steady, "the first Snapshots accepted", op=op, timeout=60)
        # a quiet window: the writes up to the end of the next one
        before = api_requests(k8s_api)
        count = len(windows())
        wait_for(lambda: len(windows()) > count, "the next incremental window", op=op, timeout=90)
        after = api_requests(k8s_api)
        writes = {
            k: v - before.get(k, 0.0)
            for k, v in after.items()
            if k[0] not in ("GET", "LIST", "WATCH") and v != before.get(k, 0.0)
        }
        writes.pop(("PUT", "leases"), None)  # kube-apiserver's own identity Lease (kube-system)
        assert writes.get(("PATCH", "jiratenants/status"), 0) <= 2, writes
        assert sum(writes.values()) <= 2, f"a quiet window wrote {writes}"
        assert len(snapshots(k8s_api, ns)) == len(TYPES), "a quiet window created a Snapshot"
        tenant = get(k8s_api, ns, "jiratenants", "acme")
        assert tenant["status"]["lastCheckedTime"]
        table = control_plane.kubectl("get", "jt", "-n", ns).stdout
        assert "LAST CHECKED" in table, table

        # a change: found by the next incremental window, reported like any Snapshot's drift
        global_wf = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
        jira_sim.admin.change_workflow(global_wf["id"], description="changed between full captures")

        def incremental() -> dict[str, Any]:
            found = [s for s in snapshots(k8s_api, ns) if s["spec"]["reason"] == "Incremental"]
            assert found, "no Incremental Snapshot yet"
            (snap,) = found
            assert (snap.get("status") or {}).get("phase") == "Completed", snap.get("status")
            return snap

        snap = wait_for(incremental, "an Incremental Snapshot Completed", op=op, timeout=150)
        assert snap["spec"]["type"] == "workflows"
        assert snap["status"]["capture"]["mode"] == "incremental"
        assert 0 < snap["status"]["capture"]["reread"] < snap["status"]["itemCount"]
        drift = snap["status"]["drift"]
        assert any(
            c["key"] == f"workflow/{global_wf['id']}" and c["path"] == "description" for c in drift["changes"]
        ), drift
        drifted = wait_for(
            lambda: (c := condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted")).get("status") == "True" and c,
            "the tenant Drifted",
            op=op,
            timeout=60,
        )
        assert drifted["status"] == "True"
        # no full capture ran: the same Scheduled Snapshots, plus the incremental one
        reasons = sorted(s["spec"]["reason"] for s in snapshots(k8s_api, ns))
        assert reasons == ["Incremental", "Scheduled", "Scheduled"], reasons
        described = control_plane.kubectl("describe", "snapshot", "-n", ns, snap["metadata"]["name"]).stdout
        assert "Mode:" in described and "incremental" in described and "Reread:" in described, described

        # a full capture (a Scheduled Snapshot) compares itself with an incremental window at the
        # same moment and reports what the windows missed: nothing here
        full = {
            "apiVersion": snap["apiVersion"],
            "kind": "Snapshot",
            "metadata": {"name": "acme-workflows-full"},
            "spec": {"tenantRef": {"name": "acme"}, "type": "workflows", "reason": "Scheduled", "windowStart": WINDOW},
        }
        control_plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(full))

        def full_completed() -> dict[str, Any]:
            done = get(k8s_api, ns, "snapshots", "acme-workflows-full")
            assert (done.get("status") or {}).get("phase") == "Completed", done.get("status")
            return done

        done = wait_for(full_completed, "the full Snapshot Completed", op=op, timeout=120)
        assert done["status"]["capture"]["mode"] == "full"
        assert done["status"]["capture"]["missedCount"] == 0, done["status"]["capture"]
