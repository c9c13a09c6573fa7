"""The tenant's token refresh lock: a Lease record carried in an annotation of the credential Secret itself.

    lock = SecretLock(ops, "team-a", "acme-creds", holder_identity(), duration_seconds=60, key="team-a/acme")
    secret = await lock.acquire(timeout=30, secret=body_we_read)   # the Secret as written with our lock, or None
    if secret is not None:
        async with lock.held():        # renews (a PUT of the Secret) while a slow refresh runs
            ...                        # the final PUT of the rotated tokens clears the lock (lock.released(...))
        await lock.release()           # only writes if the lock is still ours and not cleared yet

Why on the Secret rather than a separate Lease: the lock lives on what it guards, and taking it is a
PUT of the Secret with the resourceVersion of our read, so a successful acquisition also proves the
Secret we read is the newest: no second read under the lock. The rotated tokens and the release go
out in one write. Per refreshed tenant that is GET, PUT (lock), PUT (tokens + release), where a Lease
cost POST Lease, GET Secret, PUT Secret, DELETE Lease.

The record (holder, duration, transitions, acquire and renew times) and the rules are the Lease's
(:func:`jiradrift.kube.lease.decide`, client-go's leader election): a record held by someone else is
taken over only after it was seen unchanged for its duration on the local monotonic clock (a dead
holder is taken over within one duration, whatever the clocks of other pods say); a 409 means
someone wrote the Secret first: re-read it and decide again, never a blind write; a release writes
an empty holder and duration 1 (keeping the transitions) and only ever touches a record we hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from jiradrift.api.locks import LOCK_RESULTS
from jiradrift.api.resources import GROUP
from jiradrift.kube.client import KubeError
from jiradrift.kube.lease import (
    Action,
    LeaseError,
    LeaseRecord,
    Observation,
    Verdict,
    decide,
    format_microtime,
    observe,
)
from jiradrift.net.backoff import CLIENT_GO_JITTER, backoff_delay
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.secret import updated_secret_body

LOCK_ANNOTATION = f"{GROUP}/refresh-lock"
"""The Secret annotation holding the refresh lock's record (JSON of a Lease spec)."""

_log = logging.getLogger(__name__)


class LockSecretGone(LeaseError):
    """The credential Secret that carries the lock does not exist (any more)."""


def lock_key(namespace: str, name: str) -> str:
    """``token_refresh:{namespace}/{name}``: the lock's name in logs and messages."""
    return f"token_refresh:{namespace}/{name}"


def read_record(secret: Mapping[str, Any] | None) -> LeaseRecord | None:
    """The lock record in the Secret's annotation; None when there is none (or it does not read)."""
    annotations = ((secret or {}).get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(LOCK_ANNOTATION)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        if not isinstance(spec, dict):
            raise TypeError("not an object")
        return LeaseRecord.from_spec(spec)
    except (ValueError, TypeError) as exc:  # a hand-edited annotation: treat the lock as free
        _log.warning("ignoring unreadable %s annotation (%s); the lock counts as free", LOCK_ANNOTATION, exc)
        return None


def encode_record(record: LeaseRecord) -> str:
    return json.dumps(record.to_spec(), separators=(",", ":"), sort_keys=True)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SecretLock:
    """One holder's lock on the refresh of the tenant whose credentials are Secret ``namespace/name``.

    Keep one object per attempt: expiry is judged from how long *this object* has seen the record
    unchanged. ``clock`` (local monotonic) and ``sleep`` can be replaced by tests.
    """

    def __init__(
        self,
        ops: KubeOps,
        namespace: str,
        name: str,
        holder: str,
        *,
        duration_seconds: int,
        key: str,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if duration_seconds < 1:
            raise ValueError(f"lock {key!r}: duration_seconds={duration_seconds} must be >= 1")
        if not holder:
            raise ValueError(f"lock {key!r}: holder identity is empty; use holder_identity()")
        self.ops = ops
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration_seconds = duration_seconds
        self.key = key
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._mutex = asyncio.Lock()
        self._seen: Observation | None = None
        self.secret: dict[str, Any] | None = None
        """The Secret as last read or written by this lock: the next write's base."""

    def __repr__(self) -> str:
        return f"SecretLock({self.namespace}/{self.name}, key={self.key!r}, holder={self.holder!r})"

    @property
    def record(self) -> LeaseRecord | None:
        return self._seen.record if self._seen else None

    def holds(self) -> bool:
        """Whether the Secret as last read or written carries our record."""
        return self._seen is not None and self._seen.record.holder == self.holder

    # -- bookkeeping --

    def _note(self, result: str) -> None:
        LOCK_RESULTS[result] += 1
        current = self._seen.record.holder if self._seen else ""
        level = logging.WARNING if result == "lost" else logging.DEBUG
        where = f"{self.namespace}/{self.name}"
        _log.log(level, "%s %s", self.key, result, extra={"secret": where, "current": current})

    def _remember(self, secret: dict[str, Any], *, written: bool = False) -> None:
        self.secret = secret
        record = read_record(secret)
        if record is None:
            self._seen = None
            return
        version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        self._seen = observe(None if written else self._seen, record, version, self._clock())

    def released(self, written: dict[str, Any]) -> None:
        """Tell the lock a write of ours (the rotated tokens) also released it: nothing left to release."""
        self._remember(written, written=True)

    def _error(self, what: str, exc: KubeError) -> LeaseError:
        self._note("error")
        if exc.status in (401, 403):
            hint = "grant this ServiceAccount get and update on the Secret"
        elif exc.status is None:
            hint = "check that the API server is reachable"
        else:
            hint = "see the API server's message"
        return LeaseError(f"could not {what} the refresh lock on Secret {self.namespace}/{self.name}: {exc}; {hint}")

    async def _read(self) -> dict[str, Any]:
        try:
            secret = await self.ops.get_secret(self.namespace, self.name)
        except KubeError as exc:
            raise self._error("read", exc) from None
        if secret is None:
            raise LockSecretGone(f"Secret {self.namespace}/{self.name} not found")
        self._remember(secret)
        return secret

    async def _write(self, record: LeaseRecord, what: str) -> bool:
        """PUT ``record`` on the Secret as last seen; False on 409 (someone wrote first)."""
        assert self.secret is not None
        body = updated_secret_body(self.secret, {}, annotations={LOCK_ANNOTATION: encode_record(record)})
        try:
            written = await self.ops.replace_secret(body)
        except KubeError as exc:
            if exc.conflict:
                return False
            if exc.not_found:
                raise LockSecretGone(f"Secret {self.namespace}/{self.name} not found") from None
            raise self._error(what, exc) from None
        self._remember(written, written=True)
        return True

    def _stamp(self) -> str:
        return format_microtime(self._wall_clock())

    # -- the calls --

    async def acquire(
        self,
        timeout: float,
        retry_period: float = 2.0,
        *,
        max_retry_period: float | None = None,
        secret: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Take the lock; the Secret as written with it (the newest Secret), or None when someone keeps it.

        ``secret``: the Secret as just read (saves a read). Gives up after ``timeout`` seconds while
        the holder is seen renewing; a holder that does not renew while we watch is waited out (at
        most one duration from our first look) and taken over. Raises :class:`LockSecretGone` and
        :class:`~jiradrift.kube.lease.LeaseError` (the API server refused or did not answer).
        """
        deadline = self._clock() + timeout
        polls = 0
        first: LeaseRecord | None = None
        async with self._mutex:
            if secret is not None:
                self._remember(secret)
            else:
                await self._read()
            while True:
                seen = self._seen
                alive = first is None or (seen is not None and seen.record != first)
                decision = decide(
                    Action.ACQUIRE,
                    self.holder,
                    self.duration_seconds,
                    seen,
                    now=self._clock(),
                    stamp=self._stamp(),
                    deadline=deadline,
                    holder_alive=alive,
                )
                if first is None:
                    first = self.record
                if decision.verdict in (Verdict.CREATE, Verdict.UPDATE):
                    assert decision.record is not None
                    if await self._write(decision.record, "take"):
                        self._note("acquired")
                        assert self.secret is not None
                        return self.secret
                    # Someone wrote the Secret since we read it: read it again and decide on what they wrote.
                    if polls:  # repeated conflicts: space them like the polls
                        await self._sleep(backoff_delay(polls, base=retry_period, jitter=CLIENT_GO_JITTER))
                    polls += 1
                    await self._read()
                    continue
                if decision.verdict is not Verdict.WAIT:
                    self._note("denied")
                    return None
                # client-go's JitterUntil with factor 1.2: spread contenders apart; never past expiry.
                pause = backoff_delay(
                    polls, base=retry_period, cap=max_retry_period or retry_period, jitter=CLIENT_GO_JITTER
                )
                await self._sleep(max(0.01, min(pause, decision.wait_seconds + 0.01)))
                polls += 1
                await self._read()

    async def renew(self) -> bool:
        """PUT a fresh renew time; False when the lock is no longer ours.

        A 409 re-reads the Secret (its other fields may have changed) and renews only if the
        record there is still ours.
        """
        async with self._mutex:
            for _ in range(3):
                if self.secret is None:
                    await self._read()
                decision = decide(
                    Action.RENEW, self.holder, self.duration_seconds, self._seen, now=self._clock(), stamp=self._stamp()
                )
                if decision.verdict is not Verdict.UPDATE:
                    self._note("lost")
                    return False
                assert decision.record is not None
                if await self._write(decision.record, "renew"):
                    return True
                self.secret = None  # written since: read and decide again
            return False

    async def release(self) -> bool:
        """Clear our record (holder "", duration 1, transitions kept) if the Secret still carries it.

        Never touches someone else's record. True when released by this call.
        """
        async with self._mutex:
            for _ in range(3):  # a 409 is a concurrent write: re-read and decide again
                if self.secret is None:
                    try:
                        await self._read()
                    except LockSecretGone:
                        return False
                decision = decide(
                    Action.RELEASE,
                    self.holder,
                    self.duration_seconds,
                    self._seen,
                    now=self._clock(),
                    stamp=self._stamp(),
                )
                if decision.verdict is not Verdict.UPDATE:
                    return False
                assert decision.record is not None
                try:
                    if await self._write(decision.record, "release"):
                        self._note("released")
                        return True
                except LockSecretGone:
                    return False
                self.secret = None
            return False

    def release_annotation(self, secret: Mapping[str, Any]) -> dict[str, str | None]:
        """The annotation that releases our lock in a write based on ``secret`` (none if not ours there)."""
        record = read_record(secret)
        if record is None or record.holder != self.holder:
            return {}
        return {LOCK_ANNOTATION: encode_record(LeaseRecord("", 1, record.transitions, self._stamp(), self._stamp()))}

    @contextlib.asynccontextmanager
    async def held(self, renew_every: float | None = None) -> AsyncIterator[asyncio.Event]:
        """Renew the lock while the body runs; yields an Event set if the lock was lost meanwhile."""
        lost = asyncio.Event()
        period = renew_every if renew_every is not None else self.duration_seconds / 3
        task = asyncio.create_task(self._renew_loop(lost, period), name=f"refresh-lock-renew-{self.name}")
        try:
            yield lost
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew_loop(self, lost: asyncio.Event, period: float) -> None:
        deadline = self.duration_seconds * 2 / 3
        last_ok = self._clock()
        wait = period
        while True:
            await self._sleep(wait)
            try:
                ok = await self.renew()
            except LeaseError as exc:
                if self._clock() - last_ok < deadline:
                    _log.warning("%s: renewal failed, retrying: %s", self.key, exc)
                    wait = min(period, 1.0)
                    continue
                _log.warning("%s: could not renew within %.0fs: %s", self.key, deadline, exc)
                ok = False
            if not ok:
                lost.set()
                return
            last_ok = self._clock()
            wait = period
