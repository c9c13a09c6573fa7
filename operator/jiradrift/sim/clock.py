"""Time for the emulator: token expiry and refresh-token reuse windows read this, never ``time``
directly, so tests can jump an hour ahead without sleeping."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to. Thread-safe: the server thread reads it while the
    test thread advances it."""

    def __init__(self, start: float = 1_767_600_000.0) -> None:  # 2026-01-05
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
