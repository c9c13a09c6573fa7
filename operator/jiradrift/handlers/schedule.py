"""When does a tenant's next capture happen, and why: every scheduling decision, as data.

    tick = decide_tick(forced=False, due_at=1030.0, now=1031.0)         # reconcile the tenant now?
    window = decide_window(TenantSchedule.from_spec(spec), ready=True, scheduled=state.scheduled, now=now)
    # window.verdict CREATE (its Snapshots, of window.kind FULL) / SCHEDULED / PAUSED / NOT_READY; window.why
    run = decide_run(owned=True, running=False, quiet_until=None, now=monotonic, phase="Pending")
    # run.verdict RUN / FINAL / NOT_OWNED / RUNNING / BACKING_OFF (until run.at); run.why
    claim = capture_claim(snapshot, tenant, now)                          # its place in the slot queue
    failure = decide_failure(reason="Unreachable", terminal=False, attempts=2)  # RETRY in 60 s / GIVE_UP

The life of a capture, and the function here that decides each step:

1. **The tenant is reconciled** (:func:`decide_tick`): every ``tenant_timer_seconds`` while this
   replica owns it, at once when its spec generation changes or the replica gains it.
2. **Its window is due** (:func:`decide_window`): the window is ``floor(now, interval)`` (UTC); when
   the tenant is Ready and not paused and this process has not created that window's Snapshots
   for its types yet, it creates them (deterministic names: a restart or a second replica meets
   409). The next capture is at the next window's start, ``window + interval``, which the status
   shows as ``nextSnapshotTime``. Ready comes from the site and credentials check, due when the
   spec or Secret changes and every ``recheck_seconds`` (``error_recheck_seconds`` while failing;
   ``handlers/state.TenantState.check_due``).
3. **A Snapshot runs** (:func:`decide_run`) when it is unfinished, its tenant is this replica's,
   this process is not running it already and it is not backing off. A watch event, the tenant's
   tick, the replica gaining the tenant and a retry timer all ask this one question.
4. **It waits for a capture slot** (:func:`capture_claim`): at most ``max_concurrent_captures`` at
   once; the operator's own scheduled windows first, the oldest first, tries before fresh ones,
   manual Snapshots after (``handlers/slots.py`` serves the queue).
5. **An attempt ends**: completed, or given up (:func:`decide_failure`: a terminal reason or
   :data:`MAX_ATTEMPTS`), it is left alone for :data:`FINISHED_QUIET_SECONDS`; a failed step is
   retried after :func:`backoff_seconds`; a window Lease held elsewhere when it expires
   (:func:`denied_retry_seconds`); a Lease lost mid-capture after :data:`LOST_RETRY_SECONDS`;
   anything unexpected after :data:`UNEXPECTED_RETRY_SECONDS` (:func:`quiet_seconds`). A step
   says "run me again later" by raising :class:`RetryLater`; a timer runs the Snapshot again
   when its backoff ends (:func:`retry_delay`).

Pure: no kopf, no HTTP, no clock. The callers pass ``now`` (UTC for windows; the local monotonic
clock for backoff) and do the I/O: ``handlers/ticker.py`` (the ticks), ``handlers/tenant.py``
(creating a window's Snapshots), ``handlers/runtime/runs.py`` (running Snapshots, retry timers),
``handlers/snapshot.py`` (the steps of one attempt). Every capture is a full capture of a
type today (:class:`CaptureKind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from jiradrift.api.resources import JiraTenantSpec, Schedule, SnapshotPhase, SnapshotReason
from jiradrift.api.windows import parse_duration, snapshot_name, window_iso, window_start
from jiradrift.net.backoff import NO_JITTER, backoff_delay

FINAL = (SnapshotPhase.COMPLETED, SnapshotPhase.INCOMPLETE, SnapshotPhase.FAILED)
MAX_ATTEMPTS = 5  # attempts at one Snapshot before it is Failed
FINISHED_QUIET_SECONDS = 300.0  # a finished Snapshot's events (queued during its capture) are ignored this long
UNEXPECTED_RETRY_SECONDS = 60.0  # after an unexpected error (what kopf itself waits after one)
LOST_RETRY_SECONDS = 10.0  # after losing the window's Lease mid-capture: the new holder usually finishes it
LOOKBACK_WINDOWS = 2  # a scheduled window keeps its priority while it is current and for two more
CLOCK_SKEW = timedelta(seconds=120)  # the API server's clock (creationTimestamp) against ours
DEFAULT_INTERVAL = Schedule().interval


class CaptureKind(StrEnum):
    """What a due capture reads: every object of each type (a full window's Snapshots), or the audit
    log and change probes, re-reading only what changed (an incremental window, run in the tenant's
    tick: see :func:`decide_incremental` and ``handlers/incremental.py``)."""

    FULL = "full"
    INCREMENTAL = "incremental"


class RetryLater(Exception):
    """An attempt at a Snapshot ended early and runs again in ``delay`` seconds (the message says
    why, redacted). Raised by the steps (handlers/snapshot.py) for the runner
    (handlers/runtime/runs.py); kopf never sees it."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


# --- 1. the tick: is the tenant reconciled now? ----------------------------------------------------


@dataclass(frozen=True)
class Tick:
    due: bool
    check_site: bool  # check the site and credentials afresh (new to this replica, or a new spec)
    why: str


def decide_tick(*, forced: bool, due_at: float | None, now: float) -> Tick:
    """Whether an owned, idle tenant is reconciled now. ``forced``: a spec generation not reconciled
    yet; ``due_at``: when its interval ends (None: this replica has not reconciled it since gaining
    it); ``now``: the ticker's monotonic clock."""
    if forced:
        return Tick(True, True, "its spec generation is new to this replica: reconciled and checked now")
    if due_at is None:
        return Tick(True, True, "newly owned (first seen, or gained from another replica): reconciled and checked now")
    if due_at <= now:
        return Tick(True, False, "its tick interval ended")
    return Tick(False, False, f"next tick in {due_at - now:.1f}s")


# --- 2. the window: are its Snapshots created now? -------------------------------------------------


Scheduled = tuple[str, tuple[str, ...]]  # (window start ISO, types) whose Snapshots this process created


@dataclass(frozen=True)
class TenantSchedule:
    """What of a tenant's spec decides its windows."""

    interval: timedelta
    types: tuple[str, ...]
    paused: bool = False
    incremental: timedelta | None = None  # the incremental windows' interval (None: disabled)

    @classmethod
    def from_spec(cls, spec: JiraTenantSpec) -> TenantSchedule:
        inc = spec.schedule.incremental
        return cls(
            parse_duration(spec.schedule.interval),
            tuple(t.value for t in spec.snapshot_types),
            spec.paused,
            parse_duration(inc.interval) if inc.enabled else None,
        )


class WindowVerdict(StrEnum):
    CREATE = "create"  # create the window's Snapshots (one per type) now
    SCHEDULED = "scheduled"  # they exist (this process created them): nothing until the next window
    PAUSED = "paused"
    NOT_READY = "not-ready"


@dataclass(frozen=True)
class WindowDecision:
    verdict: WindowVerdict
    kind: CaptureKind
    window: datetime  # the current window's start
    next_at: datetime  # when the next window opens: the tenant's next capture (nextSnapshotTime)
    types: tuple[str, ...]
    why: str

    @property
    def scheduled(self) -> Scheduled:
        """What to remember once the window's Snapshots exist."""
        return (window_iso(self.window), self.types)


def decide_window(
    schedule: TenantSchedule, *, ready: bool, scheduled: Scheduled | None, now: datetime
) -> WindowDecision:
    """The tenant's current window and whether to create its Snapshots now. ``ready``: the tenant's
    Ready condition is True (site reachable, credentials valid and read-only); ``scheduled``: what
    this process last created (None: nothing yet; a restart creates again and meets 409)."""
    window = window_start(now, schedule.interval)
    next_at = window + schedule.interval
    name = window_iso(window)

    def decision(verdict: WindowVerdict, why: str) -> WindowDecision:
        return WindowDecision(verdict, CaptureKind.FULL, window, next_at, schedule.types, why)

    if schedule.paused:
        return decision(WindowVerdict.PAUSED, "spec.paused is true: no window is captured until it is false")
    if not ready:
        return decision(WindowVerdict.NOT_READY, "Ready is not True (see its reason): tried again at the next tick")
    if scheduled == (name, schedule.types):
        return decision(
            WindowVerdict.SCHEDULED, f"window {name}'s Snapshots exist; the next window opens at {window_iso(next_at)}"
        )
    return decision(
        WindowVerdict.CREATE,
        f"window {name} (floor(now, {schedule.interval})) is open and its Snapshots of "
        f"{', '.join(schedule.types) or 'no type'} were not created by this process yet",
    )


@dataclass(frozen=True)
class IncrementalDecision:
    due: bool
    window: datetime | None  # the incremental window's start (None: disabled)
    why: str


def decide_incremental(
    schedule: TenantSchedule,
    *,
    ready: bool,
    full: WindowDecision,
    busy: bool,
    checked: datetime | None,
    now: datetime,
) -> IncrementalDecision:
    """Whether the tenant's incremental window runs now (in its tick). The window is
    ``floor(now, incremental interval)``; it runs once (``checked``: the start of the last one this
    process ran), never with the tenant's full window it would duplicate (``full`` says CREATE), nor
    while the tenant has unfinished Snapshots (``busy``: their bases are about to move)."""
    if schedule.incremental is None:
        return IncrementalDecision(False, None, "spec.schedule.incremental.enabled is false")
    window = window_start(now, schedule.incremental)
    name = window_iso(window)
    if schedule.paused:
        return IncrementalDecision(False, window, "spec.paused is true")
    if not ready:
        return IncrementalDecision(False, window, "Ready is not True: tried again at the next tick")
    if full.verdict is WindowVerdict.CREATE:
        return IncrementalDecision(False, window, f"the full window {window_iso(full.window)} is created now")
    if busy:
        return IncrementalDecision(False, window, "the tenant has unfinished Snapshots: checked after them")
    if checked is not None and checked >= window:
        return IncrementalDecision(False, window, f"incremental window {name} was checked already")
    return IncrementalDecision(
        True, window, f"incremental window {name} (floor(now, {schedule.incremental})) is open and not checked yet"
    )


# --- 3. a Snapshot: does this process run it now? --------------------------------------------------


class RunVerdict(StrEnum):
    RUN = "run"
    FINAL = "final"  # Completed, Incomplete or Failed: nothing to do
    NOT_OWNED = "not-owned"  # its tenant is another replica's
    RUNNING = "running"  # this process runs it already (or is about to)
    BACKING_OFF = "backing-off"  # after a failed attempt, or finished a moment ago: not before ``at``


@dataclass(frozen=True)
class RunDecision:
    verdict: RunVerdict
    why: str
    at: float | None = None  # BACKING_OFF: when the backoff ends (monotonic)


def decide_run(
    *, owned: bool, running: bool, quiet_until: float | None, now: float, phase: str | None = None
) -> RunDecision:
    """Whether to run a Snapshot now. ``quiet_until``: the end of its backoff (monotonic; None: none);
    ``phase``: its status phase (None: not judged here, the capture reads it itself)."""
    if phase is not None and phase in FINAL:
        return RunDecision(RunVerdict.FINAL, f"its phase is {phase}")
    if not owned:
        return RunDecision(RunVerdict.NOT_OWNED, "its tenant is another replica's (handlers/shard.py)")
    if running:
        return RunDecision(RunVerdict.RUNNING, "this process runs it already")
    if quiet_until is not None and now < quiet_until:
        return RunDecision(RunVerdict.BACKING_OFF, f"backing off for {quiet_until - now:.1f}s more", at=quiet_until)
    return RunDecision(RunVerdict.RUN, "unfinished, owned, idle and not backing off")


# --- 4. a slot: which waiting capture goes first? ---------------------------------------------------
# A Snapshot's ``spec`` is whatever its author wrote: ``reason: Scheduled`` and a ``windowStart`` of
# 1970 sorted first, and a flood of them starved every other tenant. So a Snapshot counts as
# scheduled only when everything about it is what the operator's own schedule makes: its name is
# the deterministic name of its tenant, type and window (at most one per window, and the
# operator's own is that one); its window is aligned to the tenant's interval and is the current
# window or one of the LOOKBACK_WINDOWS before it (a dead replica's unfinished window keeps its
# priority, 1970 does not); the API server created it during that window (``creationTimestamp`` is
# the server's, not the author's); its tenant is not paused and captures its type. Anything else is
# manual, and waits behind every scheduled capture.


class CaptureClass(IntEnum):
    SCHEDULED = 0
    MANUAL = 1


Band = tuple[int, str, int]  # (class, window start for scheduled or "", 0 tried before / 1 fresh)


@dataclass(frozen=True)
class Claim:
    """A capture's place in the queue: its ``band`` (lower first) and who it is for (namespace,
    tenant), over which the slots of one band go round-robin."""

    band: Band
    who: tuple[str, str]
    scheduled: bool
    why: str = ""


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def scheduled_window(body: Mapping[str, Any], tenant: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """The window a Snapshot is the operator's scheduled capture of, or None when it is not one
    (then it is manual, whatever its spec says). ``tenant``: its JiraTenant as watched (None: unknown)."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    if tenant is None or spec.get("reason") != SnapshotReason.SCHEDULED:
        return None
    tenant_spec = tenant.get("spec") or {}
    types = tenant_spec.get("snapshotTypes")
    if tenant_spec.get("paused") or (types is not None and spec.get("type") not in types):
        return None  # the operator schedules nothing for a paused tenant, nor a type it does not capture
    start, created = _time(spec.get("windowStart")), _time(meta.get("creationTimestamp"))
    if start is None or created is None:
        return None
    schedule = tenant_spec.get("schedule") or {}
    try:
        interval = parse_duration(str(schedule.get("interval") or DEFAULT_INTERVAL))
        aligned = window_start(start, interval) == start
    except ValueError:
        return None
    tenant_name = str((spec.get("tenantRef") or {}).get("name") or "")
    if not aligned or meta.get("name") != snapshot_name(tenant_name, str(spec.get("type") or ""), start):
        return None
    if not start - CLOCK_SKEW <= created < start + interval + CLOCK_SKEW:
        return None  # not created during its window: not by the operator's ticker
    current = window_start(now, interval)
    if not current - LOOKBACK_WINDOWS * interval <= start <= current:
        return None
    return start


def capture_claim(body: Mapping[str, Any], tenant: Mapping[str, Any] | None, now: datetime) -> Claim:
    """The Snapshot's claim on a capture slot. Scheduled windows go first, the oldest first (a dead
    replica's unfinished window before the next window's captures); within a window a capture tried
    before (a retry, a takeover) before the fresh ones, which queued long before it. Manual
    Snapshots follow, tried before fresh."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    tried = status.get("phase") == SnapshotPhase.CAPTURING or int(status.get("attempts") or 0) > 0
    who = (str(meta.get("namespace") or ""), str((spec.get("tenantRef") or {}).get("name") or ""))
    order = 0 if tried else 1
    attempt = "tried before" if tried else "fresh"
    window = scheduled_window(body, tenant, now)
    if window is None:
        why = f"manual ({attempt}): after every scheduled capture"
        return Claim((CaptureClass.MANUAL, "", order), who, scheduled=False, why=why)
    why = f"scheduled window {window_iso(window)} ({attempt}): the oldest window first"
    return Claim((CaptureClass.SCHEDULED, window_iso(window), order), who, scheduled=True, why=why)


# --- 5. an attempt ended: when does it run again? --------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """The wait after failed attempt number ``attempts`` (1, 2, ...): 30 s doubling, at most 5 min."""
    return backoff_delay(attempts, base=15, cap=300, jitter=NO_JITTER)


class FailureVerdict(StrEnum):
    RETRY = "retry"  # Pending; runs again in ``delay`` seconds
    GIVE_UP = "give-up"  # Failed: retrying cannot help, or the attempts are used up


@dataclass(frozen=True)
class FailureDecision:
    verdict: FailureVerdict
    delay: float
    why: str


def decide_failure(*, reason: str, terminal: bool, attempts: int) -> FailureDecision:
    """A step of attempt ``attempts`` failed with ``reason`` (``terminal``: retrying cannot help,
    e.g. credentials refused)."""
    if terminal:
        return FailureDecision(FailureVerdict.GIVE_UP, 0.0, f"{reason} is terminal: retrying cannot help")
    if attempts >= MAX_ATTEMPTS:
        return FailureDecision(FailureVerdict.GIVE_UP, 0.0, f"attempt {attempts} of {MAX_ATTEMPTS} failed: no more")
    delay = backoff_seconds(attempts)
    return FailureDecision(
        FailureVerdict.RETRY, delay, f"attempt {attempts} of {MAX_ATTEMPTS} failed ({reason}): retry in {delay:.0f}s"
    )


def denied_retry_seconds(expires_in: float | None, duration_seconds: int) -> float:
    """When to try a Lease again that someone else holds: when it expires if that is soon (a dead
    holder's, taken over then), else a third of a lease duration (a live holder usually finishes
    first, and its Snapshot's final phase ends our retries)."""
    every = max(5.0, duration_seconds / 3)
    if expires_in is None:
        return every
    return max(1.0, min(every, expires_in + 1.0))  # +1: past the expiry, not a hair before it


class Outcome(StrEnum):
    FINISHED = "finished"  # run_snapshot returned: the Snapshot is final (written by us, or seen)
    RETRY = "retry"  # a step raised RetryLater with its delay
    CRASHED = "crashed"  # anything else


def quiet_seconds(outcome: Outcome, delay: float | None = None) -> float:
    """How long the Snapshot's events are ignored after an attempt: its retry's backoff, or (when
    finished) long enough that events queued during the capture, still showing it unfinished, do not
    take its Lease again."""
    if outcome is Outcome.FINISHED:
        return FINISHED_QUIET_SECONDS
    if outcome is Outcome.RETRY and delay:
        return delay
    return UNEXPECTED_RETRY_SECONDS


def retry_delay(quiet_until: float | None, now: float) -> float:
    """Seconds until a failed attempt's retry timer fires: when its backoff ends (None: it failed
    before its backoff was recorded, as after an unexpected error)."""
    return UNEXPECTED_RETRY_SECONDS if quiet_until is None else max(0.0, quiet_until - now)
