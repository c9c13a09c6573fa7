"""The Lease lock against a real kube-apiserver: client-go semantics, races, expiry, release."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from kubernetes import client as k8s

from jiradrift.dev.operator_process import wait_for
from jiradrift.k8s.lease import (
    ANNOTATION_LOCK_KEY,
    LOCK_RESULTS,
    LeaseLock,
    LeaseLost,
    LeaseNotAcquired,
    format_microtime,
    holder_identity,
    label_value,
    lease_name,
    snapshot_lock_key,
    snapshot_lock_labels,
)
from jiradrift.kube.api import request_json

pytestmark = pytest.mark.k8s

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
WINDOW = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


class FakeClock:
    """A local monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def raw_lease(api: k8s.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return request_json(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")


def race(locks: list[LeaseLock]) -> dict[str, bool]:
    """Let every lock try_acquire at the same moment, each from its own thread."""
    barrier = threading.Barrier(len(locks))
    results: dict[str, bool] = {}

    def contend(lock: LeaseLock) -> None:
        barrier.wait()
        results[lock.holder] = lock.try_acquire()

    threads = [threading.Thread(target=contend, args=(lock,)) for lock in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == len(locks), "a contender did not finish"
    return results


@pytest.fixture
def make_lock(k8s_api: k8s.ApiClient, k8s_namespace: str) -> Callable[..., LeaseLock]:
    def make(key: str, holder: str, **kwargs: Any) -> LeaseLock:
        kwargs.setdefault("duration_seconds", 10)
        return LeaseLock(k8s_api, k8s_namespace, key, holder, **kwargs)

    return make


# --- names and keys ---------------------------------------------------------------------------

AWKWARD_KEYS = [
    snapshot_lock_key("team-a/acme", "workflows", WINDOW),
    snapshot_lock_key("team-a/ACME", "workflows", WINDOW),  # differs only in case
    "snapshot_lock:team-a/acme-corp:workflows:2026-01-02T03:00:00Z",
    "snapshot_lock:team-a/acme corp:workflows:2026-01-02T03:00:00Z",  # slugs like the one above
    "snapshot_lock:équipe/société:flux:2026-01-02T03:00:00+01:00",
    "snapshot_lock:日本/設定:ワークフロー:2026-01-02T03:00:00Z",
    "::::",
    "🔒",
    "snapshot_lock:" + "a" * 300 + ":workflows:2026-01-02T03:00:00Z",
    "snapshot_lock:" + "a" * 300 + ":workflows:2026-01-02T03:05:00Z",  # same long prefix
    "token_refresh:team-a/acme",
    "-leading.and.trailing-",
]


def test_lease_names_are_valid_distinct_and_accepted_by_the_server(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    names = [lease_name(key) for key in AWKWARD_KEYS]
    assert len(set(names)) == len(AWKWARD_KEYS)
    for name in names:
        assert DNS_LABEL.match(name) and len(name) <= 63, name
    assert names[0].startswith("snapshot-lock-team-a-acme-workflows-2026-01-02t03-")
    assert lease_name("🔒").startswith("lock-")
    for key in AWKWARD_KEYS:
        lock = make_lock(key, "a")
        assert lock.try_acquire(), key
        lease = raw_lease(k8s_api, k8s_namespace, lock.name)
        assert lease["metadata"]["annotations"][ANNOTATION_LOCK_KEY] == key  # exact key, unicode kept


def test_snapshot_lock_key_and_labels() -> None:
    key = snapshot_lock_key("ns/acme", "fields", WINDOW)
    assert key == "snapshot_lock:ns/acme:fields:2026-01-02T03:00:00Z"
    paris = datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=1)))  # same instant as 04:00Z
    assert snapshot_lock_key("ns/acme", "fields", paris) == key.replace("T03", "T04")
    with pytest.raises(ValueError, match="no timezone"):
        snapshot_lock_key("ns/acme", "fields", datetime(2026, 1, 2))
    assert snapshot_lock_labels("ns/acme", "fields") == {
        "jiradrift.io/tenant": "ns.acme",
        "jiradrift.io/type": "fields",
    }
    for value in ["ns/" + "x" * 80, "ñ/ü", "_a_", "ns/a b", "ns/a-b"]:
        assert LABEL_VALUE.match(label_value(value)) and len(label_value(value)) <= 63, value
    assert label_value("ns/a b") != label_value("ns/a-b")


def test_holder_identity_is_pod_name_plus_random_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "jiradrift-7d9f-abcde")
    a, b = holder_identity(), holder_identity()
    assert a.startswith("jiradrift-7d9f-abcde_") and b.startswith("jiradrift-7d9f-abcde_") and a != b
    assert holder_identity("other").startswith("other_")


# --- acquisition --------------------------------------------------------------------------------


def test_two_holders_racing_for_a_new_lease_only_one_wins_every_time(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    trials = 50
    for trial in range(trials):
        key = snapshot_lock_key("race/t", "workflows", WINDOW + timedelta(minutes=trial))
        locks = [make_lock(key, f"holder-{i}") for i in range(2)]
        results = race(locks)
        winners = [h for h, won in results.items() if won]
        assert len(results) == 2 and len(winners) == 1, (trial, results)
        spec = raw_lease(k8s_api, k8s_namespace, locks[0].name)["spec"]
        assert spec["holderIdentity"] == winners[0]
        assert spec["leaseTransitions"] == 0


def test_racing_takeover_of_an_expired_lease_has_one_winner(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    for trial in range(15):
        key = f"race-takeover:{trial}"
        assert make_lock(key, "old").try_acquire()
        clocks = [FakeClock(), FakeClock()]
        locks = [make_lock(key, f"new-{i}", clock=clocks[i]) for i in range(2)]
        for lock in locks:
            assert not lock.try_acquire()  # held: each candidate starts its local timer
        for clock in clocks:
            clock.advance(10.5)
        results = race(locks)
        winners = [h for h, won in results.items() if won]
        assert len(winners) == 1, (trial, results)
        spec = raw_lease(k8s_api, k8s_namespace, locks[0].name)["spec"]
        assert spec["holderIdentity"] == winners[0]
        assert spec["leaseTransitions"] == 1


def test_takeover_only_after_the_duration_without_an_observed_change(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    key = snapshot_lock_key("ns/acme", "workflows", WINDOW)
    a = make_lock(key, "a")
    clock = FakeClock()
    b = make_lock(key, "b", clock=clock)
    assert a.try_acquire()
    assert not b.try_acquire()
    clock.advance(9.9)
    assert not b.try_acquire()  # not yet 10 s unchanged
    assert a.renew()  # a change: b's timer restarts when it sees it
    clock.advance(0.2)
    assert not b.try_acquire()
    clock.advance(9.9)
    assert not b.try_acquire()
    before = raw_lease(k8s_api, k8s_namespace, a.name)["spec"]
    clock.advance(0.2)
    assert b.try_acquire()
    after = raw_lease(k8s_api, k8s_namespace, a.name)["spec"]
    assert after["holderIdentity"] == "b"
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1 == 1
    assert after["acquireTime"] != before["acquireTime"]
    assert b.record is not None and b.record.holder == "b" and b.record.transitions == 1

    # The old holder stopped renewing: its renewal now fails, and it cannot release b's lease.
    assert not a.renew()
    assert not a.release()
    assert raw_lease(k8s_api, k8s_namespace, a.name)["spec"] == after


def test_other_holders_clocks_do_not_matter(make_lock: Callable[..., LeaseLock]) -> None:
    """A holder whose wall clock is a year behind writes ancient renewTimes; still not expired."""
    key = "skew"
    a = make_lock(key, "a", wall_clock=lambda: datetime.now(UTC) - timedelta(days=365))
    clock = FakeClock()
    b = make_lock(key, "b", clock=clock)
    assert a.try_acquire()
    assert not b.try_acquire()
    clock.advance(5)
    assert not b.try_acquire()
    clock.advance(5.1)
    assert b.try_acquire()


def test_renewal_keeps_acquire_time_and_transitions(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    times = iter(datetime(2026, 1, 2, 3, 4, s, 250000, tzinfo=UTC) for s in range(10))
    a = make_lock("renew", "a", wall_clock=lambda: next(times))
    assert a.try_acquire()
    first = raw_lease(k8s_api, k8s_namespace, a.name)
    assert a.renew()
    assert a.try_acquire()  # renewing through try_acquire (fast path) too
    spec = raw_lease(k8s_api, k8s_namespace, a.name)["spec"]
    assert spec["acquireTime"] == first["spec"]["acquireTime"] == "2026-01-02T03:04:00.250000Z"
    assert spec["renewTime"] == "2026-01-02T03:04:02.250000Z"
    assert spec["leaseTransitions"] == 0
    assert spec["leaseDurationSeconds"] == 10
    assert a.resource_version != first["metadata"]["resourceVersion"]


def test_microtime_at_whole_seconds_is_accepted(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    frozen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # microsecond == 0: isoformat() drops it
    assert format_microtime(frozen) == "2026-01-02T03:04:05.000000Z"
    lock = make_lock("whole-seconds", "a", wall_clock=lambda: frozen)
    assert lock.try_acquire()
    assert lock.renew()
    spec = raw_lease(k8s_api, k8s_namespace, lock.name)["spec"]
    assert spec["renewTime"] == spec["acquireTime"] == "2026-01-02T03:04:05.000000Z"
    with pytest.raises(ValueError, match="no timezone"):
        format_microtime(datetime(2026, 1, 2))


def test_acquire_waits_until_the_lease_expires_or_times_out(make_lock: Callable[..., LeaseLock]) -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    key = "acquire-loop"
    assert make_lock(key, "a").try_acquire()
    b = make_lock(key, "b", clock=clock, sleep=sleep)
    denied = LOCK_RESULTS["denied"]
    assert not b.acquire(timeout=5, retry_period=2)
    assert LOCK_RESULTS["denied"] == denied + 1  # one acquire() call, one result
    assert all(2 <= s <= 2.4 for s in sleeps[:-1]) and sum(sleeps) <= 5.0001
    acquired = LOCK_RESULTS["acquired"]
    assert b.acquire(timeout=30, retry_period=2)  # a stopped renewing; b's timer ran from its first look
    assert LOCK_RESULTS["acquired"] == acquired + 1
    assert clock.now - 1000.0 >= 10


# --- release ------------------------------------------------------------------------------------


def test_release_by_a_non_holder_is_refused_and_the_holder_releases(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    a, b = make_lock("release", "a"), make_lock("release", "b")
    assert a.try_acquire()
    before = raw_lease(k8s_api, k8s_namespace, a.name)
    assert not b.release()
    after = raw_lease(k8s_api, k8s_namespace, a.name)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]

    assert a.release()
    released = raw_lease(k8s_api, k8s_namespace, a.name)["spec"]
    assert released["holderIdentity"] == "" or "holderIdentity" not in released
    assert released["leaseDurationSeconds"] == 1
    assert released["leaseTransitions"] == 0
    assert not a.release()  # no longer ours
    assert b.try_acquire()  # free: taken at once, as a change of holder
    assert raw_lease(k8s_api, k8s_namespace, a.name)["spec"]["leaseTransitions"] == 1


def test_log_lines_and_counters_keep_the_greppable_phrases(
    make_lock: Callable[..., LeaseLock], caplog: pytest.LogCaptureFixture
) -> None:
    key = snapshot_lock_key("ns/acme", "fields", WINDOW)
    before = LOCK_RESULTS.copy()
    with caplog.at_level(logging.INFO, logger="jiradrift.k8s.lease"):
        a, b = make_lock(key, "a"), make_lock(key, "b")
        assert a.try_acquire() and not b.try_acquire() and a.release()
        token = make_lock("token_refresh:ns/acme", "a")
        assert token.try_acquire()
    messages = [r.getMessage() for r in caplog.records]
    assert f"{key} acquired" in messages
    assert f"{key} denied" in messages
    assert f"{key} released" in messages
    assert "snapshot_lock:ns/acme:fields:2026-01-02T03:00:00Z acquired" in messages
    assert "token_refresh:ns/acme acquired" in messages
    delta = LOCK_RESULTS - before
    assert delta == {"acquired": 2, "denied": 1, "released": 1}


# --- held() -------------------------------------------------------------------------------------


def test_held_renews_in_the_background_and_releases(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    lock = make_lock("held", "a", duration_seconds=3, labels=snapshot_lock_labels("ns/acme", "fields"))
    with lock.held(renew_every=0.2) as hold:
        first = raw_lease(k8s_api, k8s_namespace, lock.name)
        assert hold.lease == lock.name and hold.holder == "a" and hold.transitions == 0
        assert hold.acquired_at is not None
        assert hold.resource_version == first["metadata"]["resourceVersion"]
        renewed = wait_for(
            lambda: (
                (now := raw_lease(k8s_api, k8s_namespace, lock.name))["spec"]["renewTime"] > first["spec"]["renewTime"]
                and now
            ),
            "a renewal in the background",
            timeout=30,
            interval=0.05,
        )
        wait_for(
            lambda: hold.resource_version != first["metadata"]["resourceVersion"],
            f"the hold's resourceVersion to move on from {first['metadata']['resourceVersion']}",
            timeout=30,
            interval=0.05,
        )
        assert renewed["spec"]["holderIdentity"] == "a"
        assert not hold.lost.is_set()
        hold.ensure()
    lease = raw_lease(k8s_api, k8s_namespace, lock.name)
    assert lease["spec"]["holderIdentity"] in ("", None) or "holderIdentity" not in lease["spec"]
    assert lease["metadata"]["labels"]["jiradrift.io/tenant"] == "ns.acme"
    assert lease["metadata"]["labels"]["jiradrift.io/type"] == "fields"
    assert lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jira-drift-operator"


def test_held_sets_lost_when_someone_steals_the_lease(
    make_lock: Callable[..., LeaseLock], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    lock = make_lock("stolen", "a", duration_seconds=3)
    with lock.held(renew_every=0.2) as hold:
        stolen = raw_lease(k8s_api, k8s_namespace, lock.name)
        stolen["spec"]["holderIdentity"] = "thief"
        path = f"/apis/coordination.k8s.io/v1/namespaces/{k8s_namespace}/leases/{lock.name}"
        request_json(k8s_api, "PUT", path, body=stolen)
        wait_for(hold.lost.is_set, "the hold to notice the theft", timeout=30, interval=0.05)
        with pytest.raises(LeaseLost, match="taken over"):
            hold.ensure()
    # Leaving the block did not release the thief's lease.
    assert raw_lease(k8s_api, k8s_namespace, lock.name)["spec"]["holderIdentity"] == "thief"
    assert not lock.renew()


def test_held_refuses_when_someone_else_holds_it(make_lock: Callable[..., LeaseLock]) -> None:
    assert make_lock("busy", "a").try_acquire()
    with pytest.raises(LeaseNotAcquired, match="held by a"), make_lock("busy", "b").held():
        pytest.fail("the body must not run without the lease")
