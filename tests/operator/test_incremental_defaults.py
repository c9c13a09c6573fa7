"""A tenant that says nothing about its schedule gets minute-level detection (issue 26): the API
server stores incremental windows every 2m and a daily full capture, and a change made in the
emulator after the first full capture is reported by an incremental window (a Snapshot of reason
``Incremental``, ``Drifted=True``) without a full capture. A token that may not read the audit log
makes the next window read the audited types in full: the change is still reported, never skipped.

The windows open at the default interval's boundaries (every 2 minutes): this test waits for up
to two of them (about four minutes at worst).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families
from tests.operator.kube import condition, get, make_secret, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

TYPES = ["workflows", "priorities"]
WINDOW_LINE = r"JiraTenant {ns}/acme: incremental window \S+: .*changed {snap}, quiet: ([a-z, ]+)"


def _windows(port: int, ns: str) -> dict[str, float]:
    """jiradrift_incremental_windows_total of the tenant, by result."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        s.labels["result"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "jiradrift_incremental_windows_total" and s.labels["namespace"] == ns
    }


def test_a_tenant_with_only_defaults_reports_a_change_through_an_incremental_window(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    tenant = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": "acme"},
        "spec": {
            "site": jira_sim.base_url,
            "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
            "snapshotTypes": TYPES,
        },  # no schedule: the defaults
    }
    k8s.CustomObjectsApi(k8s_api).create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", tenant)
    stored = get(k8s_api, ns, "jiratenants", "acme")["spec"]["schedule"]
    assert stored == {"interval": "24h", "incremental": {"enabled": True, "interval": "2m"}}, stored

    quiet_notifier = ["--notify-interval", "3600"]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=quiet_notifier) as op:

        def checked() -> dict[str, float]:  # the full captures done, then a first (quiet) window ran
            # "" for a Snapshot without a phase yet (sorting None beside None raised instead of waiting)
            phases = sorted(str((s.get("status") or {}).get("phase") or "") for s in snapshots(k8s_api, ns))
            assert phases == ["Completed"] * len(TYPES), phases
            counted = _windows(op.metrics_port, ns)
            assert counted.get("quiet", 0) >= 1, f"no quiet incremental window yet: {counted}"
            return counted

        wait_for(checked, "the first full capture and a first incremental window", op=op, timeout=180)
        assert get(k8s_api, ns, "jiratenants", "acme")["status"]["lastCheckedTime"]
        reasons = sorted(s["spec"]["reason"] for s in snapshots(k8s_api, ns))
        assert reasons == ["Scheduled"] * len(TYPES), "a quiet window created a Snapshot"

        global_wf = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
        jira_sim.admin.change_workflow(global_wf["id"], description="changed under the default schedule")

        def incremental(count: int) -> list[dict[str, Any]]:
            found = sorted(
                (s for s in snapshots(k8s_api, ns) if s["spec"]["reason"] == "Incremental"),
                key=lambda s: str(s["spec"]["windowStart"]),
            )
            assert len(found) == count, [s["metadata"]["name"] for s in found]
            assert all((s.get("status") or {}).get("phase") == "Completed" for s in found), found[-1].get("status")
            return found

        # the next window boundary is at most 2 minutes away
        (snap,) = wait_for(lambda: incremental(1), "an Incremental Snapshot Completed", op=op, timeout=200)
        assert snap["spec"]["type"] == "workflows"
        assert snap["status"]["capture"]["mode"] == "incremental"
        changes = snap["status"]["drift"]["changes"]
        assert any(c["key"] == f"workflow/{global_wf['id']}" and c["path"] == "description" for c in changes), changes
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "True",
            "the tenant Drifted",
            op=op,
            timeout=60,
        )
        full = [s for s in snapshots(k8s_api, ns) if s["spec"]["reason"] == "Scheduled"]
        assert len(full) == len(TYPES), "no full capture ran: the daily one is hours away"

        # the token may no longer read the audit log: the audited type is read in full, not skipped
        jira_sim.faults.fail_object("/rest/api/3/auditing/record", status=403, times=None)
        jira_sim.admin.change_workflow(global_wf["id"], description="changed while the audit log is forbidden")
        second = wait_for(lambda: incremental(2), "a second Incremental Snapshot Completed", op=op, timeout=200)[-1]
        assert second["spec"]["type"] == "workflows"
        capture = second["status"]["capture"]
        assert capture["mode"] == "full", capture
        assert "may not read the audit log" in capture["reason"], capture
        assert any(c["key"] == f"workflow/{global_wf['id']}" for c in second["status"]["drift"]["changes"])
        # priorities has no audited kind: it stays incremental (and quiet) in the same windows
        line = WINDOW_LINE.format(ns=re.escape(ns), snap=re.escape(second["metadata"]["name"]))
        assert re.findall(line, op.text()) == ["priorities"], op.text()[-3000:]
        counted = _windows(op.metrics_port, ns)
        assert counted.get("changed", 0) >= 2 and not counted.get("failed"), counted
