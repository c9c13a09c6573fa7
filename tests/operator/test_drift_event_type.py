"""The DriftDetected Event is a Warning when the drift's highest severity is high, Normal otherwise;
and the gauges the alert rules read (last complete snapshot, tenant interval) are exported while the
tenant exists, and dropped when it is deleted (else JiraDriftSnapshotsOverdue would fire forever).

The operator runs as its own process (`jiradrift run`) against the real kube-apiserver; Jira is
the emulator over HTTP on loopback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families
from tests.operator.kube import apply_manual_snapshot, change_global_workflow, get, make_acme, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def _samples(port: int, name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return [(s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_drift_event_is_warning_only_for_high_severity(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    make_acme(k8s_api, ns, jira_sim, ["workflows", "schemes"])
    with running_operator(control_plane, [ns], tmp_path) as op:
        wait_for(
            lambda: (
                len(s := snapshots(k8s_api, ns)) == 2
                and all((x.get("status") or {}).get("phase") == "Completed" for x in s)
            ),
            "the window's two Snapshots Completed (the baselines)",
            op=op,
            timeout=120,
        )
        # the gauges JiraDriftSnapshotsOverdue compares
        wait_for(
            lambda: (
                {
                    labels["type"]: value
                    for labels, value in _samples(op.metrics_port, "jiradrift_last_complete_snapshot_timestamp_seconds")
                    if labels["namespace"] == ns and labels["tenant"] == "acme"
                }.keys()
                == {"workflows", "schemes"}
            ),
            "jiradrift_last_complete_snapshot_timestamp_seconds for both types",
            op=op,
        )
        interval = [
            v
            for labels, v in _samples(op.metrics_port, "jiradrift_tenant_interval_seconds")
            if labels["tenant"] == "acme"
        ]
        assert interval == [6 * 3600.0]  # make_tenant's schedule.interval: 6h

        # medium: a workflow's description; high: a permission grant (who can do what)
        change_global_workflow(jira_sim)
        scheme = jira_sim.site.permission_schemes[0]
        jira_sim.admin.grant_permission(scheme["id"], "ADMINISTER_PROJECTS", "group", "contractors")
        apply_manual_snapshot(control_plane, ns, "acme-workflows-manual-1")
        apply_manual_snapshot(control_plane, ns, "acme-schemes-manual-1", "schemes")

        def drift_events() -> dict[str, dict[str, Any]]:
            out = control_plane.kubectl(
                "get", "events", "-n", ns, "--field-selector", "reason=DriftDetected", "-o", "json"
            ).stdout
            found = {e["message"].split(":", 1)[0]: e for e in json.loads(out)["items"]}
            assert {"acme-workflows-manual-1", "acme-schemes-manual-1"} <= found.keys(), sorted(found)
            return found

        events = wait_for(drift_events, "a DriftDetected Event for each manual Snapshot", op=op, timeout=120)

        def drift_of(name: str) -> dict[str, Any]:
            """The Snapshot's status.drift once written: the Event is posted before the final status patch."""
            drift: dict[str, Any] = (get(k8s_api, ns, "snapshots", name).get("status") or {}).get("drift") or {}
            assert drift, f"{name}: no status.drift yet"
            return drift

        workflows = wait_for(lambda: drift_of("acme-workflows-manual-1"), "workflows drift in status", op=op)
        schemes = wait_for(lambda: drift_of("acme-schemes-manual-1"), "schemes drift in status", op=op)
        assert workflows["highestSeverity"] == "medium", workflows
        # a manual Snapshot arrives unlabelled; its capture labels it, so it lists per tenant and type
        labels = get(k8s_api, ns, "snapshots", "acme-schemes-manual-1")["metadata"].get("labels") or {}
        assert labels.get(f"{GROUP}/tenant") == "acme" and labels.get(f"{GROUP}/type") == "schemes", labels
        assert schemes["highestSeverity"] == "high", schemes
        assert events["acme-workflows-manual-1"]["type"] == "Normal"
        assert events["acme-schemes-manual-1"]["type"] == "Warning"
        for event in events.values():
            assert event["involvedObject"]["kind"] == "JiraTenant" and event["involvedObject"]["name"] == "acme"

        k8s.CustomObjectsApi(k8s_api).delete_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", "acme")

        def gauges_gone() -> bool:
            left = [
                name
                for name in ("jiradrift_last_complete_snapshot_timestamp_seconds", "jiradrift_tenant_interval_seconds")
                for labels, _ in _samples(op.metrics_port, name)
                if labels["namespace"] == ns
            ]
            assert not left, f"still exported: {left}"
            return True

        wait_for(gauges_gone, "the deleted tenant's gauges gone from /metrics", op=op)
