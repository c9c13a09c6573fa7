"""The scheduler's decisions (handlers/schedule.py), by tables: when a tenant is reconciled, when its
window's Snapshots are created and its next capture is, whether a Snapshot runs now, and when it
runs again after an attempt. No API server and no clock: every ``now`` is given."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.api.windows import snapshot_name
from jiradrift.handlers import schedule
from jiradrift.handlers.schedule import (
    FINISHED_QUIET_SECONDS,
    MAX_ATTEMPTS,
    UNEXPECTED_RETRY_SECONDS,
    CaptureKind,
    FailureVerdict,
    Outcome,
    RetryLater,
    RunVerdict,
    Scheduled,
    TenantSchedule,
    WindowVerdict,
    backoff_seconds,
    capture_claim,
    decide_failure,
    decide_run,
    decide_tick,
    decide_window,
    quiet_seconds,
    retry_delay,
)

NOW = datetime(2026, 12, 1, 13, 5, 30, tzinfo=UTC)
SIX_HOURS = TenantSchedule(timedelta(hours=6), ("workflows", "fields"))
FIVE_MINUTES = TenantSchedule(timedelta(minutes=5), ("workflows",))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- 1. the tick ------------------------------------------------------------------------------------

TICKS: dict[str, tuple[bool, float | None, float, bool, bool]] = {
    # why: (forced, due_at, now) -> (due, check_site)
    "a new spec generation: now, with a site check": (True, 2000.0, 1000.0, True, True),
    "first seen or gained from another replica: now, with a site check": (False, None, 1000.0, True, True),
    "its interval ended: now, without a site check": (False, 1000.0, 1000.0, True, False),
    "its interval ended a while ago": (False, 900.0, 1000.0, True, False),
    "mid-interval: not yet": (False, 1000.5, 1000.0, False, False),
    "forced beats a far interval": (True, 9999.0, 0.0, True, True),
}


@pytest.mark.parametrize("why", sorted(TICKS))
def test_when_an_owned_tenant_is_reconciled(why: str) -> None:
    forced, due_at, now, due, check_site = TICKS[why]
    tick = decide_tick(forced=forced, due_at=due_at, now=now)
    assert (tick.due, tick.check_site) == (due, check_site), tick.why
    assert tick.why


# --- 2. the window and the next capture ------------------------------------------------------------

WINDOWS: dict[str, tuple[TenantSchedule, bool, Scheduled | None, datetime, WindowVerdict, str, str]] = {
    # why: (schedule, ready, scheduled, now) -> (verdict, window, next capture)
    "6h: the 12:00 window opened and nothing was created yet": (
        SIX_HOURS, True, None, NOW, WindowVerdict.CREATE, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z"
    ),
    "6h: the 12:00 window's Snapshots exist: next capture at 18:00": (
        SIX_HOURS, True, ("2026-12-01T12:00:00Z", ("workflows", "fields")), NOW,
        WindowVerdict.SCHEDULED, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
    "6h: the previous window was created, the 12:00 one not": (
        SIX_HOURS, True, ("2026-12-01T06:00:00Z", ("workflows", "fields")), NOW,
        WindowVerdict.CREATE, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
    "6h: a type was added since the window was created": (
        SIX_HOURS, True, ("2026-12-01T12:00:00Z", ("workflows",)), NOW,
        WindowVerdict.CREATE, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
    "6h: at the window's first second": (
        SIX_HOURS, True, None, at("2026-12-01T18:00:00Z"),
        WindowVerdict.CREATE, "2026-12-01T18:00:00Z", "2026-12-02T00:00:00Z",
    ),
    "6h: a second before the next window: still the old one": (
        SIX_HOURS, True, ("2026-12-01T12:00:00Z", ("workflows", "fields")), at("2026-12-01T17:59:59Z"),
        WindowVerdict.SCHEDULED, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
    "5m: windows every five minutes from the epoch": (
        FIVE_MINUTES, True, None, NOW, WindowVerdict.CREATE, "2026-12-01T13:05:00Z", "2026-12-01T13:10:00Z"
    ),
    "an offset clock is read in UTC": (
        FIVE_MINUTES, True, None, NOW.astimezone(timezone(timedelta(hours=2))),
        WindowVerdict.CREATE, "2026-12-01T13:05:00Z", "2026-12-01T13:10:00Z",
    ),
    "not Ready (credentials, site, scopes): nothing created; the next window still shown": (
        SIX_HOURS, False, None, NOW, WindowVerdict.NOT_READY, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z"
    ),
    "paused: nothing created, even when Ready": (
        TenantSchedule(timedelta(hours=6), ("workflows",), paused=True), True, None, NOW,
        WindowVerdict.PAUSED, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
    "paused and not Ready: paused says why": (
        TenantSchedule(timedelta(hours=6), ("workflows",), paused=True), False, None, NOW,
        WindowVerdict.PAUSED, "2026-12-01T12:00:00Z", "2026-12-01T18:00:00Z",
    ),
}  # fmt: skip


@pytest.mark.parametrize("why", sorted(WINDOWS))
def test_when_a_tenant_s_next_capture_happens(why: str) -> None:
    schedule, ready, scheduled, now, verdict, window, next_at = WINDOWS[why]
    decision = decide_window(schedule, ready=ready, scheduled=scheduled, now=now)
    assert decision.verdict is verdict, decision.why
    assert (decision.window, decision.next_at) == (at(window), at(next_at))
    assert decision.kind is CaptureKind.FULL
    assert decision.types == schedule.types
    assert decision.why


def test_the_window_decision_says_what_to_remember_once_created() -> None:
    decision = decide_window(SIX_HOURS, ready=True, scheduled=None, now=NOW)
    assert decision.verdict is WindowVerdict.CREATE
    again = decide_window(SIX_HOURS, ready=True, scheduled=decision.scheduled, now=NOW + timedelta(hours=1))
    assert again.verdict is WindowVerdict.SCHEDULED, "created once per window per process"
    assert "2026-12-01T12:00:00Z" in decision.why and "18:00" in again.why


def test_a_tenant_s_schedule_comes_from_its_spec() -> None:
    spec = JiraTenantSpec.model_validate(
        {
            "site": "https://acme.atlassian.net",
            "auth": {"apiToken": {"secretRef": {"name": "creds"}}},
            "schedule": {"interval": "1h30m"},
            "snapshotTypes": ["workflows", "fields"],
            "paused": True,
        }
    )
    assert TenantSchedule.from_spec(spec) == TenantSchedule(
        timedelta(minutes=90), ("workflows", "fields"), True, incremental=timedelta(minutes=2)
    ), "incremental windows are on by default, every 2m (issue 26)"
    off = spec.model_copy(update={"schedule": spec.schedule.model_validate({"incremental": {"enabled": False}})})
    assert TenantSchedule.from_spec(off) == TenantSchedule(
        timedelta(hours=24), ("workflows", "fields"), True, incremental=None
    ), "explicitly off; the full capture interval defaults to daily"


# --- 3. whether a Snapshot runs now ---------------------------------------------------------------

RUNS: dict[str, tuple[bool, bool, float | None, float, str | None, RunVerdict]] = {
    # why: (owned, running, quiet_until, now, phase) -> verdict
    "unfinished, owned, idle, never failed": (True, False, None, 100.0, "Pending", RunVerdict.RUN),
    "a new Snapshot without a phase yet": (True, False, None, 100.0, "", RunVerdict.RUN),
    "found Capturing (a dead holder's): taken up": (True, False, None, 100.0, "Capturing", RunVerdict.RUN),
    "its backoff ended": (True, False, 100.0, 100.0, "Pending", RunVerdict.RUN),
    "Completed: nothing to do": (True, False, None, 100.0, "Completed", RunVerdict.FINAL),
    "Incomplete: nothing to do": (True, False, None, 100.0, "Incomplete", RunVerdict.FINAL),
    "Failed: nothing to do, even when another replica's": (False, False, None, 100.0, "Failed", RunVerdict.FINAL),
    "its tenant is another replica's": (False, False, None, 100.0, "Pending", RunVerdict.NOT_OWNED),
    "this process runs it already": (True, True, None, 100.0, "Pending", RunVerdict.RUNNING),
    "backing off after failed attempt": (True, False, 160.0, 100.0, "Pending", RunVerdict.BACKING_OFF),
    "phase not judged (the capture reads it)": (True, False, None, 100.0, None, RunVerdict.RUN),
    "phase not judged, still backing off": (True, False, 101.0, 100.0, None, RunVerdict.BACKING_OFF),
}


@pytest.mark.parametrize("why", sorted(RUNS))
def test_whether_a_snapshot_runs_now(why: str) -> None:
    owned, running, quiet_until, now, phase, verdict = RUNS[why]
    decision = decide_run(owned=owned, running=running, quiet_until=quiet_until, now=now, phase=phase)
    assert decision.verdict is verdict, decision.why
    assert decision.at == (quiet_until if verdict is RunVerdict.BACKING_OFF else None)
    assert decision.why


def test_a_waiting_capture_s_claim_says_why_it_goes_when_it_goes() -> None:
    window = at("2026-12-01T13:05:00Z")
    tenant = {"spec": {"schedule": {"interval": "5m"}}}
    meta = {"namespace": "team-a", "creationTimestamp": "2026-12-01T13:05:01Z"}
    spec = {"tenantRef": {"name": "acme"}, "type": "workflows", "windowStart": "2026-12-01T13:05:00Z"}
    scheduled = {
        "metadata": meta | {"name": snapshot_name("acme", "workflows", window)},
        "spec": spec | {"reason": "Scheduled"},
    }
    retried = scheduled | {"status": {"attempts": 1}}
    manual = {"metadata": meta | {"name": "by-hand"}, "spec": spec | {"reason": "Manual"}}
    claims = [capture_claim(body, tenant, NOW) for body in (manual, scheduled, retried)]
    assert sorted(claims, key=lambda c: c.band) == [claims[2], claims[1], claims[0]]
    assert [c.why.split(" (")[0] for c in claims] == ["manual", *["scheduled window 2026-12-01T13:05:00Z"] * 2]
    assert "tried before" in claims[2].why and "fresh" in claims[1].why


# --- 4. when it runs again ------------------------------------------------------------------------

FAILURES: dict[str, tuple[str, bool, int, FailureVerdict, float]] = {
    # why: (reason, terminal, attempts) -> (verdict, delay)
    "first attempt failed: 30 s": ("Unreachable", False, 1, FailureVerdict.RETRY, 30.0),
    "second: doubled": ("Unreachable", False, 2, FailureVerdict.RETRY, 60.0),
    "fourth: 240 s": ("RateLimited", False, 4, FailureVerdict.RETRY, 240.0),
    "the last attempt failed: Failed": ("Unreachable", False, MAX_ATTEMPTS, FailureVerdict.GIVE_UP, 0.0),
    "past the last (a count from an older operator)": (
        "Unreachable", False, MAX_ATTEMPTS + 3, FailureVerdict.GIVE_UP, 0.0
    ),
    "terminal at the first attempt: retrying cannot help": (
        "CredentialsInvalid", True, 1, FailureVerdict.GIVE_UP, 0.0
    ),
}  # fmt: skip


@pytest.mark.parametrize("why", sorted(FAILURES))
def test_when_a_failed_step_runs_again(why: str) -> None:
    reason, terminal, attempts, verdict, delay = FAILURES[why]
    decision = decide_failure(reason=reason, terminal=terminal, attempts=attempts)
    assert (decision.verdict, decision.delay) == (verdict, delay), decision.why
    assert reason in decision.why or str(attempts) in decision.why


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 15.0), (1, 30.0), (2, 60.0), (3, 120.0), (4, 240.0), (5, 300.0), (12, 300.0)],
    ids=["never", "once", "twice", "thrice", "four", "capped at five minutes", "stays capped"],
)
def test_backoff_doubles_up_to_five_minutes(attempts: int, seconds: float) -> None:
    assert backoff_seconds(attempts) == seconds


QUIET: dict[str, tuple[Outcome, float | None, float]] = {
    # why: (outcome, the step's delay) -> seconds its events are ignored
    "finished: events queued during the capture are ignored": (Outcome.FINISHED, None, FINISHED_QUIET_SECONDS),
    "a step asked for 60 s": (Outcome.RETRY, 60.0, 60.0),
    "a Lease held elsewhere expires in 13.5 s": (Outcome.RETRY, 13.5, 13.5),
    "a step asked for no delay: never a hot loop": (Outcome.RETRY, 0.0, UNEXPECTED_RETRY_SECONDS),
    "an unexpected error": (Outcome.CRASHED, None, UNEXPECTED_RETRY_SECONDS),
}


@pytest.mark.parametrize("why", sorted(QUIET))
def test_how_long_a_snapshot_is_left_alone_after_an_attempt(why: str) -> None:
    outcome, delay, seconds = QUIET[why]
    assert quiet_seconds(outcome, delay) == seconds


@pytest.mark.parametrize(
    ("quiet_until", "now", "delay"),
    [(160.0, 100.0, 60.0), (100.0, 160.0, 0.0), (None, 100.0, UNEXPECTED_RETRY_SECONDS)],
    ids=["when its backoff ends", "backoff over already: at once", "failed before a backoff was recorded"],
)
def test_when_a_retry_timer_fires(quiet_until: float | None, now: float, delay: float) -> None:
    assert retry_delay(quiet_until, now) == delay


def test_retry_later_carries_its_delay_and_is_no_kopf_error() -> None:
    signal = RetryLater("snapshot_lock:team-a/acme:workflows:x is held by another operator", delay=13.5)
    assert signal.delay == 13.5 and "held by another operator" in str(signal)
    assert type(signal).__mro__[1] is Exception


def test_the_scheduler_core_does_no_io_and_reads_no_clock() -> None:
    """Its imports are the proof: no kopf, no HTTP or Kubernetes client, no asyncio, no clock."""
    source = Path(schedule.__file__).read_text()
    imported = {
        alias.name if isinstance(node, ast.Import) else str(node.module)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    forbidden = {"kopf", "aiohttp", "httpx", "asyncio", "time", "jiradrift.kube.client", "jiradrift.handlers.context"}
    assert not imported & forbidden, imported & forbidden
    assert "datetime.now" not in source and "monotonic()" not in source


# --- incremental windows (issue 26) ----------------------------------------------------------------

DAILY = TenantSchedule(timedelta(hours=24), ("workflows", "fields"), incremental=timedelta(minutes=5))
INC_WINDOW = datetime(2026, 12, 1, 13, 5, tzinfo=UTC)  # floor(NOW, 5m)
FULL_DONE = decide_window(DAILY, ready=True, scheduled=("2026-12-01T00:00:00Z", DAILY.types), now=NOW)
FULL_DUE = decide_window(DAILY, ready=True, scheduled=None, now=NOW)

# why -> (schedule, ready, full window, busy, last checked window, due)
INCREMENTALS: dict[str, tuple[TenantSchedule, bool, schedule.WindowDecision, bool, datetime | None, bool]] = {
    "first window of this process": (DAILY, True, FULL_DONE, False, None, True),
    "previous window checked, this one not": (DAILY, True, FULL_DONE, False, INC_WINDOW - timedelta(minutes=5), True),
    "this window checked already": (DAILY, True, FULL_DONE, False, INC_WINDOW, False),
    "disabled": (SIX_HOURS, True, FULL_DONE, False, None, False),
    "paused": (
        TenantSchedule(DAILY.interval, DAILY.types, paused=True, incremental=DAILY.incremental),
        True,
        FULL_DONE,
        False,
        None,
        False,
    ),
    "not ready": (DAILY, False, FULL_DONE, False, None, False),
    "the full window is created in this tick": (DAILY, True, FULL_DUE, False, None, False),
    "unfinished Snapshots (their bases move)": (DAILY, True, FULL_DONE, True, None, False),
}


@pytest.mark.parametrize("why", sorted(INCREMENTALS))
def test_when_an_incremental_window_runs(why: str) -> None:
    sched, ready, full, busy, checked, due = INCREMENTALS[why]
    decision = schedule.decide_incremental(sched, ready=ready, full=full, busy=busy, checked=checked, now=NOW)
    assert decision.due is due, decision.why
    assert decision.why
    if sched.incremental is not None:
        assert decision.window == INC_WINDOW


def test_incremental_windows_are_on_and_every_two_minutes_by_default() -> None:
    spec = JiraTenantSpec.model_validate(
        {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "s"}}}}
    )
    assert TenantSchedule.from_spec(spec).incremental == timedelta(minutes=2)
    assert TenantSchedule.from_spec(spec).interval == timedelta(hours=24), "full captures daily"
    off = spec.model_copy(deep=True)
    off.schedule.incremental.enabled = False
    assert TenantSchedule.from_spec(off).incremental is None
    assert CaptureKind.INCREMENTAL.value == "incremental"
