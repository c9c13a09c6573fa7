"""Issue 23, end to end: a team plants, in its own namespace, a ``jiradrift.io/snapshot-pack`` Secret
holding a 32 KB zstd frame that declares 1 GiB, and a manifest Secret pointing at it as the newest
snapshot of its tenant; plus a manifest with a missing annotation. Before, the next capture expanded
the frame (an OOM kill in a pod, on every restart, as the object stays) and the broken manifest
raised KeyError in every capture. Now the running operator completes the capture, stays far below
the chart's memory limit, and reports the planted objects in its log and on /metrics."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, manual_snapshot
from tests.store.hostile import zstd_bomb

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import request_json
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.kube.names import label_value
from jiradrift.store import configmap as cm
from jiradrift.store.codec import ZstdCodec

pytestmark = pytest.mark.k8s

RSS_BOUND = 256 * 1024 * 1024  # a third of the chart's 768 MiB memory limit: one planted pack must cost far less


def plant(api: k8s.ApiClient, ns: str, name: str, part: str, data: dict[str, bytes], ann: dict[str, str]) -> None:
    labels = {cm.LABEL_MANAGED_BY: cm.MANAGED_BY, cm.LABEL_PART: part, cm.LABEL_TENANT: label_value(f"{ns}/acme")}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": cm.SNAPSHOT_PACK_TYPE,
        "metadata": {"name": name, "labels": labels, "annotations": ann},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }
    request_json(api, "POST", f"/api/v1/namespaces/{ns}/secrets", body=body)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_a_planted_bomb_and_a_broken_manifest_do_not_stop_the_next_capture(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    tenant = f"{ns}/acme"
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"], paused=True)
    store = cm.SecretStore(None, ns, tenant)  # type: ignore[arg-type]  # names only: no request
    payload = ZstdCodec().compress(orjson.dumps({"snapshot_id": "planted", "tenant": tenant, "type": "priorities"}))
    plant(k8s_api, ns, "jiradrift-i-planted", "items", {"items.0": zstd_bomb()}, {})
    annotations = {
        cm.A_TENANT: tenant,
        cm.A_SNAPSHOT: "planted",
        cm.A_TYPE: "priorities",
        cm.A_CAPTURED: "2099-01-01T00:00:00+00:00",
        cm.A_DIGEST: "0" * 64,
        cm.A_ITEM_COUNT: "1",
        cm.A_COMPLETE: "true",
        cm.A_ITEMS: orjson.dumps({"parts": ["jiradrift-i-planted"], "bytes": 32768}).decode(),
    }
    plant(k8s_api, ns, store.manifest_name("planted"), "manifest", {"manifest": payload}, annotations)
    broken = {k: v for k, v in annotations.items() if k != cm.A_CAPTURED} | {cm.A_SNAPSHOT: "broken"}
    plant(k8s_api, ns, store.manifest_name("broken"), "manifest", {"manifest": payload}, broken)

    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1) as op:
        control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual_snapshot("acme-priorities-1", "priorities"))
        status = wait_for(
            lambda: (
                (s := get(k8s_api, ns, "snapshots", "acme-priorities-1").get("status") or {}).get("phase")
                in ("Completed", "Incomplete", "Failed")
                and s
            ),
            "acme-priorities-1 finished",
            op=op,
            timeout=90,
        )
        rss = peak_rss(op.proc.pid)
        metrics = httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics").text
        log = op.text()
    assert status["phase"] == "Completed", status
    assert rss < RSS_BOUND, f"the operator's peak RSS was {rss >> 20} MiB"
    assert "jiradrift-i-planted" in log and "1073741824" in log, log[-3000:]
    assert store.manifest_name("broken") in log and cm.A_CAPTURED in log
    skipped = [line for line in metrics.splitlines() if line.startswith("jiradrift_store_objects_skipped ")]
    assert skipped and float(skipped[0].split()[1]) >= 2, skipped
