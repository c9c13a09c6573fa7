"""The tenant's token refresh Lease, taken and released with awaitable calls.

    lease = RefreshLease(ops, "team-a", "token_refresh:team-a/acme", holder_identity(), duration_seconds=60)
    if await lease.try_acquire(probably_new=True):
        try: ...
        finally: await lease.release()

The rules are exactly those of :class:`jiradrift.k8s.lease.LeaseLock` (client-go's leader election,
same Lease name, labels, annotation and record), so a ``LeaseLock`` on the same key, a Go
controller, or another refresher agree with it. This class only does the token path's two steps
with fewer round trips, over :class:`~jiradrift.tokens.kube.KubeOps` (native asyncio in the job):

- **acquire**: read the Lease and create it when absent (atomic: the second creator gets 409 and
  has lost), or take it over when free or unchanged for ``leaseDurationSeconds`` on the local
  monotonic clock, with a PUT conditional on the resourceVersion read. With ``probably_new`` (the
  tenant was never refreshed, so no Lease is expected) the create comes first and the read only
  follows a 409.
- **release**: a PUT of ``holderIdentity: ""``, ``leaseDurationSeconds: 1`` on the object our own
  last write returned, so its resourceVersion is the precondition: it succeeds only if nobody
  wrote since, i.e. while we still hold it. A 409 re-reads and releases only a Lease still ours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from jiradrift.k8s.lease import (
    ANNOTATION_LOCK_KEY,
    LABEL_MANAGED_BY,
    LOCK_RESULTS,
    MANAGED_BY,
    LeaseRecord,
    format_microtime,
    lease_name,
)
from jiradrift.tokens.kube import Conflict, KubeError, KubeOps

log = logging.getLogger("jiradrift.tokens.lease")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RefreshLease:
    """One refresher's hold on one tenant's refresh Lease (not shared between tasks)."""

    def __init__(
        self,
        ops: KubeOps,
        namespace: str,
        key: str,
        holder: str,
        *,
        duration_seconds: int,
        labels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if duration_seconds < 1:
            raise ValueError(f"lease {key!r}: duration_seconds={duration_seconds} must be >= 1")
        if not holder:
            raise ValueError(f"lease {key!r}: holder identity is empty; use holder_identity()")
        self.ops = ops
        self.namespace = namespace
        self.key = key
        self.name = lease_name(key)
        self.holder = holder
        self.duration_seconds = duration_seconds
        self.labels = {LABEL_MANAGED_BY: MANAGED_BY, **(labels or {})}
        self._clock = clock
        self._wall_clock = wall_clock
        self._observed: LeaseRecord | None = None
        self._observed_time = 0.0
        self._object: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"RefreshLease({self.namespace}/{self.name}, key={self.key!r}, holder={self.holder!r})"

    @property
    def record(self) -> LeaseRecord | None:
        """The record as last read or written (None before the first call)."""
        return self._observed

    def held(self) -> bool:
        """Whether our last read or write left us the holder (no API call)."""
        return self._observed is not None and self._observed.holder == self.holder

    def _observe(self, obj: dict[str, Any], *, written: bool = False) -> LeaseRecord:
        record = LeaseRecord.from_spec(obj.get("spec"))
        if written or record != self._observed:
            self._observed = record
            self._observed_time = self._clock()
        self._object = obj
        return record

    def _now(self) -> str:
        return format_microtime(self._wall_clock())

    def _body(self, metadata: dict[str, Any], spec: dict[str, Any], record: LeaseRecord) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {**spec, **record.to_spec()},
        }

    async def _create(self, now: str) -> bool | None:
        """True: created (ours). None: it exists already (409)."""
        record = LeaseRecord(self.holder, self.duration_seconds, 0, acquire_time=now, renew_time=now)
        metadata = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "annotations": {ANNOTATION_LOCK_KEY: self.key},
        }
        try:
            created = await self.ops.create_lease(self.namespace, self._body(metadata, {}, record))
        except Conflict:
            return None
        self._observe(created, written=True)
        return True

    async def _replace(self, base: dict[str, Any], record: LeaseRecord) -> bool:
        """PUT ``base`` (its resourceVersion is the precondition) carrying ``record``; False on 409/404."""
        metadata = {k: v for k, v in (base.get("metadata") or {}).items() if k != "managedFields"}
        try:
            written = await self.ops.replace_lease(self.namespace, self._body(metadata, base.get("spec") or {}, record))
        except Conflict:
            return False
        if written is None:
            return False
        self._observe(written, written=True)
        return True

    async def _step(self, probably_new: bool) -> bool:
        """client-go ``tryAcquireOrRenew`` (as ``LeaseLock._step``); True when we hold it afterwards."""
        now = self._now()
        if probably_new and self._observed is None:
            if await self._create(now):
                return True
        current = await self.ops.get_lease(self.namespace, self.name)
        if current is None:
            return bool(await self._create(now))
        old = self._observe(current)
        if old.holder and old.holder != self.holder and self._observed_time + old.duration_seconds > self._clock():
            return False  # held by someone else, not yet seen unchanged for its duration
        if old.holder == self.holder:
            record = LeaseRecord(self.holder, self.duration_seconds, old.transitions, old.acquire_time, now)
        else:
            record = LeaseRecord(self.holder, self.duration_seconds, old.transitions + 1, now, now)
        return await self._replace(current, record)

    async def try_acquire(self, *, probably_new: bool = False) -> bool:
        """One attempt: take the Lease (or renew it if ours); False while someone else holds it.

        ``probably_new`` is only a hint that no Lease exists yet (create first); either way the
        outcome is decided by the API server's atomic create or conditional update.
        """
        try:
            got = await self._step(probably_new)
        except KubeError:
            LOCK_RESULTS["error"] += 1
            raise
        LOCK_RESULTS["acquired" if got else "denied"] += 1
        if got:
            log.debug("%s acquired", self.key, extra={"lease": self.name, "namespace": self.namespace})
        return got

    async def release(self) -> bool:
        """Give the Lease up if we still hold it; never touches a Lease someone else holds.

        True when released by this call. The first PUT reuses the object our own write returned,
        so no read is needed unless someone else wrote the Lease meanwhile (409).
        """
        if not self.held() or self._object is None:
            return False
        current: dict[str, Any] | None = self._object
        for _ in range(3):
            assert current is not None and self._observed is not None
            now = self._now()
            record = LeaseRecord("", 1, self._observed.transitions, now, now)
            if await self._replace(current, record):
                LOCK_RESULTS["released"] += 1
                log.debug("%s released", self.key, extra={"lease": self.name, "namespace": self.namespace})
                return True
            current = await self.ops.get_lease(self.namespace, self.name)
            if current is None:
                return False
            if self._observe(current).holder != self.holder:
                return False  # taken over meanwhile: not ours to release
        return False
