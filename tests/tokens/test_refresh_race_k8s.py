"""The CronJob command and the operator refreshing the same tenant at the same moment, 100 times."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tokenlib import (
    EMULATOR,
    RefreshTokenSpy,
    create_secret,
    create_tenant,
    get_tenant,
    oauth_secret,
    secret_values,
    set_secret_values,
    soon,
)

from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens import TokenState, ensure_fresh_token, run_refresh_job

pytestmark = pytest.mark.k8s
TRIALS = 100


async def operator(kube: Kube, tenant: dict[str, Any], http: httpx.AsyncClient, *, delay: float) -> TokenState:
    """The operator before a capture; the jitter lets either caller reach the Lease first."""
    await asyncio.sleep(delay)
    return await ensure_fresh_token(kube, tenant, window=timedelta(minutes=5), http=http, allowlist=EMULATOR)


async def test_job_and_operator_race_rotates_exactly_once_per_trial(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    first_token = sim.oauth.create_grant()
    create_secret(k8s_api, ns, "acme-creds", oauth_secret(sim, first_token, expires_at=soon(1)))
    create_tenant(k8s_api, ns, "acme", sim)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=16))
    job_spy, operator_spy = RefreshTokenSpy(), RefreshTokenSpy()
    rotations: list[int] = []
    async with job_spy.client() as job_http, operator_spy.client() as operator_http:
        for _ in range(TRIALS):
            # Both callers find the token about to expire (1 min) and want it valid for their window.
            set_secret_values(k8s_api, ns, "acme-creds", {"expires_at": soon(1).strftime("%Y-%m-%dT%H:%M:%SZ")})
            before = len(job_spy.presented) + len(operator_spy.presented)
            tenant = get_tenant(k8s_api, ns, "acme")
            summary, state = await asyncio.gather(
                run_refresh_job(kube, namespaces=[ns], window=timedelta(minutes=30), http=job_http, allowlist=EMULATOR),
                operator(kube, tenant, operator_http, delay=random.uniform(0, 0.03)),
            )
            rotations.append(len(job_spy.presented) + len(operator_spy.presented) - before)
            assert summary.failed == 0 and summary.refreshed + summary.skipped == 1
            stored = secret_values(k8s_api, ns, "acme-creds")
            assert state.access_token == stored["access_token"], "the operator uses what is persisted"
            assert sim.oauth.access_token(state.access_token) is not None

    presented = job_spy.presented + operator_spy.presented
    print(f"\nrotations won: job {len(job_spy.presented)}, operator {len(operator_spy.presented)}")
    assert rotations == [1] * TRIALS, "exactly one rotation per trial"
    assert len(set(presented)) == len(presented) == TRIALS, "no spent refresh token is ever presented again"
    assert first_token in presented
    assert job_spy.presented and operator_spy.presented, "both callers won some trials"
    assert sim.requests.count("POST /oauth/token", status=200) == TRIALS
    assert sim.requests.count("POST /oauth/token") == TRIALS, "no invalid_grant, no other error"
    grant = sim.oauth.grant_of_refresh_token(first_token)
    assert grant is not None and not grant.revoked
    assert len(grant.refresh_tokens) == TRIALS + 1
    spent = [rt for rt in grant.refresh_tokens.values() if rt.rotated_at is not None]
    assert len(spent) == TRIALS
