"""`jiradrift run --store s3`: the operator captures into a bucket on a real S3-compatible server,
retention prunes there, no payload lands in etcd, and `jiradrift drift list --tenant` reads it back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, snapshots
from tests.plugins.s3 import S3Server

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.k8s.resources import GROUP, VERSION
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client

pytestmark = pytest.mark.k8s


def _stored(server: S3Server, bucket: str, namespace: str) -> list[str]:
    async def ids() -> list[str]:
        async with S3Client.connect(server.config(bucket, prefix="snapshots-here"), server.credentials) as root:
            return await S3Store.for_namespace(root, namespace).list_manifests()

    return asyncio.run(ids())


def test_the_operator_keeps_snapshots_in_s3_and_nothing_in_etcd(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: Any,
    tmp_path: Path,
    s3_server: S3Server,
    s3_client: S3Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, creds, bucket = k8s_namespace, jira_sim.credentials, s3_client.config.bucket
    for key, value in s3_server.env().items():  # the operator process inherits them, as from the chart's Secret
        monkeypatch.setenv(key, value)
    s3_args = ["--s3-endpoint", s3_server.endpoint, "--s3-bucket", bucket, "--s3-prefix", "snapshots-here"]
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["fields"], paused=True, retention={"keepLast": 2})
    with running_operator(
        control_plane, [ns], tmp_path, store="s3", tenant_interval=1, extra=[*s3_args, "--s3-path-style"]
    ) as op:
        for i in range(1, 5):
            name = f"acme-manual-{i}"
            manual = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Snapshot",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"tenantRef": {"name": "acme"}, "type": "fields"},
            }
            if i == 3:  # a change in the middle: drift, and the kept snapshots hold different bodies
                field = next(f for f in jira_sim.site.fields if f["custom"] and "scope" not in f)
                jira_sim.admin.call("rename_field", {"field_id": field["id"], "name": "Renamed"})
            control_plane.kubectl("apply", "-f", "-", input=json.dumps(manual))
            wait_for(
                lambda n=name: (get(k8s_api, ns, "snapshots", n).get("status") or {}).get("phase") == "Completed",
                f"{name} Completed",
                op=op,
                timeout=60,
            )
        # Accept the newest (what `jiradrift accept` does, with kubectl): the first snapshot was
        # accepted automatically and the drift in manual-3 is kept until accepted.
        control_plane.kubectl("label", "snapshot", "-n", ns, "acme-manual-4", "jiradrift.io/accepted=true")
        control_plane.kubectl("label", "snapshot", "-n", ns, "acme-manual-1", "jiradrift.io/accepted-")
        wait_for(
            lambda: sorted(s["metadata"]["name"] for s in snapshots(k8s_api, ns)) == ["acme-manual-3", "acme-manual-4"],
            "retention keeps the newest two Snapshots",
            op=op,
            timeout=60,
        )
        stored = wait_for(
            lambda: (ids := _stored(s3_server, bucket, ns)) == ["acme-manual-4", "acme-manual-3"] and ids,
            "retention removes the older two from the bucket",
            op=op,
            timeout=60,
        )
        assert stored == ["acme-manual-4", "acme-manual-3"]
        assert (get(k8s_api, ns, "snapshots", "acme-manual-3")["status"].get("drift") or {}).get("total", 0) > 0
    # Nothing of the payload went to etcd: no pack Secrets, no store ConfigMaps in the namespace.
    for kind in ("secrets", "configmaps"):
        listed = json.loads(
            control_plane.kubectl("get", kind, "-n", ns, "-l", "jiradrift.io/part", "-o", "json").stdout
        )["items"]
        assert listed == [], kind
    # A person reads the drift back: kubeconfig for the Snapshots, S3 for the changes.
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    s3_format = ["--s3-path-style", "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "jiradrift", "drift", "list", "--tenant", f"{ns}/acme", *s3_args, *s3_format],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    page = orjson.loads(done.stdout)
    assert page["total_count"] > 0
    assert {e["snapshot_id"] for e in page["items"]} == {"acme-manual-3"}
    assert any(e["new"] == "Renamed" for e in page["items"]), page["items"]
