"""A capture's page bound counts only long listings; a listing has a deadline (scripted pages, no network)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from jiradrift.jira.bounds import LONG_LISTING_PAGES, BoundedReader, CaptureBounds
from jiradrift.jira.errors import CaptureLimitExceeded, DeadlineExceeded
from jiradrift.jira.limits import ResponseLimits
from jiradrift.jira.paging import offset_pages


class Endless:
    """A PageBean listing that never ends (fresh ids, isLast false); ``pause`` seconds per page."""

    def __init__(self, limits: ResponseLimits, pause: float = 0.0) -> None:
        self.settings = SimpleNamespace(limits=limits)
        self.pause = pause

    async def get_json(self, path: str, params: Any = None) -> Any:
        start = int(dict(params or [])["startAt"])
        if self.pause:
            await asyncio.sleep(self.pause)
        return {"startAt": start, "isLast": False, "values": [{"id": str(start)}]}


async def read(reader: Any, path: str) -> int:
    pages = 0
    async for _ in offset_pages(reader, path, page_size=1):
        pages += 1
    return pages


async def test_short_listings_are_free_and_long_ones_count_together() -> None:
    limits = ResponseLimits(max_pages=1000, max_capture_pages=30)
    bounds = CaptureBounds(limits, "priorities")
    reader = BoundedReader(Endless(limits), bounds)
    with pytest.raises(CaptureLimitExceeded, match="read more than 30 pages of long listings"):
        await asyncio.gather(read(reader, "/a"), read(reader, "/b"))
    assert bounds.stopped is not None and bounds.stop_event.is_set()
    with pytest.raises(CaptureLimitExceeded, match="not read: the priorities capture read more than 30"):
        await reader.get_json("/c")  # every later read of the capture fails at once
    # only pages past the 20th of each listing counted: 31 of the 2 x 20 + 31 read
    assert bounds.pages == 31 and LONG_LISTING_PAGES == 20


async def test_a_listing_ends_at_its_deadline() -> None:
    limits = ResponseLimits(listing_deadline=0.3)
    with pytest.raises(
        DeadlineExceeded, match=r"the listing had not ended within its 0.3 s deadline \(\d+ pages read\)"
    ):
        await read(Endless(limits, pause=0.05), "/slow")


async def test_a_capture_ends_at_its_deadline() -> None:
    limits = ResponseLimits(capture_deadline=0.2)
    bounds = CaptureBounds(limits, "fields")
    with pytest.raises(CaptureLimitExceeded, match=r"the fields capture had not ended within its 0\.2 s deadline"):
        await read(BoundedReader(Endless(limits, pause=0.05), bounds), "/slow")
