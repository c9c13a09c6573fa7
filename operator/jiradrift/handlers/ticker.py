"""This replica's tenants, reconciled by one task: each tenant it owns once per interval, and at
once when it first sees the tenant or its spec changes.

    ticker = TenantTicker(reconcile, interval=30.0, concurrency=16)
    ticker.observe("team-a/acme", generation)   # from every watch event of the JiraTenant
    await ticker.run(owned_tenants, stop)         # until stop is set

Not a kopf timer per tenant: kopf runs every timer for every object it watches, in every replica
(a task per object, and a finalizer put on each so the timer can be stopped), so N replicas
sharing T tenants each paid for all T, and the work of 3 replicas sharing 3,000 tenants did not
fit two cores. Here a replica pays only for the tenants it owns; the others cost a dictionary
entry. Nor kopf's change handlers (on.create, on.update): they record "handled" in the object's
annotations, a write per change in whichever replica gets there first, owner or not.

``reconcile(key, force)`` never runs twice at once for one tenant; ``force`` asks for a fresh site
check (a tenant newly owned, or a new spec generation). A reconcile that raises is logged by
the caller's function and tried again an interval later, never in a tight loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection

from jiradrift.handlers.schedule import decide_tick

log = logging.getLogger("jiradrift.tenant")

Reconcile = Callable[[str, bool], Awaitable[None]]
MAX_SLEEP_SECONDS = 1.0  # how long the loop sleeps at most: ownership can change under it


class TenantTicker:
    """When each owned tenant is due, and the tasks that reconcile the due ones."""

    def __init__(
        self,
        reconcile: Reconcile,
        *,
        interval: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._reconcile = reconcile
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._due: dict[str, float] = {}  # owned tenant -> when its next reconcile is due
        self._generations: dict[str, int] = {}  # tenant -> the spec generation last observed
        self._forced: set[str] = set()  # tenants to reconcile now, with a site check
        self._busy: set[str] = set()
        self._again: set[str] = set()  # busy tenants nudged while their reconcile ran
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def observe(self, tenant: str, generation: int) -> None:
        """A watch event of ``tenant``: a spec generation not seen before makes it due now."""
        if self._generations.get(tenant) == generation:
            return  # a status write (ours, the token job's), a label: nothing to reconcile for
        self._generations[tenant] = generation
        self._forced.add(tenant)
        self._wake.set()

    def nudge(self, tenant: str) -> None:
        """One of the tenant's Snapshots just ended: reconcile it now (without a site check) instead
        of at its next tick, so ``Drifted`` follows the Snapshot within seconds. Only a tenant this
        replica reconciles already (one it has a due time for); a running reconcile is followed
        by another as soon as it ends, and a burst of endings coalesces into one."""
        if tenant not in self._due and tenant not in self._busy:
            return  # not (yet) reconciled here: the first tick reads everything anyway
        if tenant in self._busy:
            self._again.add(tenant)
            return
        self._due[tenant] = min(self._due[tenant], self._clock())
        self._wake.set()

    def forget(self, tenant: str) -> None:
        """The tenant is gone."""
        self._generations.pop(tenant, None)
        self._due.pop(tenant, None)
        self._forced.discard(tenant)
        self._again.discard(tenant)

    def take_due(self, owned: Collection[str], now: float) -> list[tuple[str, bool]]:
        """The owned tenants to reconcile now (``handlers/schedule.decide_tick``), each with whether
        to force a site check; marks them busy. A tenant newly owned (first seen, or gained from
        another replica) is due at once, and checked afresh (or trusts a status that shows its
        generation checked: handlers/tenant.py): what this process remembers of it may be from
        long ago."""
        owned_set = set(owned)
        self._forced &= owned_set  # a tenant another replica owns is that replica's to check
        for tenant in [t for t in self._due if t not in owned_set]:
            del self._due[tenant]  # lost: due at once if it ever comes back
        due: list[tuple[str, bool]] = []
        for tenant in owned_set - self._busy:
            tick = decide_tick(forced=tenant in self._forced, due_at=self._due.get(tenant), now=now)
            if tick.due:
                self._forced.discard(tenant)
                self._busy.add(tenant)
                due.append((tenant, tick.check_site))
        return due

    def _next_wake(self, now: float) -> float:
        idle = [at for tenant, at in self._due.items() if tenant not in self._busy]
        return max(0.0, min([now + MAX_SLEEP_SECONDS, *idle]) - now)

    async def run(self, owned: Callable[[], Collection[str]], stop: asyncio.Event) -> None:
        """Reconcile due tenants until ``stop`` is set; then wait for those running."""
        try:
            while not stop.is_set():
                now = self._clock()
                for tenant, forced in self.take_due(owned(), now):
                    task = asyncio.create_task(self._one(tenant, forced), name=f"tenant {tenant}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self._wake.clear()
                stopped = asyncio.ensure_future(stop.wait())
                woken = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait(
                        {stopped, woken}, timeout=self._next_wake(self._clock()), return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    stopped.cancel()
                    woken.cancel()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _one(self, tenant: str, forced: bool) -> None:
        try:
            async with self._slots:
                await self._reconcile(tenant, forced)
        except Exception:
            log.exception("reconciling JiraTenant %s failed; trying again in %.0fs", tenant, self.interval)
        finally:
            self._busy.discard(tenant)
            self._due[tenant] = self._clock() + self.interval
            if tenant in self._again:  # a Snapshot ended while it ran: once more, now
                self._again.discard(tenant)
                self._due[tenant] = self._clock()
                self._wake.set()
            if tenant in self._forced:  # the spec changed while it ran
                self._wake.set()
