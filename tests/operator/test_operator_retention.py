"""Retention: beyond spec.retention.keepLast per type, the oldest Snapshots go, with their payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, manual_snapshot, snapshots
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def test_keep_last_prunes_oldest_snapshots_and_their_payload_secrets(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"], paused=True, retention={"keepLast": 2})
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1) as op:
        for i in range(1, 5):
            name = f"acme-manual-{i}"
            manual = manual_snapshot(name, "priorities")
            if i == 3:  # a change in the middle, so the kept snapshots hold different bodies
                jira_sim.admin.call("rename_status", {"status_id": jira_sim.site.statuses[0]["id"], "name": "Renamed"})
            control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual)
            wait_for(
                lambda n=name: (get(k8s_api, ns, "snapshots", n).get("status") or {}).get("phase") == "Completed",
                f"{name} Completed",
                op=op,
                timeout=60,
            )
        # The first complete snapshot is accepted and the drift in manual-3 is kept as evidence
        # until accepted; accepting the newest lets keepLast alone decide.
        accepted = CliRunner().invoke(
            app, ["accept", "--tenant", f"{ns}/acme", "--kubeconfig", str(control_plane.kubeconfig)]
        )
        assert accepted.exit_code == 0 and "accepted acme-manual-4" in accepted.output, accepted.output
        kept = wait_for(
            lambda: (
                (names := sorted(s["metadata"]["name"] for s in snapshots(k8s_api, ns)))
                == ["acme-manual-3", "acme-manual-4"]
                and names
            ),
            "retention keeps the newest two",
            op=op,
            timeout=60,
        )
        assert kept == ["acme-manual-3", "acme-manual-4"]
        # payload parts are Secrets of the store's own type (the default store)
        configmaps = json.loads(
            control_plane.kubectl(
                "get", "secrets", "-n", ns, "--field-selector", "type=jiradrift.io/snapshot-pack", "-o", "json"
            ).stdout
        )["items"]
        assert configmaps, "no payload Secrets"
        manifests = [c for c in configmaps if c["metadata"].get("labels", {}).get("jiradrift.io/part") == "manifest"]
        assert sorted(c["metadata"]["labels"]["jiradrift.io/snapshot"] for c in manifests) == kept
        # no payload is left that only pruned Snapshots used: every part is named by a kept manifest
        annotations = [c["metadata"]["annotations"] for c in manifests]
        used = {p for a in annotations for p in a["jiradrift.io/packs"].split(",") if p}
        used |= {p for a in annotations for p in json.loads(a["jiradrift.io/items"])["parts"]}
        used |= {p for a in annotations for p in json.loads(a.get("jiradrift.io/drift") or "{}").get("parts", [])}
        orphans = [
            c["metadata"]["name"] for c in configmaps if c not in manifests and c["metadata"]["name"] not in used
        ]
        assert orphans == []
