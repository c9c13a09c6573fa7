"""Jira Cloud's cost-based rate limit, emulated: points per request and per object returned.

Off by default (tests and benchmarks decide). With a :class:`CostBudget`, every successful answer
costs ``per_request`` points plus ``per_object`` for each object its body returns (error answers are
not charged: they return nothing, and a test counts them on their own), charged against
a budget per fixed window (Jira's quota resets at the UTC hour; here the window is configurable, so
a test can see several resets in seconds). Every answer and every 429 say where the caller stands
(``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-NearLimit: true`` below 20 %);
a request the window cannot pay for is answered ``429`` with ``Retry-After`` (whole seconds to the
reset), ``X-RateLimit-Reset`` and ``RateLimit-Reason: jira-quota-tenant-based`` (jira-api.md 3.2
and 9). The points a window charged never exceed its budget, so a benchmark can check that a client
stayed within it; only a single response costing more than a whole budget is let through, alone in
a fresh window, or it could never be served.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jiradrift.sim.clock import Clock

REASON = "jira-quota-tenant-based"
NEAR_LIMIT_FRACTION = 0.2


def objects_returned(body: Any) -> int:
    """How many objects a response body returns: a top-level list's length, else the longest list
    among its top-level values (``values``, ``records``, ``permissionSchemes`` ...), else one."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        return max((len(v) for v in body.values() if isinstance(v, list)), default=1)
    return 1


@dataclass
class CostBudget:
    """A points budget per ``window_seconds``; thread-safe (the test thread reads the ledger)."""

    points: int
    window_seconds: float = 3600.0
    per_request: int = 1
    per_object: int = 1
    clock: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp())
    charged: dict[int, int] = field(default_factory=dict)  # window index -> points charged
    rejected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.points < 1 or self.window_seconds <= 0:
            raise ValueError("a cost budget needs at least one point and a positive window")

    @classmethod
    def on(
        cls, clock: Clock, points: int | None, window_seconds: float = 3600.0, per_request: int = 1, per_object: int = 1
    ) -> CostBudget | None:
        """A budget on the emulator's clock, or None (no quota) when ``points`` is None or 0."""
        return cls(points, window_seconds, per_request, per_object, clock=clock.now) if points else None

    def cost(self, body: Any) -> int:
        return self.per_request + self.per_object * objects_returned(body)

    def _window(self, now: float) -> int:
        return math.floor(now / self.window_seconds)

    def charge(self, body: Any) -> dict[str, str] | None:
        """Charge for answering with ``body``: the rate-limit headers to send with it, or None when
        the window cannot pay (answer 429 with :meth:`rejection` instead; nothing is charged)."""
        cost = self.cost(body)
        with self._lock:
            now = self.clock()
            window = self._window(now)
            used = self.charged.get(window, 0)
            if used + cost > self.points and used > 0:
                self.rejected += 1
                return None
            self.charged[window] = used = used + cost
            for old in [w for w in self.charged if w < window - 100]:
                del self.charged[old]
        return self._headers(max(0, self.points - used))

    def rejection(self) -> dict[str, str]:
        """Headers of the 429 for a request the current window cannot pay for."""
        now = self.clock()
        reset = (self._window(now) + 1) * self.window_seconds
        headers = self._headers(0)
        headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        headers["X-RateLimit-Reset"] = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%MZ")
        headers["RateLimit-Reason"] = REASON
        return headers

    def _headers(self, remaining: int) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.points), "X-RateLimit-Remaining": str(remaining)}
        if remaining < self.points * NEAR_LIMIT_FRACTION:
            headers["X-RateLimit-NearLimit"] = "true"
        return headers

    def peak(self) -> int:
        """The most points any window charged."""
        with self._lock:
            return max(self.charged.values(), default=0)
