"""Process-wide memory budgets: one for every response in flight in the process, whatever tenant it
belongs to (:class:`ByteBudget`), one for the manifest items of every capture (:class:`ItemBudget`).

    budget = ByteBudget(128 * MiB)            # one per process: the operator's, or the CLI's
    async with budget.claim("GET", url) as claim:
        body = await read_body(chunks, encoding, limits.max_body_bytes, "GET", url, claim)
        await claim.take(parse_cost(body))    # what the parsed JSON may cost, before parsing
        data = loads_json(body, ...)
    # the claim is released: the bytes go back to the budget

A per-response cap alone does not bound a process: 29 gzip answers of 31 MiB each, read at once,
hold 900 MiB. Every bounded read therefore takes its decoded bytes from this budget *before* it
inflates them, and waits while the budget is spent. A wait cannot last for ever: when every byte of
the budget is held by readers that are themselves waiting for more (none can finish, so none will
give any back), the waiter holding the most is refused with :class:`MemoryBudgetExceeded` and its
bytes go to the others. A wait also counts against the request's deadline.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

from jiradrift.jira.errors import MemoryBudgetExceeded

MiB = 1024 * 1024
# What one parsed JSON value may cost in Python beyond its own bytes (a dict is 64 bytes, a list
# slot 8): a body of ``{}`` repeated parses to twenty times its size.
VALUE_COST = 72


def parse_cost(body: bytes) -> int:
    """An upper estimate of the memory ``orjson.loads(body)`` allocates: the bytes themselves (strings
    and numbers) plus ``VALUE_COST`` per value (values are separated by commas or open a container)."""
    values = body.count(b",") + body.count(b"[") + body.count(b"{") + 1
    return len(body) + VALUE_COST * values


def size_text(n: int) -> str:
    """``n`` bytes for a message: "32.0 MiB", or "512 bytes" below a MiB."""
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


class ByteBudget:
    """Bytes of responses being read and parsed, across every client of the process."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ByteBudget capacity must be positive, got {capacity!r}")
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self.refused = 0  # claims refused to end a deadlock
        self._waiting: deque[Claim] = deque()

    def claim(self, method: str, url: str) -> Claim:
        """A claim on the budget for one response, empty until it takes bytes; released on exit."""
        return Claim(self, method, url)

    # -- bookkeeping, shared by the claims ----------------------------------------------------------

    def _grant(self, claim: Claim, n: int) -> None:
        self.used += n
        claim.held += n
        self.peak = max(self.peak, self.used)

    def _settle(self) -> None:
        """Hand freed bytes to the waiters in order; then break a deadlock if there is one."""
        while self._waiting:
            head = self._waiting[0]
            if self.used + head.need > self.capacity:
                break
            self._waiting.popleft()
            self._grant(head, head.need)
            head.wake(None)
        if not self._waiting:
            return
        held_by_waiters = sum(c.held for c in self._waiting)
        if held_by_waiters < self.used:
            return  # a reader that is not waiting holds bytes: it will finish and give them back
        victim = max(self._waiting, key=lambda c: c.held)
        self._waiting.remove(victim)
        self.refused += 1
        victim.wake(
            MemoryBudgetExceeded(
                victim.method,
                victim.url,
                f"the responses in flight hold the whole {size_text(self.capacity)} response memory budget of the "
                f"process and all wait for more; this one (holding {size_text(victim.held)}, asking "
                f"{size_text(victim.need)} more) was abandoned",
            )
        )


class Claim:
    """The bytes one response holds in a :class:`ByteBudget`."""

    def __init__(self, budget: ByteBudget, method: str, url: str) -> None:
        self.budget = budget
        self.method = method
        self.url = url
        self.held = 0
        self.need = 0
        self._wakeup: asyncio.Future[None] | None = None

    async def take(self, n: int) -> None:
        """Take ``n`` more bytes, waiting while the budget is spent (see the module doc)."""
        budget = self.budget
        if n <= 0:
            return
        if self.held + n > budget.capacity:
            raise MemoryBudgetExceeded(
                self.method,
                self.url,
                f"the response needs more than the process's whole {size_text(budget.capacity)} response memory budget",
            )
        if not budget._waiting and budget.used + n <= budget.capacity:
            budget._grant(self, n)
            return
        self.need = n
        self._wakeup = asyncio.get_running_loop().create_future()
        budget._waiting.append(self)
        budget._settle()
        try:
            await self._wakeup
        except BaseException:
            if self in budget._waiting:
                budget._waiting.remove(self)
                budget._settle()
            raise
        finally:
            self._wakeup = None

    def give_back(self, n: int) -> None:
        """Return ``n`` of the bytes held (an inflate step produced less than it reserved)."""
        n = min(n, self.held)
        if n > 0:
            self.held -= n
            self.budget.used -= n
            self.budget._settle()

    def wake(self, error: BaseException | None) -> None:
        wakeup = self._wakeup
        if wakeup is None or wakeup.done():
            return
        if error is None:
            wakeup.set_result(None)
        else:
            wakeup.set_exception(error)

    async def __aenter__(self) -> Claim:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.give_back(self.held)


class ItemBudget:
    """Manifest items held by every capture of the process, whatever tenant it belongs to.

        items = ItemBudget(200_000)               # one per process, as the ByteBudget
        if not items.take(1): ...                 # the capture stops Incomplete (CaptureBounds.item)
        items.give_back(n)                        # the capture's manifest was stored: its items return

    The item bound of one capture (``max_capture_items``) does not bound the process: 64 captures
    of a site whose listings never end hold 64 x 200,000 manifest entries (about 3 GB). A capture
    takes one item from this budget for each entry its manifest gains and gives them all back when
    it ends. It never waits: a manifest is held for the whole capture (minutes, not the
    milliseconds of a response), so captures waiting for each other's items would deadlock; a
    capture that finds the budget spent ends Incomplete at once, keeps what it read and is retried
    at its next window.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ItemBudget capacity must be positive, got {capacity!r}")
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self.refused = 0  # captures stopped because the budget was spent

    def take(self, n: int) -> bool:
        """Take ``n`` items; False (and nothing taken) when fewer than ``n`` are left."""
        if self.used + n > self.capacity:
            self.refused += 1
            return False
        self.used += n
        self.peak = max(self.peak, self.used)
        return True

    def give_back(self, n: int) -> None:
        self.used = max(0, self.used - n)
