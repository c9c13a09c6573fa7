"""The refresh job over many tenants, and the CronJob command as the chart runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client as k8s
from tokenlib import EMULATOR, create_secret, create_tenant, oauth_secret, sa_secret, secret_values, soon

from jiradrift.api.locks import ANNOTATION_LOCK_KEY, format_microtime, lease_name
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import request_json
from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens import lease_key, run_refresh_job

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


DEAD_HOLDER_DURATION = 6  # the chart's 60 s Lease and 30 s wait, scaled down: the wait is shorter than the Lease


async def test_a_lease_left_by_a_dead_holder_is_taken_over_by_the_next_run_within_one_lease_duration(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    """A refresher killed mid-refresh (Job deadline, OOM, node drain) leaves its Lease held, freshly
    renewed, and nobody renews it again. The next run must not give up after its (shorter) wait: it
    sees the record unchanged for the Lease's duration, takes it over and refreshes."""
    ns, sim = k8s_namespace, jira_sim
    spent = sim.oauth.create_grant()
    create_secret(k8s_api, ns, "t0-creds", oauth_secret(sim, spent, expires_at=soon(30)))
    create_tenant(k8s_api, ns, "t0", sim)
    key = lease_key(ns, "t0")
    now = format_microtime(datetime.now(UTC))
    dead = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": lease_name(key), "namespace": ns, "annotations": {ANNOTATION_LOCK_KEY: key}},
        "spec": {
            "holderIdentity": "refresh-job-28a7c_0b1d2e3f4a",
            "leaseDurationSeconds": DEAD_HOLDER_DURATION,
            "leaseTransitions": 0,
            "acquireTime": now,
            "renewTime": now,
        },
    }
    request_json(k8s_api, "POST", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", body=dead)

    started = time.monotonic()
    summary = await run_refresh_job(
        kube, namespaces=[ns], window=timedelta(hours=24), lease_wait=2.0, allowlist=EMULATOR
    )
    elapsed = time.monotonic() - started

    assert summary.line() == "Token refresh job: 1 refreshed, 0 skipped, 0 failed", [
        f.message for f in summary.failures
    ]
    assert elapsed < DEAD_HOLDER_DURATION + 3, f"took {elapsed:.1f}s, more than one lease duration (+3 s of calls)"
    # taken over from the dead holder (it refreshed), then released by deleting it: nothing lingers
    leases = request_json(k8s_api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")["items"]
    assert [item["metadata"]["name"] for item in leases] == []
    stored = secret_values(k8s_api, ns, "t0-creds")
    assert stored["refresh_token"] != spent
    assert sim.oauth.grant_of_refresh_token(stored["refresh_token"]) is not None, "the emulator issued it"
