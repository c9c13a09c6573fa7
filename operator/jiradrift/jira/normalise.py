"""Normalisation helpers: make two reads of unchanged configuration byte-identical.

Drop what Jira recomputes (``self``, ``expand``, avatars, usage statistics, versions and
timestamps), strip hosts from icon URLs, sort lists whose order carries no meaning, and keep
the ones whose order is configuration (options, tabs, tab fields, issue-type scheme order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]

# Dropped at every depth (jira-api.md section 1 "Ignore/normalise" and section 8 item 9).
ALWAYS_DROP = frozenset({"self", "expand", "nextPage", "avatarUrls"})
# Usage statistics and activity data: they change without anyone changing configuration.
STATISTICS = frozenset(
    {
        "lastUsed",
        "screensCount",
        "contextsCount",
        "projectsCount",
        "issueCount",
        "insight",
        "popularity",
        "favouritedCount",
        "userCount",
        "remainingSeats",
        "userCountDescription",
        "numberOfSeats",
        "overdue",
        "approximateLastUsed",
        "favourite",
        "isFavourite",
    }
)


def strip_host(url: str) -> str:
    """``https://acme.atlassian.net/images/icons/x.svg?size=m`` -> ``/images/icons/x.svg?size=m``."""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def clean(obj: Json, drop: frozenset[str] = frozenset()) -> Json:
    """Recursively drop ALWAYS_DROP, STATISTICS and ``drop`` keys; strip the host of ``iconUrl``."""
    cleaned: Json = _clean(obj, drop)
    return cleaned


def _clean(value: Any, drop: frozenset[str]) -> Any:
    if isinstance(value, dict):
        out: Json = {}
        for key, item in value.items():
            if key in ALWAYS_DROP or key in STATISTICS or key in drop:
                continue
            if key == "iconUrl" and isinstance(item, str):
                out[key] = strip_host(item)
            else:
                out[key] = _clean(item, drop)
        return out
    if isinstance(value, list):
        return [_clean(item, drop) for item in value]
    return value


def pick(obj: Json, *keys: str) -> Json:
    return {k: obj[k] for k in keys if k in obj}


def omit(obj: Json, *keys: str) -> Json:
    return {k: v for k, v in obj.items() if k not in keys}


def _sort_key(item: Any) -> str:
    if isinstance(item, dict | list):
        import orjson

        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()
    return f"{type(item).__name__}:{item}"


def sorted_list(items: Iterable[Any], key: Callable[[Any], Any] | None = None) -> list[Any]:
    """Sort an unordered list deterministically (by ``key`` or by canonical JSON)."""
    if key is None:
        return sorted(items, key=_sort_key)
    return sorted(items, key=lambda item: (_tuple_key(key(item)), _sort_key(item)))


def _tuple_key(value: Any) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple("" if v is None else str(v) for v in value)
    return ("" if value is None else str(value),)


def is_team_managed(obj: Json) -> bool:
    """Team-managed (project-scoped) objects: ``scope.type != GLOBAL``, or an ``entityId`` beside a scope."""
    scope = obj.get("scope")
    if isinstance(scope, dict) and scope.get("type") not in (None, "GLOBAL"):
        return True
    return False


def stable_id(obj: Json, field: str = "id") -> str:
    value = obj.get(field)
    if value is None or value == "":
        raise KeyError(f"object has no {field!r}: {sorted(obj)[:8]}")
    return str(value)
