"""What the emulator was asked, for assertions: a bounded log plus counters per operation."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # as requested, without the query
    query: str
    operation: str  # "GET /rest/api/3/field/{fieldId}/context": the spec operation, or the path
    principal: str | None
    status: int


class RequestLog:
    def __init__(self, maxlen: int = 200_000) -> None:
        self._entries: deque[RequestRecord] = deque(maxlen=maxlen)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._entries.append(record)
            self.counts[record.operation] += 1

    def __iter__(self) -> Iterator[RequestRecord]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, operation: str | None = None, *, status: int | None = None) -> int:
        """Requests for one operation (``"GET /rest/api/3/field"``), optionally with one status."""
        return sum(
            1
            for r in self
            if (operation is None or r.operation == operation) and (status is None or r.status == status)
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.counts.clear()
