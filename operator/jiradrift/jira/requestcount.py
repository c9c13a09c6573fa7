"""Requests counted per capture, though captures share one client.

The client counts every request it sends in its ``stats`` (the tenant's total) and also in the
counter of the capture whose task sent it. A capture sets its counter in a context variable before
it starts its tasks, which inherit it, so concurrent captures of one tenant (``jiradrift snapshot``
captures every type at once over one client) each count only their own requests.
"""

from __future__ import annotations

from contextvars import ContextVar


class RequestCounter:
    """A count of requests; one started inside another's context (a capture inside an incremental
    window) also counts into that ``parent``."""

    __slots__ = ("parent", "value")

    def __init__(self, parent: RequestCounter | None = None) -> None:
        self.value = 0
        self.parent = parent


current_counter: ContextVar[RequestCounter | None] = ContextVar("jiradrift_capture_requests", default=None)


def count_request() -> None:
    counter = current_counter.get()
    while counter is not None:
        counter.value += 1
        counter = counter.parent
