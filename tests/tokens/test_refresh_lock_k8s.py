"""The token refresh lock lives on the credential Secret (an annotation holding a Lease record, the
Lease's rules): two refreshers exclude each other, with the fewest calls, a dead holder's lock is taken
over within one duration, and a refresh costs GET, PUT (lock), PUT (tokens + release), PATCH (status).

These tests pin the interplay and the round trips the job's speed depends on.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tokenlib import (
    EMULATOR,
    CountingKube,
    create_secret,
    create_tenant,
    get_secret,
    oauth_secret,
    patch_secret,
    secret_values,
    soon,
    tenant_path,
)

from jiradrift.api import locks as lease_module
from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens import LOCK_ANNOTATION, Outcome, TokenRefresher
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.refresh_lock import SecretLock, lock_key
from jiradrift.tokens.secret import REAUTH_ANNOTATION

pytestmark = pytest.mark.k8s


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(api: k8s.ApiClient, ns: str, name: str) -> dict[str, Any]:
    annotations = get_secret(api, ns, name)["metadata"].get("annotations") or {}
    return dict(json.loads(annotations[LOCK_ANNOTATION])) if LOCK_ANNOTATION in annotations else {}


def lock(kube: Kube, ns: str, holder: str, *, duration: int = 60, clock: FakeClock | None = None) -> SecretLock:
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return SecretLock(
        KubeOps(kube), ns, "acme-creds", holder, duration_seconds=duration, key=lock_key(ns, "acme"), **extra
    )


def credentials(api: k8s.ApiClient, ns: str, sim: RunningEmulator, *, minutes: float = 1) -> dict[str, Any]:
    return create_secret(api, ns, "acme-creds", oauth_secret(sim, sim.oauth.create_grant(), expires_at=soon(minutes)))


async def test_the_lock_on_a_secret_just_read_is_one_write_and_its_release_one_more(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    read = credentials(k8s_api, ns, jira_sim)
    job = lock(counting_kube, ns, "job_1")
    locked = await job.acquire(0, secret=read)
    assert locked is not None and job.holds()
    held = record(k8s_api, ns, "acme-creds")
    assert (held["holderIdentity"], held["leaseDurationSeconds"], held["leaseTransitions"]) == ("job_1", 60, 0)
    assert locked["metadata"]["resourceVersion"] == get_secret(k8s_api, ns, "acme-creds")["metadata"]["resourceVersion"]
    assert await job.release()
    assert counting_kube.calls == Counter({"PUT": 2}), "no read before the lock nor the release"
    released = record(k8s_api, ns, "acme-creds")
    assert (released["holderIdentity"], released["leaseDurationSeconds"]) == ("", 1)
    assert not await job.release(), "released once"
    assert lease_module.LOCK_RESULTS["released"] >= 1


async def test_a_stale_read_is_never_locked_a_409_reads_again_and_locks_the_newest(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    stale = credentials(k8s_api, ns, jira_sim)
    patch_secret(k8s_api, ns, "acme-creds", {"metadata": {"labels": {"touched": "yes"}}})
    job = lock(counting_kube, ns, "job_2")
    locked = await job.acquire(0, secret=stale)
    assert locked is not None and locked["metadata"]["labels"] == {"touched": "yes"}, "locked on what was written"
    assert counting_kube.calls == Counter({"PUT": 2, "GET": 1})
    assert record(k8s_api, ns, "acme-creds")["holderIdentity"] == "job_2"


async def test_two_refreshers_exclude_each_other_and_release_only_their_own(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    credentials(k8s_api, ns, jira_sim)
    clock = FakeClock()
    operator = lock(kube, ns, "operator_a", clock=clock)
    job = lock(kube, ns, "job_b", clock=clock)
    assert await operator.acquire(0) is not None
    assert await job.acquire(0) is None
    clock.now += 59  # not yet seen unchanged for the whole duration
    assert await job.acquire(0) is None
    assert await operator.release()  # one PUT; the job may take it at once
    assert await job.acquire(0) is not None
    assert record(k8s_api, ns, "acme-creds")["leaseTransitions"] == 1
    assert await operator.acquire(0) is None
    assert not await operator.release(), "never releases what the job holds"
    assert await job.release()
    assert await operator.acquire(0) is not None
    assert record(k8s_api, ns, "acme-creds")["leaseTransitions"] == 2
    assert not await job.release(), "never releases what the operator holds"
    assert record(k8s_api, ns, "acme-creds")["holderIdentity"] == "operator_a"


async def test_a_silent_holder_is_taken_over_after_its_duration_on_the_local_clock(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    credentials(k8s_api, ns, jira_sim)
    clock = FakeClock()
    gone = lock(kube, ns, "crashed_pod", duration=10)
    assert await gone.acquire(0) is not None
    job = lock(kube, ns, "job_c", clock=clock)
    assert await job.acquire(0) is None
    clock.now += 10.5
    assert await job.acquire(0) is not None
    assert not await gone.renew(), "the old holder has lost it"
    assert record(k8s_api, ns, "acme-creds")["holderIdentity"] == "job_c"


async def test_renew_and_release_after_someone_else_wrote_the_secret_reread_and_act_only_if_ours(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    credentials(k8s_api, ns, jira_sim)
    job = lock(counting_kube, ns, "job_d")
    assert await job.acquire(0) is not None
    patch_secret(k8s_api, ns, "acme-creds", {"metadata": {"labels": {"touched": "yes"}}})
    counting_kube.calls.clear()
    assert await job.renew(), "409, re-read: still ours, so renewed"
    assert counting_kube.calls == Counter({"PUT": 2, "GET": 1})
    patch_secret(k8s_api, ns, "acme-creds", {"metadata": {"labels": {"again": "yes"}}})
    assert await job.release(), "409, re-read: still ours, so released"
    labels = get_secret(k8s_api, ns, "acme-creds")["metadata"]["labels"]
    assert labels == {"touched": "yes", "again": "yes"}, "the other writes are kept"

    assert await job.acquire(0) is not None
    thief = {"holderIdentity": "thief", "leaseDurationSeconds": 60, "leaseTransitions": 5}
    patch_secret(k8s_api, ns, "acme-creds", {"metadata": {"annotations": {LOCK_ANNOTATION: json.dumps(thief)}}})
    assert not await job.renew()
    assert not await job.release()
    assert record(k8s_api, ns, "acme-creds")["holderIdentity"] == "thief"


async def test_a_due_tenant_costs_a_read_the_lock_the_tokens_with_the_release_and_status(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    """GET Secret, PUT Secret (lock: proves the read is the newest), PUT Secret (rotated tokens and
    the release in one write), PATCH status: four requests, no Lease."""
    ns, sim = k8s_namespace, jira_sim
    spent = sim.oauth.create_grant()
    create_secret(k8s_api, ns, "acme-creds", oauth_secret(sim, spent, expires_at=soon(30)))
    tenant = create_tenant(k8s_api, ns, "acme", sim)
    async with httpx.AsyncClient(timeout=30.0) as http:
        result = await TokenRefresher(counting_kube, http=http, allowlist=EMULATOR).refresh(
            tenant, window=timedelta(hours=24)
        )
    assert result.outcome is Outcome.REFRESHED, result.message
    secret_path = f"/api/v1/namespaces/{ns}/secrets/acme-creds"
    assert counting_kube.requests == [
        ("GET", secret_path),
        ("PUT", secret_path),
        ("PUT", secret_path),
        ("PATCH", tenant_path(ns, "acme") + "/status"),
    ]
    stored = get_secret(k8s_api, ns, "acme-creds")
    assert secret_values(k8s_api, ns, "acme-creds")["refresh_token"] != spent
    released = json.loads(stored["metadata"]["annotations"][LOCK_ANNOTATION])
    assert (released["holderIdentity"], released["leaseTransitions"]) == ("", 0)
    assert REAUTH_ANNOTATION not in stored["metadata"]["annotations"]


async def test_a_slow_refresh_renews_the_lock_on_the_secret_and_nobody_takes_it_over_meanwhile(
    kube: Kube, counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    """The token endpoint answers after 3.5 s; the lock lasts 2 s and is renewed every 0.7 s (PUTs
    of the Secret), so a contender polling all along never sees it unchanged for its duration; the
    rotated tokens are then written on top of the renewed Secret, releasing the lock."""
    ns, sim = k8s_namespace, jira_sim
    spent = sim.oauth.create_grant()
    create_secret(k8s_api, ns, "acme-creds", oauth_secret(sim, spent, expires_at=soon(30)))
    tenant = create_tenant(k8s_api, ns, "acme", sim)
    asked = asyncio.Event()

    async def slow(request: httpx.Request) -> None:
        if request.url.path.endswith("/oauth/token"):
            asked.set()
            await asyncio.sleep(3.5)

    async with httpx.AsyncClient(timeout=30.0, event_hooks={"request": [slow]}) as http:
        refresher = TokenRefresher(counting_kube, http=http, allowlist=EMULATOR, lease_duration=2)
        job = asyncio.create_task(refresher.refresh(tenant, window=timedelta(hours=24)))
        await asyncio.wait_for(asked.wait(), 30)
        contender = lock(kube, ns, "contender", duration=2)
        while not job.done():
            assert await contender.acquire(0) is None, "taken over while the holder was renewing"
            await asyncio.sleep(0.3)
        result = await job
    assert result.outcome is Outcome.REFRESHED, result.message
    puts = [p for m, p in counting_kube.requests if m == "PUT"]
    assert len(puts) >= 4, f"lock, at least two renewals, the tokens: {counting_kube.requests}"
    assert secret_values(k8s_api, ns, "acme-creds")["refresh_token"] != spent
    released = record(k8s_api, ns, "acme-creds")
    assert (released["holderIdentity"], released["leaseDurationSeconds"]) == ("", 1)
