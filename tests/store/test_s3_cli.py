"""`jiradrift drift list`, `jiradrift diff` and `jiradrift run --store s3` with an S3 store on a real
S3-compatible server (versitygw on loopback): the layout the operator writes (PREFIX/NAMESPACE/)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s
from tests.plugins.s3 import S3Server
from tests.store.builders import put_snapshot, report_with
from typer.testing import CliRunner

from jiradrift.api.resources import GROUP, LABEL_TENANT, VERSION
from jiradrift.cli import app
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.names import label_value
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client

runner = CliRunner()
NAMESPACE = "team-a"


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JIRADRIFT_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("JIRADRIFT_S3_PATH_STYLE", "true")
    return s3_server


def _fill(server: S3Server, bucket: str, namespace: str) -> None:
    """Two tenants' snapshots as the operator stores them (tenant ``namespace/name``), with drift."""

    async def fill() -> None:
        async with S3Client.connect(server.config(bucket, prefix="jiradrift"), server.credentials) as root:
            await root.create_bucket()
            store = S3Store.for_namespace(root, namespace)
            for i in range(3):
                objects = {f"field/f{j}": {"name": f"F{j}", "v": i} for j in range(4)}
                await put_snapshot(
                    store, f"acme-fields-{i}", objects, tenant=f"{namespace}/acme", type="fields", hours=i
                )
            for i in (1, 2):
                await store.put_drift(report_with(f"acme-fields-{i}", 4, tenant=f"{namespace}/acme", type="fields"))

    asyncio.run(fill())


@pytest.fixture
def filled(s3_env: S3Server, s3_bucket: str) -> str:
    _fill(s3_env, s3_bucket, NAMESPACE)
    return f"s3://{s3_bucket}/jiradrift/{NAMESPACE}"


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    data: dict = orjson.loads(result.stdout)  # type: ignore[type-arg]
    return data


def test_drift_list_reads_an_s3_store(filled: str) -> None:
    page = _json(["drift", "list", filled, "--tenant", f"{NAMESPACE}/acme", "--limit", "5"])
    assert page["total_count"] == 8
    assert [e["snapshot_id"] for e in page["items"]] == ["acme-fields-2"] * 4 + ["acme-fields-1"]
    assert page["has_more"] is True


def test_diff_compares_the_newest_snapshot_in_s3_with_its_predecessor(filled: str) -> None:
    [report] = _json(["diff", filled])["reports"]
    assert (report["old_snapshot"], report["new_snapshot"], report["changed"]) == ("acme-fields-1", "acme-fields-2", 4)
    [one] = _json(["diff", f"{filled}/snapshots/acme-fields-0", f"{filled}/snapshots/acme-fields-2"])["reports"]
    assert (one["old_snapshot"], one["new_snapshot"]) == ("acme-fields-0", "acme-fields-2")


def test_an_s3_store_that_does_not_exist_exits_2_naming_it(s3_env: S3Server, s3_bucket: str) -> None:
    result = runner.invoke(app, ["diff", f"s3://{s3_bucket}/nothing-here"])
    assert result.exit_code == 2
    assert f"s3://{s3_bucket}/nothing-here/" in result.output


@pytest.mark.k8s
def test_drift_list_of_a_tenant_in_the_cluster_reads_changes_from_s3(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    s3_env: S3Server,
    s3_bucket: str,
) -> None:
    _fill(s3_env, s3_bucket, k8s_namespace)
    api = k8s.CustomObjectsApi(k8s_api)
    for i in (1, 2):  # Snapshot objects with drift counts in status, as the operator leaves them
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Snapshot",
            "metadata": {"name": f"acme-fields-{i}", "labels": {LABEL_TENANT: label_value("acme")}},
            "spec": {"tenantRef": {"name": "acme"}, "type": "fields"},
        }
        api.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, "snapshots", body)
        status = {"phase": "Completed", "startTime": f"2024-05-01T0{i}:00:00Z", "drift": {"total": 4}}
        api.patch_namespaced_custom_object_status(
            GROUP, VERSION, k8s_namespace, "snapshots", f"acme-fields-{i}", {"status": status}
        )
    # A person's shell: kubeconfig and S3 settings in the environment, the CLI as its own process.
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    argv = ["drift", "list", "--tenant", "acme", "-n", k8s_namespace, "--s3-bucket", s3_bucket, "--limit", "6"]
    done = subprocess.run(
        [sys.executable, "-m", "jiradrift", *argv, "-o", "json"], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    page = orjson.loads(done.stdout)
    assert page["total_count"] == 8
    assert [e["snapshot_id"] for e in page["items"]] == ["acme-fields-2"] * 4 + ["acme-fields-1"] * 2
    assert (page["items"][0]["key"], page["items"][0]["old"]) == ("field/f000000", "old 0")  # bodies from S3


def test_run_with_the_s3_store_refuses_missing_settings_before_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "JIRADRIFT_S3_BUCKET",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(key, raising=False)
    no_bucket = runner.invoke(app, ["run", "-n", "team-a", "--store", "s3"])
    assert no_bucket.exit_code == 2 and "needs a bucket" in _text(no_bucket.output)
    no_keys = runner.invoke(app, ["run", "-n", "team-a", "--store", "s3", "--s3-bucket", "snapshots"])
    text = _text(no_keys.output)
    assert no_keys.exit_code == 2
    assert (
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in text and "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN" in text
    )
    # The pod's cloud identity with its token volume missing: refused at start, not at the first capture.
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/jiradrift")
    no_token = runner.invoke(app, ["run", "-n", "team-a", "--store", "s3", "--s3-bucket", "snapshots"])
    assert no_token.exit_code == 2 and "cannot read the web-identity token file" in _text(no_token.output)


def _text(output: str) -> str:
    """Typer's error box, as one line of words."""
    return " ".join(output.replace("│", " ").split())


def test_a_listing_answer_that_is_not_s3_is_a_typed_error(s3_env: S3Server, jira_sim: Any) -> None:
    # The emulator answers HTTP but is no S3 server: a wrong --s3-endpoint.
    result = runner.invoke(app, ["diff", "s3://snapshots/x", "--s3-endpoint", jira_sim.base_url])
    assert result.exit_code == 2
    assert "s3://snapshots/x/" in result.output
