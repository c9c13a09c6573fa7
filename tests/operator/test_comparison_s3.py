"""A SiteComparison of an operator run with ``--store s3`` keeps its full report in the bucket
(``status.report`` names it), ``jiradrift comparison-report`` reads it from there, and deleting the
comparison deletes its reports. Against the real S3 server (versitygw) and API server of the tests."""

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
from tests.cmd.test_compare_cluster import put_site
from tests.operator.kube import get, make_tenant
from tests.operator.test_site_comparison import apply, comparison
from tests.plugins.s3 import S3Server
from tests.plugins.sites import CapturedSite

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.sim.variant import RENAMED_GROUP
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client

pytestmark = pytest.mark.k8s
PREFIX = "kept-here"


def reports_in(server: S3Server, bucket: str, ns: str) -> list[str]:
    async def keys() -> list[str]:
        async with S3Client.connect(server.config(bucket, prefix=f"{PREFIX}/{ns}"), server.credentials) as client:
            return [o.key async for o in client.list("reports/")]

    return asyncio.run(keys())


def test_the_report_of_a_comparison_lives_in_s3_and_goes_with_it(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    production: CapturedSite,
    sandbox: CapturedSite,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = k8s_namespace
    sites = {"prod": production.items(), "sandbox": sandbox.items()}

    async def fill() -> None:
        async with S3Client.connect(s3_server.config(s3_bucket), s3_server.credentials) as root:
            await root.create_bucket()
            store_root = root.scoped(PREFIX)
            for tenant, items in sites.items():
                await put_site(S3Store.for_namespace(store_root, ns), f"{ns}/{tenant}", items)

    asyncio.run(fill())
    for key, value in s3_server.env().items():  # the operator and the CLI read them, as from the chart
        monkeypatch.setenv(key, value)
    s3_args = ["--s3-endpoint", s3_server.endpoint, "--s3-bucket", s3_bucket, "--s3-prefix", PREFIX, "--s3-path-style"]
    for tenant in ("prod", "sandbox"):  # they only name the stored sites: their Jira secret does not exist
        make_tenant(k8s_api, ns, tenant, f"https://{tenant}.atlassian.net", "no-such-secret", ["workflows"])
    group = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"
    with running_operator(control_plane, [ns], tmp_path, store="s3", extra=s3_args) as op:
        body = comparison("prod-vs-sandbox", "prod", "sandbox", mappings=[group])
        assert apply(control_plane, ns, body).returncode == 0

        def kept() -> dict[str, Any] | None:
            found = get(k8s_api, ns, "sitecomparisons", "prod-vs-sandbox").get("status") or {}
            return found if found.get("report") else None

        status = wait_for(kept, "the comparison's report kept", op=op, timeout=120)
        ref = status["report"]
        assert ref["store"] == f"s3://{s3_bucket}/{PREFIX}/{ns}/", ref
        assert reports_in(s3_server, s3_bucket, ns) == [f"reports/{ref['key']}.json.zst"]
        env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
        command = [sys.executable, "-m", "jiradrift", "comparison-report", f"{ns}/prod-vs-sandbox"]
        done = subprocess.run([*command, *s3_args], env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        report = orjson.loads(done.stdout)
        assert report["change_count"] == status["differences"]["total"] > 0
        without = subprocess.run(command, env=env, capture_output=True, timeout=120)
        assert without.returncode == 2 and b"--s3-bucket" in without.stderr, without.stderr
        control_plane.kubectl("delete", "sitecomparison", "-n", ns, "prod-vs-sandbox")
        wait_for(lambda: reports_in(s3_server, s3_bucket, ns) == [], "the reports deleted", op=op, timeout=60)
