"""The Lease algorithm (client-go's leader election) as a pure state machine, and its one async driver.

    decision = decide(Action.ACQUIRE, "me", 60, observation, now=clock(), stamp=format_microtime(utcnow()))
    # decision.verdict: CREATE / UPDATE (with decision.record) / WAIT / DENIED / LOST

    lease = Lease(kube, "team-a", "my-lock", "pod-a_1f2e", duration_seconds=60)
    async with lease.held() as hold:   # takes it (or raises LeaseNotAcquired), renews it, releases it
        ...
        hold.ensure()                  # raises LeaseLost if someone took it over meanwhile

The rules are client-go's (``tools/leaderelection``), so a Go controller reading the same Lease
agrees with us:

- creation is atomic: of two creators, the second gets 409 AlreadyExists and has lost;
- a Lease held by someone else is taken over only after ``leaseDurationSeconds`` during which the
  record was *not seen to change*, measured on the local monotonic clock (client-go's
  ``observedTime``). Timestamps written by other machines are never compared with ours, so clock
  skew between pods does not matter;
- takeover, renewal and release are PUTs of the object as read, so its ``resourceVersion`` is the
  precondition: 409 Conflict means someone else wrote first and we have lost, never a blind retry;
- ``leaseTransitions`` goes up by one whenever the holder changes; a release writes an empty
  ``holderIdentity`` and ``leaseDurationSeconds: 1`` and only ever touches a Lease we still hold.

:func:`decide` does no I/O; :class:`Lease` reads and writes the API through
:class:`~jiradrift.kube.client.Kube` and feeds what it sees back into :func:`decide`.

It is not fencing: a paused holder can overlap briefly with its successor, so the protected work
must be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.net.backoff import CLIENT_GO_JITTER, backoff_delay

MICROTIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
RENEW_DEADLINE_FRACTION = 2 / 3  # client-go: RenewDeadline < LeaseDuration

_log = logging.getLogger(__name__)


class LeaseError(Exception):
    """The Lease could not be read or written for a reason other than losing it."""


class LeaseNotAcquired(LeaseError):
    """Someone else holds the Lease (raised by :meth:`Lease.held` when it cannot take it)."""


class LeaseLost(LeaseError):
    """The Lease was taken over by someone else while we were working under it."""


def format_microtime(moment: datetime) -> str:
    """A MicroTime as the API server parses it: UTC, always six fractional digits, ``Z``.

    ``datetime.isoformat()`` drops the fraction at whole seconds, which the server refuses.
    """
    if moment.tzinfo is None:
        raise ValueError(f"MicroTime {moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC).strftime(MICROTIME_FORMAT)


def _parse_microtime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- the state machine ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The leader-election record of a Lease (its spec), as the API server stores it."""

    holder: str
    duration_seconds: int
    transitions: int
    acquire_time: str | None
    renew_time: str | None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> LeaseRecord:
        spec = spec or {}
        return cls(
            holder=spec.get("holderIdentity") or "",
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
        )

    def to_spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_seconds,
            "leaseTransitions": self.transitions,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
        }

    @property
    def acquired_at(self) -> datetime | None:
        return _parse_microtime(self.acquire_time)

    @property
    def renewed_at(self) -> datetime | None:
        return _parse_microtime(self.renew_time)


@dataclass(frozen=True, slots=True)
class Observation:
    """What this process last saw of a Lease, and since when (local monotonic) it has seen it unchanged."""

    record: LeaseRecord
    resource_version: str
    observed_time: float

    def remaining(self, now: float) -> float:
        """Seconds (local monotonic ``now``) until the record, unchanged since we first saw it, expires;
        <= 0: expired, a holder that has not renewed may be taken over."""
        return self.observed_time + self.record.duration_seconds - now


def observe(previous: Observation | None, record: LeaseRecord, resource_version: str, now: float) -> Observation:
    """client-go's observe step: the observed time moves only when the record changes.

    A renewal by a live holder changes ``renewTime``, so the record changes; a dead holder's record
    stays the same, and its observed time stays where we first saw it.
    """
    if previous is not None and previous.record == record:
        return Observation(record, resource_version, previous.observed_time)
    return Observation(record, resource_version, now)


class Action(StrEnum):
    ACQUIRE = "acquire"  # take the Lease (or renew it if already ours)
    RENEW = "renew"  # keep a Lease we hold
    RELEASE = "release"  # give up a Lease we hold


class Verdict(StrEnum):
    CREATE = "create"  # no Lease: create it with ``record`` (409 means someone else created it first)
    UPDATE = "update"  # PUT ``record`` on the object as observed (409 means someone wrote first)
    WAIT = "wait"  # held by someone else: ask again after ``wait_seconds``
    DENIED = "denied"  # held by someone else, and we are not waiting for it
    LOST = "lost"  # not ours (any more): nothing to renew or release


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    record: LeaseRecord | None = None
    wait_seconds: float = 0.0


def decide(
    action: Action,
    holder: str,
    duration_seconds: int,
    seen: Observation | None,
    *,
    now: float,
    stamp: str,
    deadline: float | None = None,
    holder_alive: bool = True,
) -> Decision:
    """What to do about the Lease, given what we saw of it (``seen``; None: it does not exist).

    ``now`` is the local monotonic clock, compared only with ``seen.observed_time``; ``stamp`` is
    the MicroTime written into ``acquireTime``/``renewTime`` (informational for other readers).

    For :attr:`Action.ACQUIRE` while someone else holds a Lease we have not yet seen unchanged for
    its duration: ``WAIT`` until ``deadline`` (local monotonic; None: do not wait, ``DENIED``).
    Past the deadline we keep waiting only if the holder showed no sign of life while we watched
    (``holder_alive`` False: the record never changed): the wait is then bounded by the record's
    duration, and a Lease left by a dead holder is taken over within one lease duration.
    """
    if seen is None:
        if action is Action.ACQUIRE:
            return Decision(Verdict.CREATE, LeaseRecord(holder, duration_seconds, 0, stamp, stamp))
        return Decision(Verdict.LOST)
    old = seen.record
    ours = bool(old.holder) and old.holder == holder
    if action is Action.RELEASE:
        if not ours:
            return Decision(Verdict.LOST)
        return Decision(Verdict.UPDATE, LeaseRecord("", 1, old.transitions, stamp, stamp))
    if ours:
        return Decision(Verdict.UPDATE, LeaseRecord(holder, duration_seconds, old.transitions, old.acquire_time, stamp))
    if action is Action.RENEW:
        return Decision(Verdict.LOST)
    remaining = seen.remaining(now)
    if not old.holder or remaining <= 0:  # free (released), or unchanged for its whole duration
        return Decision(Verdict.UPDATE, LeaseRecord(holder, duration_seconds, old.transitions + 1, stamp, stamp))
    if deadline is not None and (now < deadline or not holder_alive):
        return Decision(Verdict.WAIT, wait_seconds=remaining)
    return Decision(Verdict.DENIED, wait_seconds=remaining)


# --- the driver -------------------------------------------------------------------------------


@dataclass(slots=True)
class LockHold:
    """What :meth:`Lease.held` yields: the Lease we hold, and whether we lost it meanwhile."""

    lease: str
    key: str
    holder: str
    transitions: int
    acquired_at: datetime | None
    resource_version: str
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    def ensure(self) -> None:
        """Raise :class:`LeaseLost` if the Lease was taken over; call before writing results."""
        if self.lost.is_set():
            raise LeaseLost(
                f"lease {self.lease} ({self.key}) was taken over from {self.holder} while the work "
                f"ran; drop the result and let the new holder finish"
            )


class Lease:
    """One holder's client-go style lock on the Lease ``namespace/name``, driven through ``kube``.

    ``clock`` is the local monotonic clock that measures how long the record has gone unchanged;
    ``wall_clock`` stamps ``acquireTime``/``renewTime`` (informational only); ``sleep`` paces
    :meth:`acquire`. Tests pass controllable ones. Calls on one object are serialised.
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        holder: str,
        *,
        duration_seconds: int,
        key: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        logger: logging.Logger | logging.LoggerAdapter[Any] = _log,
    ) -> None:
        self.key = key or name
        if duration_seconds < 1:
            raise ValueError(f"lease {self.key!r}: duration_seconds={duration_seconds} must be >= 1")
        if not holder:
            raise ValueError(f"lease {self.key!r}: holder identity is empty; use holder_identity()")
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration_seconds = duration_seconds
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        self._collection = resource_path("coordination.k8s.io", "v1", "leases", namespace)
        self._path = resource_path("coordination.k8s.io", "v1", "leases", namespace, name)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._log = logger
        self._mutex = asyncio.Lock()
        self._seen: Observation | None = None
        self._object: dict[str, Any] | None = None  # as last read or written: the next PUT's base

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.namespace}/{self.name}, key={self.key!r}, holder={self.holder!r})"

    # -- observed state (no API call) --

    @property
    def record(self) -> LeaseRecord | None:
        """The record as last read or written (None before the first call)."""
        return self._seen.record if self._seen else None

    @property
    def resource_version(self) -> str | None:
        return self._seen.resource_version if self._seen else None

    def expires_in(self) -> float | None:
        """Seconds until, as this object has seen it, the Lease's record expires: a holder that
        does not renew before then can be taken over. None before the first read or write."""
        return None if self._seen is None else max(0.0, self._seen.remaining(self._clock()))

    def _is_leader(self) -> bool:
        return self._seen is not None and self._seen.record.holder == self.holder

    def is_held(self) -> bool:
        """Whether, as far as we last saw and within the lease duration, we hold it."""
        return self._is_leader() and self._seen is not None and self._seen.remaining(self._clock()) > 0

    # -- hooks --

    def _note(self, result: str) -> None:
        """Called with acquired / denied / lost / released / error; subclasses count them."""
        holder = self._seen.record.holder if self._seen else ""
        level = logging.WARNING if result == "lost" else logging.INFO
        self._log.log(
            level,
            "%s %s",
            self.key,
            result,
            extra={"lease": self.name, "namespace": self.namespace, "holder": self.holder, "current": holder},
        )

    # -- I/O: every answer goes back into the observation --

    def _remember(self, obj: dict[str, Any], *, written: bool = False) -> Observation:
        record = LeaseRecord.from_spec(obj.get("spec"))
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        self._seen = observe(None if written else self._seen, record, version, self._clock())
        self._object = obj
        return self._seen

    def _forget(self) -> None:
        self._seen = None
        self._object = None

    def _error(self, what: str, exc: KubeError) -> LeaseError:
        self._note("error")
        if exc.status is None:
            hint = "check that the API server is reachable"
        elif exc.status in (401, 403):
            hint = "grant this ServiceAccount get/create/update on leases.coordination.k8s.io"
        else:
            hint = "see the API server's message"
        return LeaseError(f"could not {what} lease {self.namespace}/{self.name} ({self.key}): {exc}; {hint}")

    async def _read(self) -> Observation | None:
        try:
            obj = await self.kube.get_or_none(self._path)
        except KubeError as exc:
            raise self._error("read", exc) from None
        if obj is None:
            self._forget()
            return None
        return self._remember(obj)

    async def _apply(self, decision: Decision, what: str) -> bool:
        """Carry out CREATE / UPDATE; False when the API server says someone else got there first."""
        assert decision.record is not None
        try:
            if decision.verdict is Verdict.CREATE:
                metadata = {
                    "name": self.name,
                    "namespace": self.namespace,
                    "labels": dict(self.labels),
                    "annotations": dict(self.annotations),
                }
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata}
                written = await self.kube.create(self._collection, {**body, "spec": decision.record.to_spec()})
            else:
                assert self._object is not None
                base = self._object
                metadata = {k: v for k, v in (base.get("metadata") or {}).items() if k != "managedFields"}
                spec = {**(base.get("spec") or {}), **decision.record.to_spec()}
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}
                written = await self.kube.replace(self._path, body)
        except KubeError as exc:
            if exc.conflict or exc.not_found:
                # Created or written by someone else since we looked: our view is stale.
                self._object = None
                return False
            raise self._error(what, exc) from None
        self._remember(written, written=True)
        return True

    async def _step(self, deadline: float | None, first: LeaseRecord | None, create_first: bool) -> Decision:
        """One round of client-go's ``tryAcquireOrRenew``; the decision that was carried out."""
        stamp = format_microtime(self._wall_clock())
        if self._is_leader() and self._object is not None and self.is_held():
            # Fast path: ours and fresh -> renew on the object our last write returned, no read.
            decision = decide(
                Action.ACQUIRE, self.holder, self.duration_seconds, self._seen, now=self._clock(), stamp=stamp
            )
            if await self._apply(decision, "renew"):
                return decision
        if create_first and self._seen is None:
            decision = decide(Action.ACQUIRE, self.holder, self.duration_seconds, None, now=self._clock(), stamp=stamp)
            if await self._apply(decision, "create"):
                return decision  # 409: it exists after all; read it below
        seen = await self._read()
        alive = first is None or (seen is not None and seen.record != first)
        decision = decide(
            Action.ACQUIRE,
            self.holder,
            self.duration_seconds,
            seen,
            now=self._clock(),
            stamp=stamp,
            deadline=deadline,
            holder_alive=alive,
        )
        if decision.verdict in (Verdict.CREATE, Verdict.UPDATE) and not await self._apply(decision, "take over"):
            # Someone else created or wrote it first. Never a blind retry: when we are waiting
            # anyway, read it again and decide on what they wrote.
            waiting = deadline is not None and self._clock() < deadline
            return Decision(Verdict.WAIT if waiting else Verdict.DENIED)
        return decision

    # -- the calls --

    async def check(self) -> bool:
        """Whether :meth:`try_acquire` would take the Lease now, found by reading it and writing
        nothing. Someone else's Lease is refused (counted as ``denied``, as ``try_acquire`` counts
        it) and :meth:`expires_in` then says when it can be taken over: its clock runs from this
        read for a record new to this object. No Lease, a released one, an expired one or ours: True.
        """
        async with self._mutex:
            seen = await self._read()
            decision = decide(Action.ACQUIRE, self.holder, self.duration_seconds, seen, now=self._clock(), stamp="")
            if decision.verdict is Verdict.DENIED:
                self._note("denied")
                return False
            return True

    async def try_acquire(self, *, create_first: bool = False) -> bool:
        """One attempt: take the Lease, or renew it if ours. False when someone else holds it.

        ``create_first``: a hint that no Lease exists yet (create before reading); either way the
        outcome is decided by the API server's atomic create or conditional update.
        """
        async with self._mutex:
            was_held = self._is_leader()
            decision = await self._step(None, None, create_first)
            got = decision.verdict in (Verdict.CREATE, Verdict.UPDATE)
            if got and not was_held:
                self._note("acquired")
            elif not got:
                self._note("lost" if was_held else "denied")
            return got

    async def acquire(
        self,
        timeout: float,
        retry_period: float = 2.0,
        *,
        max_retry_period: float | None = None,
        create_first: bool = False,
    ) -> bool:
        """Try until the Lease is ours; False when someone else keeps it.

        Asks every ``retry_period`` seconds (+/- jitter), doubling up to ``max_retry_period``
        (default: no doubling), never sleeping past the moment the Lease can be taken over.

        Gives up after ``timeout`` seconds (local clock) while the holder is seen renewing. A
        holder that does not renew while we watch is waited out, for at most one lease duration
        from our first look, and then taken over: a dead holder never blocks us for good.
        """
        deadline = self._clock() + timeout
        polls = 0
        first: LeaseRecord | None = None
        async with self._mutex:
            was_held = self._is_leader()
        while True:
            async with self._mutex:
                decision = await self._step(deadline, first, create_first)
                if first is None:
                    first = self.record
                if decision.verdict in (Verdict.CREATE, Verdict.UPDATE):
                    if not was_held:
                        self._note("acquired")
                    return True
                if decision.verdict is not Verdict.WAIT:
                    self._note("denied")
                    return False
            # client-go's JitterUntil with factor 1.2: spread contenders apart; never past expiry.
            pause = backoff_delay(
                polls, base=retry_period, cap=max_retry_period or retry_period, jitter=CLIENT_GO_JITTER
            )
            await self._sleep(max(0.01, min(pause, decision.wait_seconds + 0.01)))
            polls += 1

    async def renew(self) -> bool:
        """PUT a fresh ``renewTime`` with the resourceVersion we hold; False if we lost the Lease.

        Lost means: someone wrote it since our last write (409), or it is gone, or we never held
        it. Other failures (API server unreachable) raise :class:`LeaseError`: the Lease may still
        be ours and a later renew can succeed.
        """
        async with self._mutex:
            stamp = format_microtime(self._wall_clock())
            seen = self._seen if self._object is not None else None
            decision = decide(Action.RENEW, self.holder, self.duration_seconds, seen, now=self._clock(), stamp=stamp)
            if decision.verdict is Verdict.UPDATE and await self._apply(decision, "renew"):
                return True
            self._forget()  # a fresh read (and a fresh observation) next time
            self._note("lost")
            return False

    async def release(self, *, delete: bool = False) -> bool:
        """Give the Lease up if we still hold it; never touches a Lease someone else holds.

        Writes ``holderIdentity: ""`` and ``leaseDurationSeconds: 1`` (keeping the transitions), as
        client-go does, so the next candidate takes it at once. ``delete``: delete the Lease
        instead, for a lock whose key is used once or rarely (a snapshot window, a token refresh):
        the next holder creates it in one call rather than reading and taking it over in two, and no
        released Lease is left behind in etcd. True when released by this call.
        The first write reuses the object our own last write returned, so its resourceVersion is the
        precondition; only a 409 (or no write of ours to start from) costs a read.
        """
        async with self._mutex:
            if not self._is_leader():
                return False
            for _ in range(3):  # a 409 here is a concurrent write: re-read and decide again
                if self._object is None and await self._read() is None:
                    return False
                stamp = format_microtime(self._wall_clock())
                decision = decide(
                    Action.RELEASE, self.holder, self.duration_seconds, self._seen, now=self._clock(), stamp=stamp
                )
                if decision.verdict is not Verdict.UPDATE:
                    return False
                if delete:
                    assert self._object is not None
                    version = str((self._object.get("metadata") or {}).get("resourceVersion") or "")
                    try:
                        deleted = await self.kube.delete_unchanged(self._path, version)
                    except KubeError as exc:
                        raise self._error("release", exc) from None
                    self._forget()
                    if deleted:
                        self._note("released")
                        return True
                    continue  # written since (or gone): read it again and decide
                if await self._apply(decision, "release"):
                    self._note("released")
                    return True
            return False

    @contextlib.asynccontextmanager
    async def held(self, renew_every: float | None = None, *, release: bool = True) -> AsyncIterator[LockHold]:
        """Hold the Lease while the body runs: take it if needed, renew it in a task, release it.

        Raises :class:`LeaseNotAcquired` when someone else holds it. Renewal runs every
        ``renew_every`` seconds (default: a third of the duration); a 409, or failing to renew for
        two thirds of the duration, sets ``hold.lost`` and stops renewing. The body should call
        ``hold.ensure()`` before it commits results.
        """
        if not (self.is_held() or await self.try_acquire()):
            holder = self.record.holder if self.record else "?"
            raise LeaseNotAcquired(
                f"lease {self.namespace}/{self.name} ({self.key}) is held by {holder}; it can be "
                f"taken over {self.duration_seconds}s after its holder stops renewing"
            )
        record = self.record
        assert record is not None
        hold = LockHold(
            lease=self.name,
            key=self.key,
            holder=self.holder,
            transitions=record.transitions,
            acquired_at=record.acquired_at,
            resource_version=self.resource_version or "",
        )
        period = renew_every if renew_every is not None else self.duration_seconds / 3
        task = asyncio.create_task(self._renew_loop(hold, period), name=f"lease-renew-{self.name}")
        try:
            yield hold
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if release and not hold.lost.is_set():
                await self.release()

    async def _renew_loop(self, hold: LockHold, period: float) -> None:
        deadline = self.duration_seconds * RENEW_DEADLINE_FRACTION
        last_ok = self._clock()
        wait = period
        while True:
            await self._sleep(wait)
            try:
                ok = await self.renew()
            except LeaseError as exc:
                if self._clock() - last_ok < deadline:
                    self._log.warning("%s: renewal failed, retrying: %s", self.key, exc)
                    wait = min(period, 1.0)
                    continue
                self._log.warning("%s: could not renew within %.0fs: %s", self.key, deadline, exc)
                ok = False
            if not ok:
                hold.lost.set()
                return
            last_ok = self._clock()
            hold.resource_version = self.resource_version or hold.resource_version
            wait = period
