"""The refresh job over many tenants, and the CronJob command as the chart runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from kubernetes import client as k8s
from tokenlib import EMULATOR, create_secret, create_tenant, oauth_secret, sa_secret, secret_values, soon

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens import run_refresh_job

pytestmark = pytest.mark.k8s


def populate(
    api: k8s.ApiClient,
    ns: str,
    sim: RunningEmulator,
    *,
    expiring: int,
    fresh: int = 0,
    malformed: int = 0,
    service_accounts: int = 0,
    api_tokens: int = 0,
) -> None:
    for i in range(expiring):
        create_secret(api, ns, f"t{i}-creds", oauth_secret(sim, sim.oauth.create_grant(), expires_at=soon(30)))
        create_tenant(api, ns, f"t{i}", sim)
    for i in range(fresh):
        create_secret(api, ns, f"f{i}-creds", oauth_secret(sim, sim.oauth.create_grant(), expires_at=soon(48 * 60)))
        create_tenant(api, ns, f"f{i}", sim)
    for i in range(malformed):
        create_secret(api, ns, f"m{i}-creds", {"client_id": "x"})
        create_tenant(api, ns, f"m{i}", sim)
    for i in range(service_accounts):
        create_secret(api, ns, f"s{i}-creds", sa_secret(sim))
        create_tenant(api, ns, f"s{i}", sim, kind="serviceAccount")
    for i in range(api_tokens):
        create_secret(api, ns, f"a{i}-creds", {"email": "a@example.com", "token": "t"})
        create_tenant(api, ns, f"a{i}", sim, kind="apiToken")


async def test_job_visits_every_tenant_continues_past_failures_and_counts(
    kube: Kube, k8s_api: k8s.ApiClient, jira_sim: RunningEmulator
) -> None:
    core = k8s.CoreV1Api(k8s_api)
    namespaces = [f"job-{os.getpid()}-{i}" for i in range(3)]
    for ns in namespaces:
        core.create_namespace({"metadata": {"name": ns}})
    populate(k8s_api, namespaces[0], jira_sim, expiring=100, fresh=20, malformed=5, api_tokens=5)
    populate(k8s_api, namespaces[1], jira_sim, expiring=100, service_accounts=10)
    populate(k8s_api, namespaces[2], jira_sim, expiring=60, malformed=5)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=28))

    started = time.monotonic()
    summary = await run_refresh_job(
        kube, namespaces=namespaces, window=timedelta(hours=24), concurrency=20, page_size=50, allowlist=EMULATOR
    )
    elapsed = time.monotonic() - started

    assert summary.line() == "Token refresh job: 270 refreshed, 20 skipped, 10 failed"
    assert summary.exit_code == 1 and summary.not_refreshable == 5
    assert {f.reason for f in summary.failures} == {"MalformedSecret"}
    assert jira_sim.requests.count("POST /oauth/token", status=200) == 270
    assert jira_sim.requests.count("POST /oauth/token") == 270
    assert secret_values(k8s_api, namespaces[2], "t59-creds")["access_token"].startswith("at-")
    print(f"\n300 tenants: {elapsed:.1f}s ({300 / elapsed:.0f} tenants/s)")
    assert elapsed < 60


def run_cli(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jiradrift",
            "refresh-tokens",
            "--kubeconfig",
            str(plane.kubeconfig),
            "--log-format",
            "plain",
            "--allowed-hosts",
            str(EMULATOR),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cronjob_command_prints_one_summary_line_and_exits_by_failures(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    populate(k8s_api, ns, jira_sim, expiring=3, fresh=1)
    ok = run_cli(control_plane, "--namespace", ns, "--window", "24h")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines() == ["Token refresh job: 3 refreshed, 1 skipped, 0 failed"]

    populate(k8s_api, ns, jira_sim, expiring=0, malformed=1)
    failing = run_cli(control_plane, "-n", ns, "--window", "30m")
    assert failing.returncode == 1
    assert failing.stdout.strip().splitlines() == ["Token refresh job: 0 refreshed, 4 skipped, 1 failed"]
    assert f"JiraTenant {ns}/m0 (MalformedSecret)" in failing.stderr
    assert "at-" not in failing.stderr and "rt-" not in failing.stderr, "no token in the logs"
