"""Jira Cloud's burst limit, emulated: at most N requests per second per endpoint and method.

Off by default (tests decide). With it on, a client that does not pace itself per endpoint gets
``429`` with ``Retry-After: 1`` and ``RateLimit-Reason: jira-burst-based``, as Jira answers
(jira-api.md 3.1-3.2), so "no 429 storm" in a benchmark is a measurement, not a tautology.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class BurstLimiter:
    """A sliding one-second window per operation (``"GET /rest/api/3/field"``)."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second < 1:
            raise ValueError("a burst limit must allow at least one request per second")
        self.per_second = per_second
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self.rejected = 0

    def admit(self, operation: str) -> bool:
        now = self._clock()
        window = self._seen.setdefault(operation, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.per_second:
            self.rejected += 1
            return False
        window.append(now)
        return True
