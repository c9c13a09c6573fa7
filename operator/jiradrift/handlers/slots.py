"""Capture slots: at most N captures at once, the best band first, round-robin over tenants within it.

    slots = PrioritySlots(32)
    async with slots.slot(claim.band, claim.who):   # handlers/schedule.py: (class, window, tried)
        ...

An ``asyncio.Semaphore`` serves waiters in arrival order. When a replica dies mid-window, the
survivors take over its tenants just as the next window opens; in arrival order that window's
thousand new captures went ahead of the dead replica's unfinished ones, which finished only after
the next window's (bench/scale_bench.py --kill-one, 3 replicas x 3,000 tenants). Here a free slot
goes to the waiters of the lowest band (the oldest scheduled window); equal bands keep arrival
order for one tenant.

Within a band the slots are shared: namespaces take turns, and within a namespace its tenants take
turns (``who`` = (namespace, tenant)), so a flood of Snapshots from one tenant, or of Snapshots
naming a thousand made-up tenants in one namespace, waits behind its own and costs every other
tenant at most one turn each.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

Who = tuple[str, str]


class _Band:
    """The waiters of one band: per namespace, per tenant, in arrival order; a turn takes the next
    namespace, its next tenant and that tenant's first waiter, then moves both to the back."""

    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, deque[asyncio.Future[None]]]] = {}

    def push(self, who: Who, future: asyncio.Future[None]) -> None:
        namespace, tenant = who
        self._namespaces.setdefault(namespace, {}).setdefault(tenant, deque()).append(future)

    def pop(self) -> asyncio.Future[None] | None:
        """The next waiter still waiting (cancelled ones are dropped on the way), or None."""
        while self._namespaces:
            namespace, tenants = next(iter(self._namespaces.items()))
            del self._namespaces[namespace]
            tenant, queue = next(iter(tenants.items()))
            del tenants[tenant]
            future = None
            while queue and future is None:
                candidate = queue.popleft()
                future = None if candidate.done() else candidate
            if queue:
                tenants[tenant] = queue  # to the back of its namespace
            if tenants:
                self._namespaces[namespace] = tenants  # to the back of the band
            if future is not None:
                return future
        return None


class PrioritySlots:
    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._bands: dict[Any, _Band] = {}
        self._waiting = 0  # counted, not summed: a flood of waiters must not cost O(n) per arrival

    @property
    def waiting(self) -> int:
        return self._waiting

    @asynccontextmanager
    async def slot(self, band: Hashable, who: Who = ("", "")) -> AsyncIterator[None]:
        """Hold one slot for the block. ``band``: lower goes first (comparable with every other
        band used); ``who``: (namespace, tenant), served round-robin within the band."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._bands.setdefault(band, _Band()).push(who, future)
            self._waiting += 1
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed a slot in the same moment as cancelled: pass it on
                else:
                    self._waiting -= 1  # its future stays queued, done: skipped when its turn comes
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._bands:
            band = min(self._bands)  # a handful of bands: a class, a window or three, tried or fresh
            future = self._bands[band].pop()
            if future is None:
                del self._bands[band]
                continue
            self._waiting -= 1
            future.set_result(None)
            return
        self._free += 1
