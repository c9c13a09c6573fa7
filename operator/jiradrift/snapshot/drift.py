"""The drift-event listing, with the origin design's paginator semantics.

    page = list_drift_events(StoreDriftSource(store), "acme", cursor=None, limit=100)
    page.items, page.has_more, page.page, page.limit, page.total_count, page.next_cursor

A drift event is one change in one snapshot's stored drift report. Events are ordered newest
snapshot first (``captured_at``, then snapshot id, both descending), then in report order within a
snapshot. ``limit`` is clamped to 1..500 (default 100); ``total_count`` counts every event of the
tenant; ``has_more`` is true only while ``page offset + items < total_count``; ``next_cursor`` is
an opaque token that resumes right after the last item returned (None on the last page).

Only one page of events is ever held: snapshots before the cursor are skipped by their stored
change counts, and only the changes of the page are read from the source.

The cursor is a position (snapshot, index within it), not an offset, so events recorded while a
client pages do not shift or repeat the rest of its walk; a snapshot deleted meanwhile is skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from jiradrift.model.report import Change
from jiradrift.model.store import SnapshotStore

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_CURSOR_VERSION = 1


class InvalidCursor(ValueError):
    """A cursor that this listing did not issue, was altered, or belongs to another listing."""


@dataclass(frozen=True, slots=True)
class SnapshotDrift:
    """A snapshot as the listing sees it: where it sorts and how many events it holds."""

    snapshot_id: str
    tenant: str
    type: str
    captured_at: datetime
    change_count: int

    @property
    def order(self) -> tuple[float, str]:
        return (self.captured_at.timestamp(), self.snapshot_id)


class DriftSource(Protocol):
    """Snapshots newest first with their stored drift reports.

    The filesystem store is one source (``StoreDriftSource``); Snapshot objects listed from
    Kubernetes with ``limit``/``continue`` (counts from their status) are another.
    """

    def snapshots(self, tenant: str | None) -> Iterator[SnapshotDrift]:
        """Newest first by (captured_at, snapshot_id) descending; lazily, page by page."""
        ...

    def changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        """Changes ``[start, stop)`` of the snapshot's drift report."""
        ...


class StoreDriftSource:
    """Drift events straight from a SnapshotStore; snapshots without a drift report hold none."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    def snapshots(self, tenant: str | None) -> Iterator[SnapshotDrift]:
        for info in self.store.list_snapshots(tenant):
            if info.change_count:
                yield SnapshotDrift(info.snapshot_id, info.tenant, info.type, info.captured_at, info.change_count)

    def changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return self.store.read_changes(snapshot_id, start, stop)


@dataclass(frozen=True, slots=True)
class DriftEvent:
    snapshot_id: str
    captured_at: datetime
    tenant: str
    type: str
    change: Change

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "captured_at": self.captured_at.isoformat(),
            "tenant": self.tenant,
            "type": self.type,
            **self.change.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class DriftPage:
    items: list[DriftEvent]
    has_more: bool
    page: int
    limit: int
    total_count: int
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [e.to_dict() for e in self.items],
            "has_more": self.has_more,
            "page": self.page,
            "limit": self.limit,
            "total_count": self.total_count,
            "next_cursor": self.next_cursor,
        }


def clamp_limit(limit: int | None) -> int:
    """The origin paginator's page size: default 100, clamped to 1..500."""
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, limit))


@dataclass(frozen=True, slots=True)
class _Position:
    """The next event to return: change ``index`` of the snapshot sorting at ``order``."""

    tenant: str | None
    order: tuple[float, str]
    index: int


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def encode_cursor(pos: _Position) -> str:
    body = {"v": _CURSOR_VERSION, "t": pos.tenant, "at": pos.order[0], "s": pos.order[1], "i": pos.index}
    body["h"] = _checksum(body)
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode_cursor(cursor: str, tenant: str | None) -> _Position:
    restart = "start again without a cursor"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = orjson.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        given = body.pop("h")
        if given != _checksum(body) or body["v"] != _CURSOR_VERSION:
            raise ValueError("checksum or version")
        at, sid, index = body["at"], body["s"], body["i"]
        if not (isinstance(at, int | float) and isinstance(sid, str) and isinstance(index, int) and index >= 0):
            raise ValueError("field types")
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor(
            f"cursor {cursor[:24]!r}... was not issued by the drift listing or was altered ({exc}); {restart}"
        ) from None
    if body["t"] != tenant:
        raise InvalidCursor(
            f"cursor belongs to the listing of tenant {body['t']!r}, not {tenant!r}; "
            f"pass the same tenant as for the first page, or {restart}"
        )
    return _Position(tenant, (float(at), sid), index)


def list_drift_events(
    source: DriftSource, tenant: str | None, cursor: str | None = None, limit: int | None = None
) -> DriftPage:
    """One page of drift events of ``tenant`` (None: every tenant), newest first."""
    limit = clamp_limit(limit)
    pos = decode_cursor(cursor, tenant) if cursor else None
    items: list[DriftEvent] = []
    total = 0
    offset = 0  # events before the first item of this page
    last: tuple[SnapshotDrift, int] | None = None
    for snap in source.snapshots(tenant):
        count = snap.change_count
        total += count
        start = 0
        if pos is not None and len(items) == 0:
            if snap.order > pos.order:  # newer than the cursor: already listed
                offset += count
                continue
            if snap.order == pos.order:
                start = min(pos.index, count)
                offset += start
        need = limit - len(items)
        if need <= 0 or start >= count:
            continue
        got = source.changes(snap.snapshot_id, start, min(start + need, count))
        items.extend(DriftEvent(snap.snapshot_id, snap.captured_at, snap.tenant, snap.type, c) for c in got)
        last = (snap, start + len(got))
    has_more = offset + len(items) < total
    next_cursor = None
    if has_more and last is not None:
        next_cursor = encode_cursor(_Position(tenant, last[0].order, last[1]))
    return DriftPage(
        items=items,
        has_more=has_more,
        page=offset // limit + 1,
        limit=limit,
        total_count=total,
        next_cursor=next_cursor,
    )
