"""Every pagination style Jira uses for configuration, as async iterators of pages (lists of items).

Only the current page is held; callers stream items out of it. All loops are bounded.

- :func:`offset_pages`: the PageBean (``startAt``/``maxResults``/``total``/``isLast``/``values``),
  including ``/screens/tabs`` whose size parameter is ``maxResult``. Advances by the real page
  length (servers clamp ``maxResults`` silently), stops on ``isLast``, an empty page, or
  ``startAt >= total`` (``total`` may change while paging, so it never stops a scan that
  ``isLast: false`` says should continue).
- :func:`token_pages`: ``nextPageToken`` cursors.
- :func:`audit_pages`: the audit log's ``offset``/``limit`` with ``records``.
- :func:`plain_list` / :func:`wrapped_list`: unpaged arrays and single objects wrapping an array.
- :func:`batches`: fixed-size id batches for bulk reads (``POST /workflows``) and id filters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from jiradrift.jira.errors import MalformedResponse

MAX_PAGES = 100_000  # a runaway guard: no Jira configuration list has 100k pages

T = TypeVar("T")
ParamList = list[tuple[str, str | int | bool]]


class JsonSource(Protocol):
    async def get_json(self, path: str, params: Any = None) -> Any: ...


def next_offset(page: dict[str, Any], start_at: int, count: int) -> int | None:
    """The ``startAt`` of the next page, or None when this page was the last one.

    Pure: the whole stopping rule of jira-api.md section 2 in one place.
    """
    if count == 0:
        return None
    following = start_at + count
    is_last = page.get("isLast")
    if is_last is True:
        return None
    if is_last is False:
        return following  # Jira says more is coming, whatever a (changing) total claims
    total = page.get("total")
    if isinstance(total, int):
        return None if following >= total else following
    echoed = page.get("maxResults")
    if isinstance(echoed, int) and count < echoed:
        return None  # no isLast, no total: a short page is the last page
    return following


def _items(page: Any, items_key: str, path: str) -> list[Any]:
    if not isinstance(page, dict):
        raise MalformedResponse("GET", path, f"expected a page object with {items_key!r}, got {type(page).__name__}")
    values = page.get(items_key)
    if values is None:
        return []
    if not isinstance(values, list):
        raise MalformedResponse("GET", path, f"{items_key!r} is not a list")
    return values


async def offset_pages(
    client: JsonSource,
    path: str,
    params: ParamList | None = None,
    *,
    page_size: int = 1000,
    size_param: str = "maxResults",
    items_key: str = "values",
    first_page: dict[str, Any] | None = None,
) -> AsyncIterator[list[Any]]:
    """Yield the item lists of an offset PageBean, one page at a time."""
    base = list(params or [])
    start_at = 0
    page = first_page
    for _ in range(MAX_PAGES):
        if page is None:
            page = await client.get_json(path, [*base, ("startAt", start_at), (size_param, page_size)])
        values = _items(page, items_key, path)
        if values:
            yield values
        following = next_offset(page, start_at, len(values))
        if following is None:
            return
        start_at, page = following, None


async def token_pages(
    client: JsonSource,
    path: str,
    params: ParamList | None = None,
    *,
    page_size: int = 200,
    container: str | None = None,
    items_key: str = "values",
) -> AsyncIterator[list[Any]]:
    """``nextPageToken`` paging; ``container`` names the nested object holding token and values, if any."""
    base = list(params or [])
    token: str | None = None
    for _ in range(MAX_PAGES):
        query = [*base, ("maxResults", page_size)] + ([("nextPageToken", token)] if token else [])
        page = await client.get_json(path, query)
        holder = page.get(container) if container and isinstance(page, dict) else page
        values = _items(holder, items_key, path)
        if values:
            yield values
        token = holder.get("nextPageToken") if isinstance(holder, dict) else None
        if not token or not values:
            return


async def audit_pages(
    client: JsonSource, path: str, params: ParamList | None = None, *, limit: int = 1000
) -> AsyncIterator[list[Any]]:
    """The audit log: ``offset``/``limit`` with ``records`` and ``total``."""
    base = list(params or [])
    offset = 0
    for _ in range(MAX_PAGES):
        page = await client.get_json(path, [*base, ("offset", offset), ("limit", limit)])
        records = _items(page, "records", path)
        if records:
            yield records
        offset += len(records)
        total = page.get("total")
        if (
            not records
            or (isinstance(total, int) and offset >= total)
            or len(records) < int(page.get("limit") or limit)
        ):
            return


async def plain_list(client: JsonSource, path: str, params: ParamList | None = None) -> list[Any]:
    data = await client.get_json(path, params)
    if not isinstance(data, list):
        raise MalformedResponse("GET", path, f"expected a JSON array, got {type(data).__name__}")
    return data


async def wrapped_list(client: JsonSource, path: str, key: str, params: ParamList | None = None) -> list[Any]:
    data = await client.get_json(path, params)
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list):
        raise MalformedResponse("GET", path, f"expected an object with a {key!r} array")
    return list(data.get(key) or [])


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def repeat(name: str, values: Sequence[str | int]) -> ParamList:
    """``screenId=1&screenId=2``: Jira's form for array query parameters."""
    return [(name, v) for v in values]
