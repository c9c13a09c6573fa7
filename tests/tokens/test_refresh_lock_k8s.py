"""The token refresh Lease is a ``LeaseLock`` (one algorithm): it and the operator's locks agree,
with the fewest calls, and a Lease left by a dead holder is taken over within one lease duration.

These tests pin the interplay and the round trips the job's speed depends on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from kubernetes import client as k8s
from tokenlib import CountingKube

from jiradrift.api import locks as lease_module
from jiradrift.api.locks import LeaseLock, lease_name
from jiradrift.dev.kubejson import request_json
from jiradrift.kube.client import Kube
from jiradrift.tokens.refresh_lock import lease_key, refresh_lease

pytestmark = pytest.mark.k8s


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def raw_lease(api: k8s.ApiClient, ns: str, key: str) -> dict[str, Any]:
    return request_json(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lease_name(key)}")


async def test_new_lease_is_created_then_released_in_two_writes_and_no_read(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    lock = refresh_lease(counting_kube, ns, "fresh", "job_1", duration_seconds=60)
    key = lease_key(ns, "fresh")
    assert lock.key == key and lock.name == lease_name(key)
    assert await lock.try_acquire(create_first=True)
    held = raw_lease(k8s_api, ns, key)
    assert held["spec"]["holderIdentity"] == "job_1" and held["spec"]["leaseDurationSeconds"] == 60
    assert held["metadata"]["annotations"][lease_module.ANNOTATION_LOCK_KEY] == key
    assert held["metadata"]["labels"][lease_module.LABEL_MANAGED_BY] == lease_module.MANAGED_BY
    assert held["metadata"]["labels"]["jiradrift.io/tenant"] == f"{ns}.fresh"
    assert await lock.release()
    assert counting_kube.calls == Counter({"POST": 1, "PUT": 1}), "no GET before the create nor the release"
    released = raw_lease(k8s_api, ns, key)["spec"]
    assert released.get("holderIdentity", "") == "" and released["leaseDurationSeconds"] == 1
    assert not await lock.release(), "released once"


async def test_existing_free_lease_is_taken_over_when_create_was_only_a_guess(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    earlier = refresh_lease(kube, ns, "old", "earlier_run", duration_seconds=60)
    assert await earlier.try_acquire() and await earlier.release()
    lock = refresh_lease(kube, ns, "old", "job_2", duration_seconds=60)
    assert await lock.try_acquire(create_first=True)  # 409 on create, then read and take over
    spec = raw_lease(k8s_api, ns, lease_key(ns, "old"))["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("job_2", 1)
    assert await lock.release()


async def test_refresh_lease_and_the_operators_lock_exclude_each_other(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "shared")
    clock = FakeClock()
    operator = LeaseLock(kube, ns, key, "operator_a", duration_seconds=60, clock=clock)
    job = LeaseLock(kube, ns, key, "job_b", duration_seconds=60, clock=clock)
    assert await operator.try_acquire()
    assert not await job.try_acquire(create_first=True)
    clock.now += 59  # not yet seen unchanged for the whole duration
    assert not await job.try_acquire()
    assert await operator.release()  # one PUT; the job may take it at once
    assert await job.try_acquire()
    assert raw_lease(k8s_api, ns, key)["spec"]["leaseTransitions"] == 1
    assert not await operator.try_acquire()
    assert not await operator.release(), "never releases what the job holds"
    assert await job.release()
    assert await operator.try_acquire()
    assert raw_lease(k8s_api, ns, key)["spec"]["leaseTransitions"] == 2
    assert not await job.release(), "never releases what the operator holds"
    assert raw_lease(k8s_api, ns, key)["spec"]["holderIdentity"] == "operator_a"


async def test_a_silent_holder_is_taken_over_after_its_duration_on_the_local_clock(
    kube: Kube, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    clock = FakeClock()
    gone = refresh_lease(kube, ns, "stale", "crashed_pod", duration_seconds=10)
    assert await gone.try_acquire()
    job = LeaseLock(kube, ns, lease_key(ns, "stale"), "job_c", duration_seconds=60, clock=clock)
    assert not await job.try_acquire()
    clock.now += 10.5
    assert await job.try_acquire()
    assert not await gone.renew(), "the old holder has lost it"


async def test_release_after_someone_else_touched_the_lease_rereads_and_releases_only_if_ours(
    counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "touched")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lease_name(key)}"
    lock = refresh_lease(counting_kube, ns, "touched", "job_d", duration_seconds=60)
    assert await lock.try_acquire(create_first=True)
    patch = {"metadata": {"labels": {"touched": "yes"}}}
    request_json(k8s_api, "PATCH", path, body=patch, content_type="application/merge-patch+json")
    counting_kube.calls.clear()
    assert await lock.release(), "409, re-read: still ours, so released"
    assert counting_kube.calls == Counter({"PUT": 2, "GET": 1})
    assert raw_lease(k8s_api, ns, key)["metadata"]["labels"]["touched"] == "yes"

    assert await lock.try_acquire()
    thief = {"spec": {"holderIdentity": "thief", "leaseDurationSeconds": 60}}
    request_json(k8s_api, "PATCH", path, body=thief, content_type="application/merge-patch+json")
    assert not await lock.release()
    assert raw_lease(k8s_api, ns, key)["spec"]["holderIdentity"] == "thief"
