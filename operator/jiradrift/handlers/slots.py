"""Capture slots: at most N captures at once, the oldest window first.

    slots = PrioritySlots(32)
    async with slots.slot("2026-12-01T10:00:00Z"):   # a Snapshot's windowStart
        ...

An ``asyncio.Semaphore`` serves waiters in arrival order. When a replica dies mid-window, the
survivors take over its tenants just as the next window opens; in arrival order that window's
thousand new captures went ahead of the dead replica's unfinished ones, which finished only after
the next window's (bench/scale_bench.py --kill-one, 3 replicas x 3,000 tenants). Here the waiter
with the lowest priority (the oldest window) gets the next free slot; equal priorities keep
arrival order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PrioritySlots:
    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    @asynccontextmanager
    async def slot(self, priority: str) -> AsyncIterator[None]:
        """Hold one slot for the block; ``priority``: lower goes first (an ISO time sorts as its time)."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._order), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed a slot in the same moment as cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # a cancelled waiter left its future done
                future.set_result(None)
                return
        self._free += 1
