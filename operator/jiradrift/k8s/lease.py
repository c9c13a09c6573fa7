"""A lock on a ``coordination.k8s.io/v1`` Lease, with client-go's leader-election semantics.

    lock = LeaseLock(api, "team-a", snapshot_lock_key("team-a/acme", "workflows", window), holder_identity())
    with lock.held() as hold:          # takes it (or raises LeaseNotAcquired), renews it, releases it
        capture(...)
        hold.ensure()                  # raises LeaseLost if someone took it over meanwhile

One Lease per key; its name is a DNS-safe slug plus a hash of the key (:func:`lease_name`), the
exact key is in the ``jiradrift.io/lock-key`` annotation. The rules are client-go's
(``tools/leaderelection``), so a Go controller reading the same Lease agrees with us:

- creation is atomic: of two creators, the second gets 409 AlreadyExists and has lost;
- a Lease held by someone else is taken over only after ``leaseDurationSeconds`` during which the
  record was *not seen to change*, measured on the local monotonic clock. Timestamps written by
  other machines are never compared with ours, so clock skew between pods does not matter;
- takeover, renewal and release are PUTs of the object as read, so its ``resourceVersion`` is the
  precondition: 409 Conflict means someone else wrote first and we have lost, never a blind retry;
- ``leaseTransitions`` goes up by one whenever the holder changes; a release writes an empty
  ``holderIdentity`` and ``leaseDurationSeconds: 1`` and only ever touches a Lease we still hold.

It is not fencing: a paused holder can overlap briefly with its successor, so the protected work
must be idempotent (the Snapshot handler records holder and transitions in its status).

All calls are blocking (the ``kubernetes`` client); the operator runs them in ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from jiradrift.k8s.resources import GROUP, LABEL_TENANT, LABEL_TYPE
from jiradrift.kube.api import label_value, request_json, status_message

ANNOTATION_LOCK_KEY = f"{GROUP}/lock-key"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "jira-drift-operator"
DEFAULT_DURATION_SECONDS = 90
MICROTIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Lock results in this process, by outcome: ``acquired`` (a lock taken, by create or takeover),
#: ``denied`` (someone else holds it, or won the race), ``lost`` (a renewal found it taken over),
#: ``released``, ``error`` (the API server could not be asked). The metrics layer reads it;
#: contention is ``denied / (acquired + denied)``. Renewals are not counted.
LOCK_RESULTS: Counter[str] = Counter()

_log = logging.getLogger(__name__)
_SLUG = re.compile(r"[^a-z0-9]+")


class LeaseError(Exception):
    """The Lease could not be read or written for a reason other than losing it."""


class LeaseNotAcquired(LeaseError):
    """Someone else holds the Lease (raised by :meth:`LeaseLock.held` when it cannot take it)."""


class LeaseLost(LeaseError):
    """The Lease was taken over by someone else while we were working under it."""


# --- names ------------------------------------------------------------------------------------


def lease_name(key: str, max_len: int = 63) -> str:
    """A valid Lease name for ``key``: a lowercase slug of it plus 12 hex of its sha256.

    The slug is for people reading ``kubectl get leases``; the hash makes the name unique, because
    slugging is lossy (``Acme Corp`` and ``acme-corp`` slug alike). 63 characters keeps it a single
    DNS label (so also a valid label value).
    """
    if max_len < 20:
        raise ValueError(f"lease_name max_len={max_len} is too short; use at least 20 (12 go to the hash)")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    slug = _SLUG.sub("-", key.lower()).strip("-")
    slug = slug[: max_len - len(digest) - 1].rstrip("-")
    return f"{slug}-{digest}" if slug else f"lock-{digest}"


def _window_iso(window_start: datetime) -> str:
    if window_start.tzinfo is None:
        raise ValueError(
            f"window start {window_start.isoformat()} has no timezone; pass an aware datetime in UTC "
            f"(e.g. datetime(..., tzinfo=UTC)) so every replica derives the same lock key"
        )
    return window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_lock_key(tenant: str, snapshot_type: str, window_start: datetime) -> str:
    """``snapshot_lock:{namespace/name}:{type}:{windowStart}``, the window in UTC to the second.

    >>> snapshot_lock_key("team-a/acme", "workflows", datetime(2026, 1, 2, 3, 0, tzinfo=UTC))
    'snapshot_lock:team-a/acme:workflows:2026-01-02T03:00:00Z'
    """
    return f"snapshot_lock:{tenant}:{snapshot_type}:{_window_iso(window_start)}"


def snapshot_lock_labels(tenant: str, snapshot_type: str) -> dict[str, str]:
    """The labels of a snapshot lock's Lease, for ``kubectl get leases -l jiradrift.io/tenant=...``."""
    return {LABEL_TENANT: label_value(tenant), LABEL_TYPE: label_value(snapshot_type)}


def holder_identity(pod_name: str | None = None) -> str:
    """``<pod name>_<random hex>``: unique per process even when a pod restarts under its old name.

    The pod name comes from the argument, else ``POD_NAME`` (set it with the downward API), else
    ``HOSTNAME``, else the host name.
    """
    pod = pod_name or os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{pod}_{secrets.token_hex(5)}"


def format_microtime(moment: datetime) -> str:
    """A MicroTime as the API server parses it: UTC, always six fractional digits, ``Z``.

    ``datetime.isoformat()`` drops the fraction at whole seconds, which the server refuses.
    """
    if moment.tzinfo is None:
        raise ValueError(f"MicroTime {moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC).strftime(MICROTIME_FORMAT)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- records ----------------------------------------------------------------------------------


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


def _parse_microtime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(slots=True)
class LockHold:
    """What :meth:`LeaseLock.held` yields: the lease we hold, and whether we lost it meanwhile."""

    lease: str
    key: str
    holder: str
    transitions: int
    acquired_at: datetime | None
    resource_version: str
    lost: threading.Event = field(default_factory=threading.Event)

    def ensure(self) -> None:
        """Raise :class:`LeaseLost` if the Lease was taken over; call before writing results."""
        if self.lost.is_set():
            raise LeaseLost(
                f"lease {self.lease} ({self.key}) was taken over from {self.holder} while the work "
                f"ran; drop the result and let the new holder finish"
            )


# --- the lock ---------------------------------------------------------------------------------


class LeaseLock:
    """One client-go style lock on the Lease named :func:`lease_name` of ``key`` in ``namespace``.

    ``clock`` is the local monotonic clock that measures how long the record has gone unchanged;
    ``wall_clock`` stamps ``acquireTime``/``renewTime`` (informational only); ``sleep`` paces
    :meth:`acquire`. Tests pass controllable ones. Methods are safe to call from several threads.
    """

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        key: str,
        holder: str,
        *,
        duration_seconds: int = DEFAULT_DURATION_SECONDS,
        labels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | logging.LoggerAdapter[Any] = _log,
    ) -> None:
        if duration_seconds < 1:
            raise ValueError(f"lease {key!r}: duration_seconds={duration_seconds} must be >= 1")
        if not holder:
            raise ValueError(f"lease {key!r}: holder identity is empty; use holder_identity()")
        self.key = key
        self.name = lease_name(key)
        self.namespace = namespace
        self.holder = holder
        self.duration_seconds = duration_seconds
        self.labels = {LABEL_MANAGED_BY: MANAGED_BY, **(labels or {})}
        self._api = api
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._log = logger
        self._mutex = threading.RLock()
        # What we last saw of the Lease (client-go's observedRecord/observedTime) and the object
        # it came in, whose resourceVersion is the precondition of our next write.
        self._observed: LeaseRecord | None = None
        self._observed_time = 0.0
        self._object: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"LeaseLock({self.namespace}/{self.name}, key={self.key!r}, holder={self.holder!r})"

    # -- observed state --

    @property
    def record(self) -> LeaseRecord | None:
        """The record as last read or written by this lock (None before the first call)."""
        return self._observed

    @property
    def resource_version(self) -> str | None:
        version: str | None = (self._object or {}).get("metadata", {}).get("resourceVersion")
        return version

    def is_held(self) -> bool:
        """Whether, as far as we last saw and within the lease duration, we hold it (no API call)."""
        with self._mutex:
            return self._is_leader() and self._locally_valid()

    def _is_leader(self) -> bool:
        return self._observed is not None and self._observed.holder == self.holder

    def _locally_valid(self) -> bool:
        assert self._observed is not None
        return self._observed_time + self._observed.duration_seconds > self._clock()

    def _observe(self, obj: dict[str, Any], *, written: bool = False) -> LeaseRecord:
        record = LeaseRecord.from_spec(obj.get("spec"))
        if written or record != self._observed:
            self._observed = record
            self._observed_time = self._clock()
        self._object = obj
        return record

    # -- API plumbing: raw dicts in and out, so MicroTimes are exactly what we format --

    def _call(self, what: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            return request_json(self._api, method, path, body=body)
        except ApiException:
            raise
        except Exception as exc:  # urllib3 connection errors and the like
            LOCK_RESULTS["error"] += 1
            raise LeaseError(
                f"could not {what} lease {self.namespace}/{self.name} ({self.key}): {exc}; check that "
                f"the API server is reachable"
            ) from exc

    def _api_error(self, what: str, exc: ApiException) -> LeaseError:
        LOCK_RESULTS["error"] += 1
        hint = (
            "grant the operator's ServiceAccount get/create/update on leases.coordination.k8s.io"
            if exc.status in (401, 403)
            else "see the API server's message"
        )
        return LeaseError(
            f"could not {what} lease {self.namespace}/{self.name} ({self.key}): HTTP {exc.status} "
            f"{exc.reason}: {status_message(exc)}; {hint}"
        )

    def _get(self) -> dict[str, Any] | None:
        try:
            return self._call("read", "GET", f"{self._path}/{self.name}")
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._api_error("read", exc) from exc

    def _create(self, record: LeaseRecord) -> dict[str, Any] | None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": dict(self.labels),
                "annotations": {ANNOTATION_LOCK_KEY: self.key},
            },
            "spec": record.to_spec(),
        }
        try:
            return self._call("create", "POST", self._path, body)
        except ApiException as exc:
            if exc.status == 409:
                return None  # someone created it first
            raise self._api_error("create", exc) from exc

    def _replace(self, base: dict[str, Any], record: LeaseRecord, what: str) -> dict[str, Any] | None:
        """PUT ``base`` (as read, with its resourceVersion) carrying ``record``; None on 409/404."""
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": base["metadata"],
            "spec": {**base.get("spec", {}), **record.to_spec()},
        }
        try:
            return self._call(what, "PUT", f"{self._path}/{self.name}", body)
        except ApiException as exc:
            if exc.status in (404, 409):
                return None  # changed (or deleted) since we read it: someone else got there first
            raise self._api_error(what, exc) from exc

    def _now(self) -> str:
        return format_microtime(self._wall_clock())

    # -- the algorithm --

    def _step(self) -> bool:
        """client-go ``tryAcquireOrRenew``; True when we hold the Lease afterwards. Not counted."""
        now = self._now()
        # 1. Fast path: we are the holder and our view is fresh -> renew with the object we have.
        if self._is_leader() and self._locally_valid() and self._object is not None:
            assert self._observed is not None
            renewed = self._replace(self._object, _renewed(self._observed, now), "renew")
            if renewed is not None:
                self._observe(renewed, written=True)
                return True
        # 2. Read it; create it if there is none.
        current = self._get()
        if current is None:
            created = self._create(LeaseRecord(self.holder, self.duration_seconds, 0, acquire_time=now, renew_time=now))
            if created is None:
                return False
            self._observe(created, written=True)
            return True
        # 3. Remember when we first saw this record (local clock).
        old = self._observe(current)
        # 4. Held by someone else and not yet seen unchanged for its duration: not ours.
        if old.holder and old.holder != self.holder and self._locally_valid():
            return False
        # 5. Take it over (or renew a record that is already ours), conditional on what we read.
        if old.holder == self.holder:
            record = LeaseRecord(self.holder, self.duration_seconds, old.transitions, old.acquire_time, now)
        else:
            record = LeaseRecord(self.holder, self.duration_seconds, old.transitions + 1, now, now)
        written = self._replace(current, record, "take over")
        if written is None:
            return False
        self._observe(written, written=True)
        return True

    def try_acquire(self) -> bool:
        """One attempt: take the Lease, or renew it if ours. False when someone else holds it."""
        with self._mutex:
            was_held = self._is_leader()
            got = self._step()
            if got and not was_held:
                self._note("acquired")
            elif not got:
                self._note("lost" if was_held else "denied")
            return got

    def acquire(self, timeout: float, retry_period: float = 2.0) -> bool:
        """Try until ``timeout`` seconds (local clock) have passed, every ``retry_period`` +/- jitter."""
        deadline = self._clock() + timeout
        with self._mutex:
            was_held = self._is_leader()
        while True:
            with self._mutex:
                if self._step():
                    if not was_held:
                        self._note("acquired")
                    return True
            left = deadline - self._clock()
            if left <= 0:
                self._note("denied")
                return False
            # client-go's JitterUntil with factor 1.2: spread contenders apart.
            self._sleep(min(left, retry_period * (1 + 0.2 * random.random())))

    def renew(self) -> bool:
        """PUT a fresh ``renewTime`` with the resourceVersion we hold; False if we lost the Lease.

        Lost means: someone wrote it since our last write (409), or it is gone, or we never held
        it. Other failures (API server unreachable) raise :class:`LeaseError`: the Lease may still
        be ours and a later renew can succeed.
        """
        with self._mutex:
            if not self._is_leader() or self._object is None:
                return False
            assert self._observed is not None
            written = self._replace(self._object, _renewed(self._observed, self._now()), "renew")
            if written is None:
                self._observed = None  # force a fresh read (and a fresh observation) next time
                self._object = None
                self._note("lost")
                return False
            self._observe(written, written=True)
            return True

    def release(self) -> bool:
        """Give the Lease up if we still hold it; never touches a Lease someone else holds.

        Writes ``holderIdentity: ""`` and ``leaseDurationSeconds: 1`` (keeping the transitions), as
        client-go does, so the next candidate takes it at once. True when released by this call.

        The first attempt PUTs the object our own last write (acquire or renew) returned: its
        resourceVersion is the precondition, so it succeeds only if nobody wrote the Lease since,
        i.e. while it is still ours. Only a 409 (or no write of ours to start from) costs a read.
        """
        with self._mutex:
            current = self._object if self._is_leader() else None
            for _ in range(3):  # a 409 here is a concurrent write: re-read and decide again
                if current is None:
                    current = self._get()
                    if current is None:
                        return False
                old = self._observe(current)
                if old.holder != self.holder:
                    return False
                now = self._now()
                record = LeaseRecord("", 1, old.transitions, now, now)
                written = self._replace(current, record, "release")
                if written is not None:
                    self._observe(written, written=True)
                    self._note("released")
                    return True
                current = None
            return False

    @contextmanager
    def held(self, renew_every: float | None = None, *, release: bool = True) -> Iterator[LockHold]:
        """Hold the Lease while the body runs: take it if needed, renew it in a thread, release it.

        Raises :class:`LeaseNotAcquired` when someone else holds it. Renewal runs every
        ``renew_every`` seconds (default: a third of the duration); a 409, or failing to renew for
        two thirds of the duration, sets ``hold.lost`` and stops renewing. The body should call
        ``hold.ensure()`` before it commits results.
        """
        with self._mutex:
            if not (self.is_held() or self.try_acquire()):
                holder = self._observed.holder if self._observed else "?"
                raise LeaseNotAcquired(
                    f"lease {self.namespace}/{self.name} ({self.key}) is held by {holder}; it can be "
                    f"taken over {self.duration_seconds}s after its holder stops renewing"
                )
            assert self._observed is not None
            hold = LockHold(
                lease=self.name,
                key=self.key,
                holder=self.holder,
                transitions=self._observed.transitions,
                acquired_at=self._observed.acquired_at,
                resource_version=self.resource_version or "",
            )
        period = renew_every if renew_every is not None else self.duration_seconds / 3
        stop = threading.Event()
        thread = threading.Thread(
            target=self._renew_loop, args=(hold, period, stop), name=f"lease-renew-{self.name}", daemon=True
        )
        thread.start()
        try:
            yield hold
        finally:
            stop.set()
            thread.join()
            if release and not hold.lost.is_set():
                self.release()

    def _renew_loop(self, hold: LockHold, period: float, stop: threading.Event) -> None:
        deadline = self.duration_seconds * 2 / 3  # client-go: RenewDeadline < LeaseDuration
        last_ok = self._clock()
        wait = period
        while not stop.wait(wait):
            try:
                ok = self.renew()
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

    def _note(self, result: str) -> None:
        LOCK_RESULTS[result] += 1
        holder = self._observed.holder if self._observed else ""
        level = logging.WARNING if result == "lost" else logging.INFO
        self._log.log(
            level,
            "%s %s",
            self.key,
            result,
            extra={"lease": self.name, "namespace": self.namespace, "holder": self.holder, "current": holder},
        )


def _renewed(record: LeaseRecord, now: str) -> LeaseRecord:
    return LeaseRecord(record.holder, record.duration_seconds, record.transitions, record.acquire_time, now)
