"""The Lease algorithm without an API server: :func:`jiradrift.kube.lease.decide` and ``observe``, table-driven.

Times: ``now`` is the local monotonic clock; the record's MicroTimes are other machines' wall
clocks and must never change a decision (clock skew)."""

from __future__ import annotations

import pytest

from jiradrift.kube.lease import Action, Decision, LeaseRecord, Observation, Verdict, decide, observe

ME = "me_1"
STAMP = "2026-01-02T03:04:05.000000Z"
OTHER_FRESH = LeaseRecord("other_2", 60, 3, "2026-01-02T03:00:00.000000Z", "2026-01-02T03:04:00.000000Z")
OTHER_SKEWED_PAST = LeaseRecord("other_2", 60, 3, "2025-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z")
OTHER_SKEWED_FUTURE = LeaseRecord("other_2", 60, 3, "2027-01-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z")
OURS = LeaseRecord(ME, 60, 3, "2026-01-02T03:00:00.000000Z", "2026-01-02T03:04:00.000000Z")
RELEASED = LeaseRecord("", 1, 4, "2026-01-02T03:04:00.000000Z", "2026-01-02T03:04:00.000000Z")


def seen(record: LeaseRecord, observed_time: float = 1000.0) -> Observation:
    return Observation(record, "42", observed_time)


CASES = [
    # (case, action, observation, now, deadline, holder_alive, expected)
    (
        "free: create",
        Action.ACQUIRE,
        None,
        1000.0,
        None,
        True,
        Decision(Verdict.CREATE, LeaseRecord(ME, 30, 0, STAMP, STAMP)),
    ),
    ("free: nothing to renew", Action.RENEW, None, 1000.0, None, True, Decision(Verdict.LOST)),
    ("free: nothing to release", Action.RELEASE, None, 1000.0, None, True, Decision(Verdict.LOST)),
    (
        "other, fresh: denied",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1010.0,
        None,
        True,
        Decision(Verdict.DENIED, wait_seconds=50.0),
    ),
    (
        "other, fresh: wait before the deadline",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1010.0,
        1020.0,
        True,
        Decision(Verdict.WAIT, wait_seconds=50.0),
    ),
    (
        "other, renewing: denied past the deadline",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1030.0,
        1020.0,
        True,
        Decision(Verdict.DENIED, wait_seconds=30.0),
    ),
    (
        "other, silent: wait past the deadline",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1030.0,
        1020.0,
        False,
        Decision(Verdict.WAIT, wait_seconds=30.0),
    ),
    (
        "other, one tick before expiry",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1059.9,
        None,
        True,
        Decision(Verdict.DENIED, wait_seconds=pytest.approx(0.1)),
    ),
    (
        "other, expired by local observation: take over",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1060.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 4, STAMP, STAMP)),
    ),
    (
        "other, expired: take over even when waiting",
        Action.ACQUIRE,
        seen(OTHER_FRESH),
        1061.0,
        1020.0,
        False,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 4, STAMP, STAMP)),
    ),
    ("other: never ours to renew", Action.RENEW, seen(OTHER_FRESH), 1061.0, None, True, Decision(Verdict.LOST)),
    ("other: never ours to release", Action.RELEASE, seen(OTHER_FRESH), 1061.0, None, True, Decision(Verdict.LOST)),
    (
        "skew, renewTime a year ago: still fresh",
        Action.ACQUIRE,
        seen(OTHER_SKEWED_PAST),
        1001.0,
        None,
        True,
        Decision(Verdict.DENIED, wait_seconds=59.0),
    ),
    (
        "skew, renewTime a year ahead: expires all the same",
        Action.ACQUIRE,
        seen(OTHER_SKEWED_FUTURE),
        1060.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 4, STAMP, STAMP)),
    ),
    (
        "ours: acquire renews",
        Action.ACQUIRE,
        seen(OURS),
        1010.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 3, OURS.acquire_time, STAMP)),
    ),
    (
        "ours: renew keeps acquireTime and transitions",
        Action.RENEW,
        seen(OURS),
        1010.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 3, OURS.acquire_time, STAMP)),
    ),
    (
        "ours, locally stale: renew still writes (the resourceVersion decides)",
        Action.RENEW,
        seen(OURS),
        5000.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 3, OURS.acquire_time, STAMP)),
    ),
    (
        "ours: release empties the holder, duration 1",
        Action.RELEASE,
        seen(OURS),
        1010.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord("", 1, 3, STAMP, STAMP)),
    ),
    (
        "released: taken at once",
        Action.ACQUIRE,
        seen(RELEASED),
        1000.0,
        None,
        True,
        Decision(Verdict.UPDATE, LeaseRecord(ME, 30, 5, STAMP, STAMP)),
    ),
    ("released: not ours to renew", Action.RENEW, seen(RELEASED), 1000.0, None, True, Decision(Verdict.LOST)),
    ("released: not ours to release again", Action.RELEASE, seen(RELEASED), 1000.0, None, True, Decision(Verdict.LOST)),
]


@pytest.mark.parametrize(
    ("action", "observation", "now", "deadline", "alive", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(
    action: Action, observation: Observation | None, now: float, deadline: float | None, alive: bool, expected: Decision
) -> None:
    got = decide(action, ME, 30, observation, now=now, stamp=STAMP, deadline=deadline, holder_alive=alive)
    assert got.verdict is expected.verdict
    assert got.record == expected.record
    assert got.wait_seconds == expected.wait_seconds


def test_observe_moves_the_observed_time_only_when_the_record_changes() -> None:
    first = observe(None, OTHER_FRESH, "1", now=1000.0)
    assert first.observed_time == 1000.0
    same = observe(first, OTHER_FRESH, "1", now=1050.0)
    assert same.observed_time == 1000.0, "a dead holder's record keeps its first observation"
    renewed = LeaseRecord("other_2", 60, 3, OTHER_FRESH.acquire_time, "2026-01-02T03:05:00.000000Z")
    moved = observe(same, renewed, "2", now=1055.0)
    assert moved.observed_time == 1055.0 and moved.resource_version == "2"


def test_a_dead_holder_is_taken_over_one_duration_after_the_first_look_however_short_the_patience() -> None:
    """Drive decide() the way Lease.acquire does, with a 5 s patience on a 60 s Lease nobody renews."""
    start, now, observation = 1000.0, 1000.0, None
    deadline = start + 5
    verdicts = []
    while True:
        observation = observe(observation, OTHER_FRESH, "7", now)
        decision = decide(
            Action.ACQUIRE, ME, 30, observation, now=now, stamp=STAMP, deadline=deadline, holder_alive=False
        )
        verdicts.append(decision.verdict)
        if decision.verdict is not Verdict.WAIT:
            break
        now += min(2.0, decision.wait_seconds)
    assert decision.verdict is Verdict.UPDATE and decision.record is not None and decision.record.holder == ME
    assert now - start == 60.0
    assert set(verdicts[:-1]) == {Verdict.WAIT}
