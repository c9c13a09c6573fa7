"""Accepted baselines end to end: the first complete snapshot of each type is accepted by the
operator; a change makes the tenant Drifted (and the Unaccepted column count it) across later
windows until someone accepts; `drift list --unaccepted` lists exactly the outstanding changes with
their attribution; `jiradrift accept` clears it; retention never removes an accepted snapshot.

The operator runs as its own process against the real kube-apiserver; Jira is the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families
from tests.operator.kube import (
    apply_manual_snapshot,
    change_global_workflow,
    condition,
    conditions_are,
    get,
    make_acme,
    snapshots,
)
from typer.testing import CliRunner

from jiradrift.api.baseline import LABEL_ACCEPTED
from jiradrift.cli import app
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s
runner = CliRunner()


def _gauge(port: int, ns: str) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        s.labels["severity"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "jiradrift_unaccepted_changes" and s.labels["namespace"] == ns
    }


def _accepted(api: k8s.ApiClient, ns: str) -> set[str]:
    return {s["metadata"]["name"] for s in snapshots(api, ns) if s["metadata"].get("labels", {}).get(LABEL_ACCEPTED)}


def _completed(api: k8s.ApiClient, ns: str, name: str) -> bool:
    return (get(api, ns, "snapshots", name).get("status") or {}).get("phase") == "Completed"


def test_drift_stays_until_accepted(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = k8s_namespace
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))  # the CLI reads the cluster like a user
    make_acme(k8s_api, ns, jira_sim, ["workflows"], retention={"keepLast": 2})
    with running_operator(control_plane, [ns], tmp_path) as op:
        first = wait_for(
            lambda: [
                s["metadata"]["name"] for s in snapshots(k8s_api, ns) if _completed(k8s_api, ns, s["metadata"]["name"])
            ],
            "the window's Snapshot Completed",
            op=op,
            timeout=120,
        )
        wait_for(lambda: _accepted(k8s_api, ns) == set(first), "the first complete snapshot accepted", op=op)
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "False",
            "Drifted=False while nothing changed",
            op=op,
        )

        change_global_workflow(jira_sim)
        # Two later snapshots: the drift stays seen after the window that showed it.
        for i in (1, 2, 3, 4):
            name = f"acme-workflows-manual-{i}"
            apply_manual_snapshot(control_plane, ns, name)
            wait_for(lambda name=name: _completed(k8s_api, ns, name), f"{name} Completed", op=op, timeout=120)

        tenant = wait_for(
            lambda: conditions_are(k8s_api, ns, "acme", Drifted="True"), "Drifted=True after the change", op=op
        )
        cond = condition(tenant, "Drifted")
        assert cond["reason"] == "UnacceptedChanges"
        unaccepted = tenant["status"]["unaccepted"]
        assert unaccepted["total"] == 1 and unaccepted["medium"] == 1 and unaccepted["types"] == ["workflows"]
        assert f"jiradrift accept acme -n {ns}" in cond["message"]
        wait_for(
            lambda: _gauge(op.metrics_port, ns).get("medium") == 1, "jiradrift_unaccepted_changes{medium}=1", op=op
        )

        # The printer columns say it too.
        table = control_plane.kubectl("get", "jt", "acme", "-n", ns).stdout
        assert "UNACCEPTED" in table and "SEVERITY" in table and " medium" in table

        # Retention (keepLast 2) pruned manual-2 but kept the accepted snapshot and manual-1, which
        # recorded the unaccepted drift and its attribution.
        def names() -> set[str]:
            return {s["metadata"]["name"] for s in snapshots(k8s_api, ns)}

        expected = {*first, "acme-workflows-manual-1", "acme-workflows-manual-3", "acme-workflows-manual-4"}
        wait_for(lambda: names() == expected, "retention: keepLast, the accepted and the evidence", op=op, timeout=120)
        assert _accepted(k8s_api, ns) == set(first)

        listed = runner.invoke(app, ["drift", "list", "--tenant", "acme", "-n", ns, "--unaccepted", "-o", "json"])
        assert listed.exit_code == 0, listed.output
        data = json.loads(listed.output)
        assert data["total"] == 1
        [wf] = data["types"]
        assert wf["accepted"] == first[0] and wf["newest"] == "acme-workflows-manual-4"
        [change] = wf["changes"]
        assert change["key"].startswith("workflow/") and change["path"] == "description"
        assert change["new"] == "changed by the test"
        assert "by " in change["changed_by"], change  # the audit-log attribution recorded on manual-1

        # As kubectl: every tenant of the namespace (-n without --tenant), or of every namespace (-A).
        in_ns = runner.invoke(app, ["drift", "list", "--unaccepted", "-n", ns, "-o", "json"])
        assert in_ns.exit_code == 0, in_ns.output
        assert [(t["tenant"], t["total"]) for t in json.loads(in_ns.output)["tenants"]] == [(f"{ns}/acme", 1)]
        everywhere = runner.invoke(app, ["drift", "list", "--unaccepted", "-A", "-o", "json"])
        assert everywhere.exit_code == 0, everywhere.output
        ours = [t for t in json.loads(everywhere.output)["tenants"] if t["tenant"] == f"{ns}/acme"]
        assert [t["total"] for t in ours] == [1], everywhere.output
        table = runner.invoke(app, ["drift", "list", "--unaccepted", "-A"], env={"COLUMNS": "250"})
        assert table.exit_code == 0 and f"{ns}/acme: 1 unaccepted change; accept with" in table.output, table.output
        refused = runner.invoke(app, ["drift", "list", "--tenant", "acme", "-A", "--unaccepted"])
        assert refused.exit_code == 2 and "-A lists every JiraTenant" in refused.output

        accepted = runner.invoke(app, ["accept", "--tenant", f"{ns}/acme", "--by", "tester"])
        assert accepted.exit_code == 0, accepted.output
        assert "workflows: accepted acme-workflows-manual-4" in accepted.output
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "acme"), "Drifted").get("status") == "False",
            "Drifted=False after accepting",
            op=op,
        )
        assert get(k8s_api, ns, "jiratenants", "acme")["status"]["unaccepted"]["total"] == 0
        wait_for(lambda: not any(_gauge(op.metrics_port, ns).values()), "the gauge back to 0", op=op)
        again = runner.invoke(app, ["drift", "list", "--tenant", f"{ns}/acme", "--unaccepted"])
        assert again.exit_code == 0 and "no unaccepted changes" in again.output
        # Accepted: the old baseline and the evidence are ordinary history now, and retention takes them.
        wait_for(
            lambda: names() == {"acme-workflows-manual-3", "acme-workflows-manual-4"},
            "retention after accepting",
            op=op,
            timeout=120,
        )
