"""End to end: a JiraTenant pointing at the emulator becomes Ready, snapshots, and reports drift.

The operator runs as its own process (`jiradrift run`) against the real kube-apiserver; Jira is
the emulator over HTTP on loopback; the client is kubectl.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tests.operator.kube import apply_manual_snapshot, change_global_workflow, condition, get, make_acme, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def test_tenant_snapshots_and_reports_drift(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    make_acme(k8s_api, ns, jira_sim, ["workflows", "priorities"])
    with running_operator(control_plane, [ns], tmp_path) as op:
        tenant = wait_for(
            lambda: (
                (t := get(k8s_api, ns, "jiratenants", "acme")) and condition(t, "Ready").get("status") == "True" and t
            ),
            "tenant Ready",
            op=op,
            timeout=90,
        )
        assert condition(tenant, "CredentialsValid")["reason"] == "Accepted"
        assert tenant["status"]["observedGeneration"] == tenant["metadata"]["generation"]
        done = wait_for(
            lambda: (
                (s := snapshots(k8s_api, ns))
                and len(s) == 2
                and all((x.get("status") or {}).get("phase") == "Completed" for x in s)
                and s
            ),
            "the window's two Snapshots Completed",
            op=op,
            timeout=120,
        )
        for snap in done:
            assert snap["spec"]["reason"] == "Scheduled"
            assert snap["status"]["itemCount"] > 0
            assert snap["status"]["drift"]["total"] == 0
            assert snap["status"]["lock"]["holder"]
            assert snap["status"]["digest"].startswith("sha256:")

        # drift: change a workflow in the emulator, then snapshot again by hand
        global_wf = change_global_workflow(jira_sim)
        apply_manual_snapshot(control_plane, ns, "acme-workflows-manual-1")
        snap = wait_for(
            lambda: (
                (x := get(k8s_api, ns, "snapshots", "acme-workflows-manual-1"))
                and (x.get("status") or {}).get("phase") == "Completed"
                and x
            ),
            "manual Snapshot Completed",
            op=op,
            timeout=90,
        )
        # The phase comes first; the drift label, the metrics, the DriftDetected Event and the
        # tenant's status follow it, and each capture's "completed" log line comes after all of them.
        wait_for(
            lambda: len(re.findall(rf"snapshot {ns}/\S+ completed", op.text())) >= 3,
            "the three captures' completed log lines",
            op=op,
            timeout=60,
        )
        snap = get(k8s_api, ns, "snapshots", "acme-workflows-manual-1")
        drift = snap["status"]["drift"]
        assert drift["total"] >= 1 and drift["changed"] == 1
        assert any(
            c["key"] == f"workflow/{global_wf['id']}" and c["path"] == "description" and c["name"] == global_wf["name"]
            for c in drift["changes"]
        ), drift
        # attribution from Jira's audit log: the emulator recorded the admin's edit
        changed = next(c for c in drift["changes"] if c["key"] == f"workflow/{global_wf['id']}")
        assert (
            "by " in changed["changedBy"] and global_wf["name"] in jira_sim.site.audit_records[-1]["objectItem"]["name"]
        )
        assert "[audit:" in snap["status"]["message"]
        assert snap["metadata"]["labels"]["jiradrift.io/drift"] == "true"

        events = control_plane.kubectl(
            "get", "events", "-n", ns, "--field-selector", "reason=DriftDetected", "-o", "json"
        ).stdout
        assert any(e["involvedObject"]["name"] == "acme" for e in json.loads(events)["items"])
        tenant = get(k8s_api, ns, "jiratenants", "acme")
        assert tenant["status"]["drift"]["lastSnapshot"] == "acme-workflows-manual-1"

        table = control_plane.kubectl("get", "jt,snap", "-n", ns).stdout
        assert "True" in table and "acme-workflows-manual-1" in table and "Completed" in table
        listing = subprocess.run(
            [
                sys.executable,
                "-m",
                "jiradrift",
                "drift",
                "list",
                "--tenant",
                "acme",
                "-n",
                ns,
                "--limit",
                "1",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)},
            check=False,
        )
        assert listing.returncode == 0, listing.stderr
        page = json.loads(listing.stdout)
        assert page["total_count"] == drift["total"] and page["limit"] == 1 and page["page"] == 1
        assert page["items"][0]["snapshot_id"] == "acme-workflows-manual-1"
        assert page["has_more"] == (drift["total"] > 1)
        # the figures an admin alerts on, and kopf's liveness endpoint
        scrape = httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text
        for line in (
            f'jiradrift_snapshots_total{{namespace="{ns}",phase="Completed",tenant="acme",type="workflows"}} 2.0',
            'jiradrift_lock_acquisitions_total{result="acquired"} 3.0',
            f'jiradrift_drift_changes_total{{namespace="{ns}",severity="medium",tenant="acme",type="workflows"}}',
            f'jiradrift_jira_requests_total{{namespace="{ns}",status="200",tenant="acme"}}',
            "jiradrift_snapshot_duration_seconds_bucket",
        ):
            assert line in scrape, line
        assert httpx.get(f"http://127.0.0.1:{op.liveness_port}/healthz", timeout=5).status_code == 200
        # secrets never reach logs
        assert jira_sim.credentials.api_token not in op.text()
