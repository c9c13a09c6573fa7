"""The operator's own caches of what its watches show (an informer's store), fed by kopf's raw events.

    tenants = WatchCache()                       # group "ns/name" -> that tenant's body
    tenants.put(uid, "team-a/acme", body)        # from every watch event of the object
    tenants.remove(uid)                          # DELETED
    tenants.expect(listed_uids)                  # what a LIST at startup returned
    await tenants.wait_ready(timeout=60)         # holds every listed object (or gave up waiting)

Not kopf's indices: kopf holds back every object's handlers until every object is indexed, and
it does so with one condition that each of the N objects waits on and every one of them notifies:
O(N^2) wake-ups. With 3,000 JiraTenants a replica took 90 s of CPU to start (py-spy:
``ToggleSet.wait_for``), and a restart with tens of thousands of Snapshots would have taken hours.

Readiness is explicit instead: at startup the operator LISTs the objects' metadata once (a page
at a time) and waits until the watch has delivered each of them, so the first shard assignment
and the first acceptance read a whole cache, never a half-listed few. An object deleted between
that LIST and kopf's own never arrives; the wait is bounded for that reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

log = logging.getLogger("jiradrift.handlers")

V = TypeVar("V")
G = TypeVar("G")


class WatchCache(Generic[G, V]):
    """Values by object uid, grouped (a tenant's key, or the tenant a Snapshot belongs to)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._groups: dict[G, dict[str, V]] = {}
        self._group_of: dict[str, G] = {}
        self._awaited: set[str] | None = None  # listed at startup, not yet delivered by the watch
        self._ready = asyncio.Event()

    # -- fed by the watch --

    def put(self, uid: str, group: G, value: V) -> None:
        old = self._group_of.get(uid)
        if old is not None and old != group:
            self._drop(uid, old)
        self._groups.setdefault(group, {})[uid] = value
        self._group_of[uid] = group
        self._delivered(uid)

    def remove(self, uid: str) -> None:
        group = self._group_of.pop(uid, None)
        if group is not None:
            self._drop(uid, group)
        self._delivered(uid)

    def _drop(self, uid: str, group: G) -> None:
        members = self._groups.get(group)
        if members is not None:
            members.pop(uid, None)
            if not members:
                del self._groups[group]

    def _delivered(self, uid: str) -> None:
        if self._awaited is not None:
            self._awaited.discard(uid)
            if not self._awaited:
                self._ready.set()

    # -- readiness --

    def expect(self, uids: Iterable[str]) -> None:
        """The objects a LIST returned: the cache is ready once the watch delivered each."""
        self._awaited = set(uids) - self._group_of.keys()
        if not self._awaited:
            self._ready.set()

    async def wait_ready(self, timeout: float) -> bool:
        """True once ready; False after ``timeout`` seconds (logged, with how many are missing)."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            missing = len(self._awaited or ())
            log.warning(
                "%d %s listed at startup not delivered by the watch after %.0fs (deleted meanwhile?); going on",
                missing,
                self.kind,
                time.monotonic() - started,
            )
            self._awaited = None
            self._ready.set()
            return False
        return True

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    # -- read --

    def group(self, group: G) -> list[V]:
        return list((self._groups.get(group) or {}).values())

    def get(self, uid: str) -> tuple[G, V] | None:
        """The object's group and value, by uid."""
        group = self._group_of.get(uid)
        return None if group is None else (group, self._groups[group][uid])

    def first(self, group: G) -> V | None:
        return next(iter((self._groups.get(group) or {}).values()), None)

    def groups(self) -> Iterator[G]:
        return iter(list(self._groups))

    def __len__(self) -> int:
        return len(self._group_of)


def listed_uids(items: Iterable[dict[str, Any]]) -> set[str]:
    return {str((item.get("metadata") or {}).get("uid") or "") for item in items} - {""}
