"""The Lease lock (the async driver of :mod:`jiradrift.kube.lease`) against a real kube-apiserver:
client-go semantics, races, expiry, release. The state machine alone: tests/kube/test_lease_machine.py."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jiradrift.api.locks import (
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
from jiradrift.kube.client import Kube, KubeError, resource_path

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


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30) -> Any:
    """Await ``check`` until it returns something truthy (the event loop keeps running meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def raw_lease(kube: Kube, k8s_namespace: str) -> Callable[[str], Awaitable[dict[str, Any]]]:
    async def read(name: str) -> dict[str, Any]:
        lease: dict[str, Any] = await kube.get(
            resource_path("coordination.k8s.io", "v1", "leases", k8s_namespace, name)
        )
        return lease

    return read


RawLease = Callable[[str], Awaitable[dict[str, Any]]]


async def race(locks: list[LeaseLock]) -> dict[str, bool]:
    """Let every lock try_acquire at the same moment (all requests in flight together)."""
    results = await asyncio.gather(*(lock.try_acquire() for lock in locks))
    return {lock.holder: won for lock, won in zip(locks, results, strict=True)}


@pytest.fixture
def make_lock(kube: Kube, k8s_namespace: str) -> Callable[..., LeaseLock]:
    def make(key: str, holder: str, **kwargs: Any) -> LeaseLock:
        kwargs.setdefault("duration_seconds", 10)
        return LeaseLock(kube, k8s_namespace, key, holder, **kwargs)

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


async def test_lease_names_are_valid_distinct_and_accepted_by_the_server(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    names = [lease_name(key) for key in AWKWARD_KEYS]
    assert len(set(names)) == len(AWKWARD_KEYS)
    for name in names:
        assert DNS_LABEL.match(name) and len(name) <= 63, name
    assert names[0].startswith("snapshot-lock-team-a-acme-workflows-2026-01-02t03-")
    assert lease_name("🔒").startswith("lock-")
    for key in AWKWARD_KEYS:
        lock = make_lock(key, "a")
        assert await lock.try_acquire(), key
        lease = await raw_lease(lock.name)
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


async def test_two_holders_racing_for_a_new_lease_only_one_wins_every_time(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    trials = 50
    for trial in range(trials):
        key = snapshot_lock_key("race/t", "workflows", WINDOW + timedelta(minutes=trial))
        locks = [make_lock(key, f"holder-{i}") for i in range(2)]
        results = await race(locks)
        winners = [h for h, won in results.items() if won]
        assert len(results) == 2 and len(winners) == 1, (trial, results)
        spec = (await raw_lease(locks[0].name))["spec"]
        assert spec["holderIdentity"] == winners[0]
        assert spec["leaseTransitions"] == 0


async def test_racing_takeover_of_an_expired_lease_has_one_winner(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    for trial in range(15):
        key = f"race-takeover:{trial}"
        assert await make_lock(key, "old").try_acquire()
        clocks = [FakeClock(), FakeClock()]
        locks = [make_lock(key, f"new-{i}", clock=clocks[i]) for i in range(2)]
        for lock in locks:
            assert not await lock.try_acquire()  # held: each candidate starts its local timer
        for clock in clocks:
            clock.advance(10.5)
        results = await race(locks)
        winners = [h for h, won in results.items() if won]
        assert len(winners) == 1, (trial, results)
        spec = (await raw_lease(locks[0].name))["spec"]
        assert spec["holderIdentity"] == winners[0]
        assert spec["leaseTransitions"] == 1


async def test_takeover_only_after_the_duration_without_an_observed_change(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    key = snapshot_lock_key("ns/acme", "workflows", WINDOW)
    a = make_lock(key, "a")
    clock = FakeClock()
    b = make_lock(key, "b", clock=clock)
    assert b.expires_in() is None  # never looked
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert b.expires_in() == 10  # the whole duration from b's first look, whatever renewTime says
    clock.advance(9.9)
    assert not await b.try_acquire()  # not yet 10 s unchanged
    assert b.expires_in() == pytest.approx(0.1)
    assert await a.renew()  # a change: b's timer restarts when it sees it
    clock.advance(0.2)
    assert not await b.try_acquire()
    assert b.expires_in() == 10
    clock.advance(9.9)
    assert not await b.try_acquire()
    before = (await raw_lease(a.name))["spec"]
    clock.advance(0.2)
    assert await b.try_acquire()
    after = (await raw_lease(a.name))["spec"]
    assert after["holderIdentity"] == "b"
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1 == 1
    assert after["acquireTime"] != before["acquireTime"]
    assert b.record is not None and b.record.holder == "b" and b.record.transitions == 1

    # The old holder stopped renewing: its renewal now fails, and it cannot release b's lease.
    assert not await a.renew()
    assert not await a.release()
    assert (await raw_lease(a.name))["spec"] == after


async def test_check_reads_without_writing_counts_a_refusal_and_starts_the_expiry_clock(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    """A survivor looks at a dead holder's Lease as soon as it gains the work, and takes it over one
    duration after that look, however long it then waits before trying. The look is a refused lock
    attempt, counted as one."""
    key = snapshot_lock_key("ns/acme", "workflows", WINDOW)
    clock = FakeClock()
    b = make_lock(key, "b", clock=clock)
    assert await b.check()  # no Lease yet: free, and nothing is created
    assert b.expires_in() is None
    a = make_lock(key, "a")
    assert await a.try_acquire()
    before = await raw_lease(a.name)
    denied = LOCK_RESULTS["denied"]
    assert not await b.check()
    assert LOCK_RESULTS["denied"] == denied + 1
    assert b.expires_in() == 10
    clock.advance(6)
    assert not await b.check()
    assert b.expires_in() == pytest.approx(4)  # the record did not change: the clock runs on
    assert (await raw_lease(a.name))["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    clock.advance(4.1)
    assert await b.check()  # unchanged for 10 s since b's first look: it may be taken over
    assert (await raw_lease(a.name))["spec"]["holderIdentity"] == "a"  # a check writes nothing
    assert await b.try_acquire()
    assert await b.check()  # ours


async def test_other_holders_clocks_do_not_matter(make_lock: Callable[..., LeaseLock]) -> None:
    """A holder whose wall clock is a year behind writes ancient renewTimes; still not expired."""
    key = "skew"
    a = make_lock(key, "a", wall_clock=lambda: datetime.now(UTC) - timedelta(days=365))
    clock = FakeClock()
    b = make_lock(key, "b", clock=clock)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    clock.advance(5)
    assert not await b.try_acquire()
    clock.advance(5.1)
    assert await b.try_acquire()


async def test_renewal_keeps_acquire_time_and_transitions(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    times = iter(datetime(2026, 1, 2, 3, 4, s, 250000, tzinfo=UTC) for s in range(10))
    a = make_lock("renew", "a", wall_clock=lambda: next(times))
    assert await a.try_acquire()
    first = await raw_lease(a.name)
    assert await a.renew()
    assert await a.try_acquire()  # renewing through try_acquire (fast path) too
    spec = (await raw_lease(a.name))["spec"]
    assert spec["acquireTime"] == first["spec"]["acquireTime"] == "2026-01-02T03:04:00.250000Z"
    assert spec["renewTime"] == "2026-01-02T03:04:02.250000Z"
    assert spec["leaseTransitions"] == 0
    assert spec["leaseDurationSeconds"] == 10
    assert a.resource_version != first["metadata"]["resourceVersion"]


async def test_microtime_at_whole_seconds_is_accepted(make_lock: Callable[..., LeaseLock], raw_lease: RawLease) -> None:
    frozen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # microsecond == 0: isoformat() drops it
    assert format_microtime(frozen) == "2026-01-02T03:04:05.000000Z"
    lock = make_lock("whole-seconds", "a", wall_clock=lambda: frozen)
    assert await lock.try_acquire()
    assert await lock.renew()
    spec = (await raw_lease(lock.name))["spec"]
    assert spec["renewTime"] == spec["acquireTime"] == "2026-01-02T03:04:05.000000Z"
    with pytest.raises(ValueError, match="no timezone"):
        format_microtime(datetime(2026, 1, 2))


async def test_acquire_waits_until_the_lease_expires_or_times_out(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    """A holder seen renewing makes acquire() give up after its timeout; a holder that does not
    renew while we watch is waited out and taken over within one lease duration of our first look,
    however short the timeout (the token job's bug: it gave up after 30 s on a 60 s Lease)."""
    clock = FakeClock()
    sleeps: list[float] = []
    key = "acquire-loop"
    a = make_lock(key, "a")

    async def sleep_while_a_renews(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)
        assert await a.renew()

    assert await a.try_acquire()
    b = make_lock(key, "b", clock=clock, sleep=sleep_while_a_renews)
    denied = LOCK_RESULTS["denied"]
    assert not await b.acquire(timeout=5, retry_period=2)
    assert LOCK_RESULTS["denied"] == denied + 1  # one acquire() call, one result
    assert all(2 <= s <= 2.4 for s in sleeps) and 5 <= sum(sleeps) <= 7.3

    async def sleep(seconds: float) -> None:  # a has died: nobody renews any more
        sleeps.append(seconds)
        clock.advance(seconds)

    c = make_lock(key, "c", clock=clock, sleep=sleep)
    start = clock.now
    acquired = LOCK_RESULTS["acquired"]
    assert await c.acquire(timeout=5, retry_period=2)  # past its 5 s timeout, but a never renewed
    assert LOCK_RESULTS["acquired"] == acquired + 1
    assert 10 <= clock.now - start <= 10.1, "taken over as soon as it had gone 10 s unchanged, no later"
    assert (await raw_lease(c.name))["spec"]["holderIdentity"] == "c"


# --- release ------------------------------------------------------------------------------------


async def test_release_by_a_non_holder_is_refused_and_the_holder_releases(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    a, b = make_lock("release", "a"), make_lock("release", "b")
    assert await a.try_acquire()
    before = await raw_lease(a.name)
    assert not await b.release()
    after = await raw_lease(a.name)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]

    assert await a.release()
    released = (await raw_lease(a.name))["spec"]
    assert released["holderIdentity"] == "" or "holderIdentity" not in released
    assert released["leaseDurationSeconds"] == 1
    assert released["leaseTransitions"] == 0
    assert not await a.release()  # no longer ours
    assert await b.try_acquire()  # free: taken at once, as a change of holder
    assert (await raw_lease(a.name))["spec"]["leaseTransitions"] == 1


async def test_release_by_delete_removes_only_our_lease_as_we_wrote_it(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease, kube: Kube
) -> None:
    """``release(delete=True)`` (snapshot windows, token refreshes): the Lease is gone, so the next
    holder creates it in one call; a Lease someone else holds, or wrote since, is never deleted."""
    a, b = make_lock("release-delete", "a"), make_lock("release-delete", "b")
    assert await a.try_acquire()
    assert not await b.release(delete=True)  # not b's
    assert (await raw_lease(a.name))["spec"]["holderIdentity"] == "a"

    # someone writes it behind a's back (a takeover a has not seen): a's delete precondition fails,
    # a re-reads, sees it is no longer a's, and leaves it alone
    stolen = await raw_lease(a.name)
    stolen["spec"]["holderIdentity"] = "thief"
    await kube.replace(resource_path("coordination.k8s.io", "v1", "leases", a.namespace, a.name), stolen)
    assert not await a.release(delete=True)
    assert (await raw_lease(a.name))["spec"]["holderIdentity"] == "thief"

    c, d = make_lock("release-delete-2", "c"), make_lock("release-delete-2", "d")
    assert await c.try_acquire()
    assert await c.release(delete=True)
    with pytest.raises(KubeError) as gone:
        await raw_lease(c.name)
    assert gone.value.not_found
    assert not await c.release(delete=True)  # no longer ours
    assert await d.try_acquire(create_first=True)  # one create, no takeover
    assert (await raw_lease(d.name))["spec"]["leaseTransitions"] == 0


async def test_log_lines_and_counters_keep_the_greppable_phrases(
    make_lock: Callable[..., LeaseLock], caplog: pytest.LogCaptureFixture
) -> None:
    key = snapshot_lock_key("ns/acme", "fields", WINDOW)
    before = LOCK_RESULTS.copy()
    with caplog.at_level(logging.INFO, logger="jiradrift.api.locks"):
        a, b = make_lock(key, "a"), make_lock(key, "b")
        assert await a.try_acquire() and not await b.try_acquire() and await a.release()
        token = make_lock("token_refresh:ns/acme", "a")
        assert await token.try_acquire()
    messages = [r.getMessage() for r in caplog.records]
    assert f"{key} acquired" in messages
    assert f"{key} denied" in messages
    assert f"{key} released" in messages
    assert "snapshot_lock:ns/acme:fields:2026-01-02T03:00:00Z acquired" in messages
    assert "token_refresh:ns/acme acquired" in messages
    delta = LOCK_RESULTS - before
    assert delta == {"acquired": 2, "denied": 1, "released": 1}


# --- held() -------------------------------------------------------------------------------------


async def test_held_renews_in_the_background_and_releases(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease
) -> None:
    lock = make_lock("held", "a", duration_seconds=3, labels=snapshot_lock_labels("ns/acme", "fields"))
    async with lock.held(renew_every=0.2) as hold:
        first = await raw_lease(lock.name)
        assert hold.lease == lock.name and hold.holder == "a" and hold.transitions == 0
        assert hold.acquired_at is not None
        assert hold.resource_version == first["metadata"]["resourceVersion"]

        async def renewed_lease() -> dict[str, Any] | None:
            now = await raw_lease(lock.name)
            return now if now["spec"]["renewTime"] > first["spec"]["renewTime"] else None

        async def moved_on() -> bool:
            return bool(hold.resource_version != first["metadata"]["resourceVersion"])

        renewed = await until(renewed_lease, "a renewal in the background")
        await until(moved_on, f"the hold's resourceVersion to move on from {first['metadata']['resourceVersion']}")
        assert renewed["spec"]["holderIdentity"] == "a"
        assert not hold.lost.is_set()
        hold.ensure()
    lease = await raw_lease(lock.name)
    assert lease["spec"]["holderIdentity"] in ("", None) or "holderIdentity" not in lease["spec"]
    assert lease["metadata"]["labels"]["jiradrift.io/tenant"] == "ns.acme"
    assert lease["metadata"]["labels"]["jiradrift.io/type"] == "fields"
    assert lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jira-drift-operator"


async def test_held_sets_lost_when_someone_steals_the_lease(
    make_lock: Callable[..., LeaseLock], raw_lease: RawLease, kube: Kube, k8s_namespace: str
) -> None:
    lock = make_lock("stolen", "a", duration_seconds=3)
    async with lock.held(renew_every=0.2) as hold:
        stolen = await raw_lease(lock.name)
        stolen["spec"]["holderIdentity"] = "thief"
        await kube.replace(resource_path("coordination.k8s.io", "v1", "leases", k8s_namespace, lock.name), stolen)
        await asyncio.wait_for(hold.lost.wait(), 30)
        with pytest.raises(LeaseLost, match="taken over"):
            hold.ensure()
    # Leaving the block did not release the thief's lease.
    assert (await raw_lease(lock.name))["spec"]["holderIdentity"] == "thief"
    assert not await lock.renew()


async def test_held_refuses_when_someone_else_holds_it(make_lock: Callable[..., LeaseLock]) -> None:
    assert await make_lock("busy", "a").try_acquire()
    with pytest.raises(LeaseNotAcquired, match="held by a"):
        async with make_lock("busy", "b").held():
            pytest.fail("the body must not run without the lease")
