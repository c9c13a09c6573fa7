"""`jiradrift run --store s3`: the operator captures into a bucket on a real S3-compatible server,
retention prunes there, no payload lands in etcd, and `jiradrift drift list --tenant` reads it back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant, manual_snapshot, snapshots
from tests.plugins.s3 import S3Server
from tests.store.sts_gate import SessionGate

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.sim.sts import StsEmulator
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
            manual = manual_snapshot(name, "fields")
            if i == 3:  # a change in the middle: drift, and the kept snapshots hold different bodies
                field = next(f for f in jira_sim.site.fields if f["custom"] and "scope" not in f)
                jira_sim.admin.call("rename_field", {"field_id": field["id"], "name": "Renamed"})
            control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual)
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
    s3_format = ["--s3-path-style", "-o", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "jiradrift", "drift", "list", "--tenant", "acme", "-n", ns, *s3_args, *s3_format],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    page = orjson.loads(done.stdout)
    assert page["total_count"] > 0
    assert {e["snapshot_id"] for e in page["items"]} == {"acme-manual-3"}
    assert any(e["new"] == "Renamed" for e in page["items"]), page["items"]


ROLE = "arn:aws:iam::123456789012:role/jiradrift-snapshots"


@contextmanager
def _sts_and_gate(s3_server: S3Server, token: str) -> Iterator[tuple[StsEmulator, SessionGate, str, str]]:
    """The STS emulator and the session-token gate in front of versitygw, served from a thread
    (the operator is another process; this test waits synchronously)."""
    sts = StsEmulator(role_arn=ROLE, tokens={token})
    gate = SessionGate(sts, s3_server.endpoint, s3_server.credentials)
    ready: Future[tuple[str, str]] = Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        async with sts.serve() as sts_url, gate.serve() as s3_url:
            ready.set_result((sts_url, s3_url))
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), name="sts", daemon=True)
    thread.start()
    try:
        sts_url, s3_url = ready.result(timeout=30)
        yield sts, gate, sts_url, s3_url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        if not thread.is_alive():
            loop.close()


def test_the_operator_captures_into_s3_on_the_pods_cloud_identity(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: Any,
    tmp_path: Path,
    s3_server: S3Server,
    s3_client: S3Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN, as the EKS webhook sets them (IRSA): no access key."""
    ns, creds, bucket = k8s_namespace, jira_sim.credentials, s3_client.config.bucket
    token = "projected-sa-token-" + os.urandom(8).hex()
    token_file = tmp_path / "token"
    token_file.write_text(token)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["fields"], paused=True)
    with _sts_and_gate(s3_server, token) as (sts, gate, sts_url, s3_url):
        env = {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": ROLE, "AWS_ENDPOINT_URL_STS": sts_url}
        s3_args = ["--s3-endpoint", s3_url, "--s3-bucket", bucket, "--s3-prefix", "snapshots-here", "--s3-path-style"]
        with running_operator(
            control_plane, [ns], tmp_path, store="s3", tenant_interval=1, extra=s3_args, env=env
        ) as op:
            manual = manual_snapshot("acme-irsa", "fields")
            control_plane.kubectl("apply", "-n", ns, "-f", "-", input=manual)
            wait_for(
                lambda: (get(k8s_api, ns, "snapshots", "acme-irsa").get("status") or {}).get("phase") == "Completed",
                "acme-irsa Completed",
                op=op,
                timeout=60,
            )
            log = op.text()
        assert _stored(s3_server, bucket, ns) == ["acme-irsa"]
        assert [(c.status, c.role_arn, c.token) for c in sts.calls] == [(200, ROLE, token)]
        [session] = sts.sessions.values()
        assert gate.tokens_seen and set(gate.tokens_seen) == {session.session_token} and gate.refused == []
    for secret in (token, session.secret_access_key, session.session_token):
        assert secret not in log
