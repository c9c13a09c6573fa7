"""The token refresh Lease (``RefreshLease``, async) and ``LeaseLock`` agree, with the fewest calls.

The job and the operator both take a tenant's refresh Lease through ``RefreshLease``; anything else
(a ``LeaseLock`` on the same key, a Go controller) follows the same client-go rules. These tests
pin the interplay and the round trips the job's speed depends on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from kubernetes import client as k8s

from jiradrift.k8s import lease as lease_module
from jiradrift.k8s.lease import LeaseLock, lease_name
from jiradrift.kube.api import request_json
from jiradrift.tokens import lease_key
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.lease import RefreshLease

pytestmark = pytest.mark.k8s


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingOps(KubeOps):
    """The native transport, counting Kubernetes calls by method."""

    def __init__(self, ops: KubeOps) -> None:
        super().__init__(ops.api, ops.transport)
        self.calls: Counter[str] = Counter()

    async def _run(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        self.calls[method] += 1
        return await super()._run(method, path, **kwargs)


def raw_lease(api: k8s.ApiClient, ns: str, key: str) -> dict[str, Any]:
    return request_json(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lease_name(key)}")


async def test_new_lease_is_created_then_released_in_two_writes_and_no_read(
    k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "fresh")
    ops = CountingOps(KubeOps.connect(k8s_api, pool=2))
    try:
        lock = RefreshLease(ops, ns, key, "job_1", duration_seconds=60, labels={"jiradrift.io/tenant": "x"})
        assert await lock.try_acquire(probably_new=True)
        held = raw_lease(k8s_api, ns, key)
        assert held["spec"]["holderIdentity"] == "job_1" and held["spec"]["leaseDurationSeconds"] == 60
        assert held["metadata"]["annotations"][lease_module.ANNOTATION_LOCK_KEY] == key
        assert held["metadata"]["labels"][lease_module.LABEL_MANAGED_BY] == lease_module.MANAGED_BY
        assert await lock.release()
        assert ops.calls == Counter({"POST": 1, "PUT": 1}), "no GET before the create nor the release"
        released = raw_lease(k8s_api, ns, key)["spec"]
        assert released.get("holderIdentity", "") == "" and released["leaseDurationSeconds"] == 1
        assert not await lock.release(), "released once"
    finally:
        await ops.aclose()


async def test_existing_free_lease_is_taken_over_when_create_was_only_a_guess(
    k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "old")
    earlier = LeaseLock(k8s_api, ns, key, "earlier_run")
    assert earlier.try_acquire() and earlier.release()
    ops = KubeOps.connect(k8s_api, pool=2)
    try:
        lock = RefreshLease(ops, ns, key, "job_2", duration_seconds=60)
        assert await lock.try_acquire(probably_new=True)  # 409 on create, then read and take over
        spec = raw_lease(k8s_api, ns, key)["spec"]
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("job_2", 1)
        assert await lock.release()
    finally:
        await ops.aclose()


async def test_refresh_lease_and_lease_lock_exclude_each_other(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "shared")
    clock = FakeClock()
    operator = LeaseLock(k8s_api, ns, key, "operator_a", duration_seconds=60, clock=clock)
    ops = KubeOps.connect(k8s_api, pool=2)
    try:
        job = RefreshLease(ops, ns, key, "job_b", duration_seconds=60, clock=clock)
        assert operator.try_acquire()
        assert not await job.try_acquire(probably_new=True)
        clock.now += 59  # not yet seen unchanged for the whole duration
        assert not await job.try_acquire()
        assert operator.release()  # one PUT; the job may take it at once
        assert await job.try_acquire()
        assert raw_lease(k8s_api, ns, key)["spec"]["leaseTransitions"] == 1
        assert not operator.try_acquire()
        assert not operator.release(), "never releases what the job holds"
        assert await job.release()
        assert operator.try_acquire()
        assert raw_lease(k8s_api, ns, key)["spec"]["leaseTransitions"] == 2
        assert not await job.release(), "never releases what the operator holds"
        assert raw_lease(k8s_api, ns, key)["spec"]["holderIdentity"] == "operator_a"
    finally:
        await ops.aclose()


async def test_a_silent_holder_is_taken_over_after_its_duration_on_the_local_clock(
    k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "stale")
    clock = FakeClock()
    gone = LeaseLock(k8s_api, ns, key, "crashed_pod", duration_seconds=10)
    assert gone.try_acquire()
    ops = KubeOps.connect(k8s_api, pool=2)
    try:
        job = RefreshLease(ops, ns, key, "job_c", duration_seconds=60, clock=clock)
        assert not await job.try_acquire()
        clock.now += 10.5
        assert await job.try_acquire()
        assert not gone.renew(), "the old holder has lost it"
    finally:
        await ops.aclose()


async def test_release_after_someone_else_touched_the_lease_rereads_and_releases_only_if_ours(
    k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, key = k8s_namespace, lease_key(k8s_namespace, "touched")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lease_name(key)}"
    ops = KubeOps.connect(k8s_api, pool=2)
    try:
        lock = RefreshLease(ops, ns, key, "job_d", duration_seconds=60)
        assert await lock.try_acquire(probably_new=True)
        patch = {"metadata": {"labels": {"touched": "yes"}}}
        request_json(k8s_api, "PATCH", path, body=patch, content_type="application/merge-patch+json")
        assert await lock.release(), "409, re-read: still ours, so released"
        assert raw_lease(k8s_api, ns, key)["metadata"]["labels"]["touched"] == "yes"

        assert await lock.try_acquire()
        thief = {"spec": {"holderIdentity": "thief", "leaseDurationSeconds": 60}}
        request_json(k8s_api, "PATCH", path, body=thief, content_type="application/merge-patch+json")
        assert not await lock.release()
        assert raw_lease(k8s_api, ns, key)["spec"]["holderIdentity"] == "thief"
    finally:
        await ops.aclose()


def test_lease_lock_release_reuses_its_own_write(
    k8s_api: k8s.ApiClient, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()

    def counting(api: k8s.ApiClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        calls[method] += 1
        return request_json(api, method, path, **kwargs)

    monkeypatch.setattr(lease_module, "request_json", counting)
    ns, key = k8s_namespace, lease_key(k8s_namespace, "lock")
    lock = LeaseLock(k8s_api, ns, key, "operator_e")
    assert lock.try_acquire()
    calls.clear()
    assert lock.release()
    assert calls == Counter({"PUT": 1}), "the resourceVersion of our own write is the precondition"

    assert lock.try_acquire()
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lock.name}"
    request_json(
        k8s_api, "PATCH", path, body={"metadata": {"labels": {"x": "y"}}}, content_type="application/merge-patch+json"
    )
    calls.clear()
    assert lock.release(), "409: re-read, still ours, released"
    assert calls == Counter({"PUT": 2, "GET": 1})
    assert not lock.release()
