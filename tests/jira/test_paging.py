"""Paging math and every paging style, against a scripted page source (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from jiradrift.jira.errors import MalformedResponse
from jiradrift.jira.paging import audit_pages, batches, next_offset, offset_pages, token_pages


class Pages:
    """Answers get_json from a function of (path, params) and records the calls."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    async def get_json(self, path: str, params: Any = None) -> Any:
        query = dict(params or [])
        self.calls.append(query)
        return self.answer(query)


def bean(
    items: list[int], start: int, size: int, *, cap: int = 50, total: Any = "auto", is_last: Any = "auto"
) -> dict[str, Any]:
    size = min(size, cap)
    values = items[start : start + size]
    page: dict[str, Any] = {"startAt": start, "maxResults": size, "values": values}
    if total == "auto":
        page["total"] = len(items)
    elif total is not None:
        page["total"] = total
    if is_last == "auto":
        page["isLast"] = start + len(values) >= len(items)
    elif is_last is not None:
        page["isLast"] = is_last
    return page


async def collect(pages: Any) -> list[Any]:
    out: list[Any] = []
    async for page in pages:
        out.extend(page)
    return out


def test_next_offset_rules() -> None:
    assert next_offset({"isLast": True}, 0, 50) is None
    assert next_offset({"isLast": False, "total": 10}, 0, 50) == 50  # isLast wins over a stale total
    assert next_offset({"total": 120}, 50, 50) == 100
    assert next_offset({"total": 100}, 50, 50) is None
    assert next_offset({}, 0, 0) is None  # empty page
    assert next_offset({"maxResults": 50}, 0, 20) is None  # short page with no isLast/total
    assert next_offset({"maxResults": 50}, 0, 50) == 50


async def test_clamped_cap_advances_by_real_length() -> None:
    items = list(range(237))
    src = Pages(lambda q: bean(items, q["startAt"], q["maxResults"], cap=50))
    assert await collect(offset_pages(src, "/x", page_size=1000)) == items
    assert [c["startAt"] for c in src.calls] == [0, 50, 100, 150, 200]
    assert all(c["maxResults"] == 1000 for c in src.calls)


async def test_quietly_lowered_cap_mid_scan() -> None:
    items = list(range(100))
    src = Pages(lambda q: bean(items, q["startAt"], q["maxResults"], cap=40 if q["startAt"] == 0 else 7))
    assert await collect(offset_pages(src, "/x")) == items


async def test_changing_total_does_not_stop_early_or_loop() -> None:
    items = list(range(130))
    # total shrinks below what is left while isLast keeps saying "more"
    src = Pages(lambda q: bean(items, q["startAt"], q["maxResults"], total=10 + q["startAt"]))
    assert await collect(offset_pages(src, "/x")) == items
    # no isLast, total grows as we page: we follow the newest total
    grow = list(range(75))
    src2 = Pages(lambda q: bean(grow, q["startAt"], q["maxResults"], total=60 + q["startAt"] // 50 * 15, is_last=None))
    assert await collect(offset_pages(src2, "/x")) == grow


async def test_empty_page_stops_even_without_is_last() -> None:
    src = Pages(lambda q: {"values": [1, 2] if q["startAt"] == 0 else [], "maxResults": 2})
    assert await collect(offset_pages(src, "/x", page_size=2)) == [1, 2]
    assert len(src.calls) == 2


async def test_screens_tabs_uses_max_result() -> None:
    items = list(range(150))
    src = Pages(lambda q: bean(items, q["startAt"], q["maxResult"], cap=100))
    assert (
        await collect(offset_pages(src, "/screens/tabs", [("screenId", 1)], page_size=100, size_param="maxResult"))
        == items
    )
    assert "maxResults" not in src.calls[0] and src.calls[0]["maxResult"] == 100


async def test_token_pages() -> None:
    chunks = {None: ([1, 2], "t1"), "t1": ([3], "t2"), "t2": ([4], None)}
    src = Pages(
        lambda q: {
            "values": chunks[q.get("nextPageToken")][0],
            "nextPageToken": chunks[q.get("nextPageToken")][1],
        }
    )
    assert await collect(token_pages(src, "/x")) == [1, 2, 3, 4]
    nested = Pages(lambda q: {"statusId": "1", "projects": {"values": [9], "nextPageToken": None}})
    assert await collect(token_pages(nested, "/statuses/1/projectUsages", container="projects")) == [9]


async def test_audit_pages() -> None:
    records = list(range(2500))
    src = Pages(
        lambda q: {
            "offset": q["offset"],
            "limit": q["limit"],
            "total": 2500,
            "records": records[q["offset"] : q["offset"] + q["limit"]],
        }
    )
    assert await collect(audit_pages(src, "/auditing/record")) == records
    assert [c["offset"] for c in src.calls] == [0, 1000, 2000]


async def test_wrong_shape_is_malformed() -> None:
    src = Pages(lambda q: ["not", "a", "page"])
    with pytest.raises(MalformedResponse, match="/x"):
        await collect(offset_pages(src, "/x"))


def test_batches() -> None:
    assert list(batches(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batches([], 3)) == []
