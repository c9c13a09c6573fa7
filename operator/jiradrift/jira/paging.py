"""Every pagination style Jira uses for configuration, as async iterators of pages (lists of items).

Only the current page is held; callers stream items out of it. All loops are bounded, and a site
cannot keep one going: every listing stops with :class:`RunawayListing` (an error, never "complete")
after ``max_pages`` pages (``ResponseLimits.max_pages`` of the client, 5,000 by default) or at its
``listing_deadline`` (600 s), when a cursor points back at one already followed, when a page
repeats the items of an earlier one (a site ignoring ``startAt``), when pages keep coming beyond
the ``total`` the site announced, or when that ``total`` is more than a capture may hold. Read
through a capture's :class:`~jiradrift.jira.bounds.BoundedReader`, pages also count against the
capture's own bounds.

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

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from jiradrift.jira.bounds import CaptureBounds, limits_of
from jiradrift.jira.errors import MalformedResponse, RunawayListing
from jiradrift.jira.limits import deadline

T = TypeVar("T")
ParamList = list[tuple[str, str | int | bool]]


class JsonSource(Protocol):
    async def get_json(self, path: str, params: Any = None) -> Any: ...


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        for key in ("id", "key", "name"):
            if key in item:
                return item[key]
    return item


#: How often a listing's ``total`` may grow while it is read (objects created meanwhile) before the
#: listing counts as one that never ends.
MAX_TOTAL_GROWTHS = 10


class ListingGuard:
    """Ends a listing the site would never end. Remembers a 16-byte fingerprint per page and the
    cursors followed, both bounded by the page cap. With ``seconds`` the listing as a whole (every
    page, with its retries) has that deadline; with ``capture`` its pages count against the
    capture's bounds too."""

    def __init__(
        self,
        path: str,
        max_pages: int,
        *,
        seconds: float | None = None,
        capture: CaptureBounds | None = None,
        max_items: int | None = None,
    ) -> None:
        self.path = path
        self.max_pages = max_pages
        self.max_items = max_items  # the most a capture may hold: a total above it can never be read
        self.pages = 0
        self._seen: dict[bytes, int] = {}
        self._cursors: set[str] = set()
        self._beyond_total = 0
        self._totals: list[int] = []  # the total of each page that grew it (a growing total: the listing never ends)
        self.seconds = seconds
        self._ends = None if seconds is None else time.monotonic() + seconds
        self.capture = capture

    @classmethod
    def of(cls, client: object, path: str) -> ListingGuard:
        """The guard of a listing read through ``client``, with its limits and capture bounds."""
        limits = limits_of(client)
        bounds = getattr(client, "capture_bounds", None)
        return cls(
            path,
            limits.max_pages,
            seconds=limits.listing_deadline,
            capture=bounds if isinstance(bounds, CaptureBounds) else None,
            max_items=limits.max_capture_items,
        )

    async def fetch(self, page: Awaitable[T]) -> T:
        """Await one page's read, within what is left of the listing's deadline."""
        if self._ends is None:
            return await page
        what = f"the listing had not ended within its {self.seconds:g} s deadline ({self.pages} pages read)"
        async with deadline(max(0.0, self._ends - time.monotonic()), "GET", self.path, what):
            return await page

    def _stop(self, what: str) -> RunawayListing:
        return RunawayListing("GET", self.path, what)

    def page(self, values: list[Any]) -> None:
        """Account for one more page of ``values``."""
        self.pages += 1
        if self.capture is not None:
            self.capture.page(self.path, self.pages)
        if not values:
            return
        ids = orjson.dumps([_identity(v) for v in values], default=str)
        fingerprint = hashlib.blake2b(ids, digest_size=16).digest()
        earlier = self._seen.setdefault(fingerprint, self.pages)
        if earlier != self.pages:
            raise self._stop(
                f"page {self.pages} repeats the items of page {earlier}: the site serves the same page again "
                "(it ignores startAt or its pages loop)"
            )

    def more(self) -> None:
        """Before fetching another page."""
        if self.pages >= self.max_pages:
            raise self._stop(
                f"the listing had not ended after {self.max_pages} pages (isLast never true): "
                "no Jira configuration list is that long"
            )

    def cursor(self, token: str) -> None:
        if token in self._cursors:
            raise self._stop(f"nextPageToken {token[:40]!r} points back at a page already read: a cursor loop")
        self._cursors.add(token)

    def beyond_total(self, start_at: int, total: Any, count: int) -> None:
        """A page starting at or past the announced ``total`` that still says more is coming: allowed
        once (a total can go stale while an admin edits), not twice. A total that grows page after
        page while ``isLast`` stays false is a listing that runs away from its reader: an admin adding
        objects while we read grows it a few times, not :data:`MAX_TOTAL_GROWTHS` times. A total
        above what a capture may hold (``max_capture_items``) is never read to its end: the listing
        stops at once instead of paging until a page or time bound stops it (minutes of pages for a
        constant total of a billion)."""
        if isinstance(total, int) and self.max_items is not None and total > self.max_items:
            raise self._stop(
                f"the site announced total={total} items, more than a capture may hold ({self.max_items}, "
                "--max-capture-items): no Jira configuration list is that long, and this one could never be "
                "read to its end"
            )
        if isinstance(total, int):
            if self._totals and total > self._totals[-1]:
                self._totals.append(total)
                if len(self._totals) > MAX_TOTAL_GROWTHS:
                    raise self._stop(
                        f"the total grew on {len(self._totals) - 1} pages (from {self._totals[0]} to {total}) while "
                        "isLast stayed false: the listing does not end"
                    )
            elif not self._totals:
                self._totals.append(total)
        if isinstance(total, int) and count and start_at >= total:
            self._beyond_total += 1
            if self._beyond_total > 1:
                raise self._stop(
                    f"the site said total={total} but served items from startAt={start_at} on and isLast is "
                    "still false: the total lies"
                )


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
    guard = ListingGuard.of(client, path)
    while True:
        if page is None:
            guard.more()
            fetched: Any = await guard.fetch(
                client.get_json(path, [*base, ("startAt", start_at), (size_param, page_size)])
            )
            page = fetched
        values = _items(page, items_key, path)
        guard.page(values)
        if values:
            yield values
        following = next_offset(page, start_at, len(values))
        if following is None:
            return
        guard.beyond_total(start_at, page.get("total"), len(values))
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
    guard = ListingGuard.of(client, path)
    while True:
        guard.more()
        query = [*base, ("maxResults", page_size)] + ([("nextPageToken", token)] if token else [])
        page = await guard.fetch(client.get_json(path, query))
        holder = page.get(container) if container and isinstance(page, dict) else page
        values = _items(holder, items_key, path)
        guard.page(values)
        if values:
            yield values
        token = holder.get("nextPageToken") if isinstance(holder, dict) else None
        if not token or not values:
            return
        guard.cursor(str(token))


async def audit_pages(
    client: JsonSource, path: str, params: ParamList | None = None, *, limit: int = 1000
) -> AsyncIterator[list[Any]]:
    """The audit log: ``offset``/``limit`` with ``records`` and ``total``."""
    base = list(params or [])
    offset = 0
    guard = ListingGuard.of(client, path)
    while True:
        guard.more()
        page = await guard.fetch(client.get_json(path, [*base, ("offset", offset), ("limit", limit)]))
        records = _items(page, "records", path)
        guard.page(records)
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
