"""Jira's paging styles, with the documented defaults and caps.

Oversized page sizes are quietly lowered to the cap and the lowered value is echoed back, as Jira
does; clients must advance by ``len(values)``, not by what they asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jiradrift.sim.errors import JiraError

# spec path (below /rest/api/3) -> (default page size, cap). Caps not documented by Atlassian are
# set to 100 here: Jira clamps those too, and a client must never assume more than it gets.
UNDOCUMENTED_CAP = 100
PAGE_LIMITS: dict[str, tuple[int, int]] = {
    "/project/search": (50, 100),
    "/statuses/search": (200, 200),
    "/screens/tabs": (100, 100),
    "/screens": (100, 100),
    "/field/{fieldId}/context/{contextId}/option": (100, 1000),
    "/screenscheme": (25, 100),
    "/workflows/search": (50, 200),
    "/user/bulk": (10, 100),  # the document's default; the cap is not documented
}
DEFAULT_LIMITS = (50, UNDOCUMENTED_CAP)


def limits_for(spec_path: str) -> tuple[int, int]:
    return PAGE_LIMITS.get(spec_path, DEFAULT_LIMITS)


def int_param(query: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise JiraError(400, f"The '{name}' parameter must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise JiraError(400, f"The '{name}' parameter must be at least {minimum}, got {value}.")
    return value


@dataclass(frozen=True)
class PageRequest:
    start_at: int
    max_results: int


def page_request(query: Mapping[str, str], spec_path: str, *, size_param: str = "maxResults") -> PageRequest:
    default, cap = limits_for(spec_path)
    start_at = int_param(query, "startAt", 0)
    size = int_param(query, size_param, default)
    # maxResults=0 is legal in Jira and returns only the counts.
    return PageRequest(start_at, min(size, cap))


def page_bean(
    items: Sequence[Any],
    page: PageRequest,
    *,
    self_url: str,
    query: Mapping[str, str],
    total_bump: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An offset PageBean: ``{self, nextPage, maxResults, startAt, total, isLast, values}``."""
    total = len(items)
    values = list(items[page.start_at : page.start_at + page.max_results])
    is_last = page.start_at + len(values) >= total
    body: dict[str, Any] = {"self": _with_query(self_url, query)}
    if not is_last:
        nxt = dict(query)
        nxt["startAt"] = str(page.start_at + len(values))
        body["nextPage"] = _with_query(self_url, nxt)
    body.update(
        {
            "maxResults": page.max_results,
            "startAt": page.start_at,
            "total": total + total_bump,
            "isLast": is_last,
            "values": values,
        }
    )
    if extra:
        body.update(extra)
    return body


def _with_query(url: str, query: Mapping[str, str]) -> str:
    return f"{url}?{urlencode(list(query.items()))}" if query else url
