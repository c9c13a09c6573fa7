"""Bounds on one capture as a whole: listing pages and items across all its sources, and a deadline.

    bounds = CaptureBounds(limits, "priorities", items)   # items: the process's ItemBudget
    reader = BoundedReader(jira, bounds)        # every read of the capture goes through it
    ...
    if bounds.stopped: ...                      # the capture ends Incomplete with this reason
    bounds.release()                            # stored: its items go back to the process

Per-listing caps (:class:`~jiradrift.jira.paging.ListingGuard`) stop one runaway listing; a site
whose every listing runs away would still multiply them. These stop the capture: the first bound
passed is recorded in :attr:`CaptureBounds.stopped`, ``stop_event`` is set (the capture cancels its
sources on it), and every later read of the capture fails at once with the same reason. The
manifests of all captures of the process together are bounded by a shared
:class:`~jiradrift.jira.budget.ItemBudget` (``max_process_items``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from jiradrift.jira.budget import ItemBudget
from jiradrift.jira.errors import CaptureLimitExceeded
from jiradrift.jira.limits import DEFAULT_LIMITS, ResponseLimits

# A listing's first pages are free of the capture's page bound: a genuine capture reads thousands
# of short listings (one per field, per screen tab); only pages past this many count.
LONG_LISTING_PAGES = 20


def item_budget_of(client: object) -> ItemBudget | None:
    """The process's manifest item budget the client draws from (a scripted test source has none)."""
    items = getattr(client, "item_budget", None)
    return items if isinstance(items, ItemBudget) else None


def limits_of(client: object) -> ResponseLimits:
    """The client's ``settings.limits`` (a scripted test source has none: the defaults)."""
    limits = getattr(getattr(client, "settings", None), "limits", None)
    return limits if isinstance(limits, ResponseLimits) else DEFAULT_LIMITS


class CaptureBounds:
    """What one capture has used of its bounds (``ResponseLimits.max_capture_*``, ``capture_deadline``)."""

    def __init__(self, limits: ResponseLimits, what: str, items: ItemBudget | None = None) -> None:
        """``what``: the snapshot type captured (it names the capture in messages and picks the page bound);
        ``items``: the process's manifest item budget, which every item of the capture draws from until
        :meth:`release`."""
        self.limits = limits
        self.item_budget = items
        self.held = 0  # items taken from item_budget
        self.what = what
        self.pages = 0
        self.max_pages = limits.capture_pages(what)
        self.items = 0
        self.ends = asyncio.get_running_loop().time() + limits.capture_deadline
        self.stopped: CaptureLimitExceeded | None = None
        self.stop_event = asyncio.Event()

    def remaining(self) -> float:
        return self.ends - asyncio.get_running_loop().time()

    def stop(self, method: str, url: str, what: str) -> CaptureLimitExceeded:
        """Record the first bound passed (later ones keep it) and return the error to raise."""
        if self.stopped is None:
            self.stopped = CaptureLimitExceeded(method, url, what)
            self.stop_event.set()
        return self.stopped

    def check(self, method: str, url: str) -> None:
        if self.stopped is not None:
            raise CaptureLimitExceeded(method, url, f"not read: {self.stopped.what}")
        if self.remaining() <= 0:
            raise self.deadline_passed(method, url)

    def deadline_passed(self, method: str, url: str) -> CaptureLimitExceeded:
        return self.stop(
            method, url, f"the {self.what} capture had not ended within its {self.limits.capture_deadline:g} s deadline"
        )

    def page(self, path: str, page: int) -> None:
        """Page number ``page`` of a listing was read: past ``LONG_LISTING_PAGES`` it counts."""
        if page <= LONG_LISTING_PAGES:
            return
        self.pages += 1
        if self.pages > self.max_pages:
            raise self.stop(
                "GET",
                path,
                f"the {self.what} capture read more than {self.max_pages} pages of long listings "
                f"(past the {LONG_LISTING_PAGES}th page of each, all its listings together)",
            )

    def item(self) -> None:
        """One more item in the capture's manifest."""
        self.items += 1
        if self.items > self.limits.max_capture_items:
            raise self.stop("GET", self.what, f"the {self.what} capture passed {self.limits.max_capture_items} items")
        budget = self.item_budget
        if budget is None:
            return
        if not budget.take(1):
            raise self.stop(
                "GET",
                self.what,
                f"the manifests of all captures in this process hold the whole budget of {budget.capacity} items "
                f"(--max-process-items; chart value operator.siteLimits.maxProcessItems); the {self.what} capture "
                f"stopped at {self.items - 1} items and is retried at its next window",
            )
        self.held += 1

    def release(self) -> None:
        """The capture's manifest was stored (or dropped): its items go back to the process's budget."""
        if self.item_budget is not None and self.held:
            self.item_budget.give_back(self.held)
        self.held = 0


class BoundedReader:
    """A client whose reads count against one capture's :class:`CaptureBounds` and end at its deadline.

    Everything else (``settings``, ``stats``, ``site``) is the wrapped client's."""

    def __init__(self, client: Any, bounds: CaptureBounds) -> None:
        self._client = client
        self.capture_bounds = bounds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def _bounded(self, method: str, path: str, call: Any) -> Any:
        bounds = self.capture_bounds
        try:
            bounds.check(method, path)
        except CaptureLimitExceeded:
            call.close()  # the coroutine was never awaited
            raise
        timer = asyncio.timeout(bounds.remaining())
        try:
            async with timer:
                return await call
        except TimeoutError:
            if timer.expired():
                raise bounds.deadline_passed(method, path) from None
            raise

    async def get_json(self, path: str, params: Any = None) -> Any:
        return await self._bounded("GET", path, self._client.get_json(path, params))

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any:
        return await self._bounded("POST", path, self._client.post_read(path, body, params))
