"""list_drift_events: the origin paginator's semantics, the cursor, and reading only one page."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from tests.store.builders import T0, put_snapshot

from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, ChangeOp
from jiradrift.snapshot.drift import (
    InvalidCursor,
    SnapshotDrift,
    StoreDriftSource,
    clamp_limit,
    list_drift_events,
)
from jiradrift.snapshot.recording import backfill_drift, record_drift
from jiradrift.store.filesystem import FilesystemStore


class FakeSource:
    """Snapshots with generated changes; records every slice it is asked for."""

    def __init__(self, counts: dict[str, tuple[float, int]], tenant: str = "acme") -> None:
        # snapshot id -> (hours after T0, change count)
        self.snaps = {
            sid: SnapshotDrift(sid, tenant, "workflows", T0 + timedelta(hours=h), n) for sid, (h, n) in counts.items()
        }
        self.reads: list[tuple[str, int, int]] = []

    async def snapshots(self, tenant: str | None) -> AsyncIterator[SnapshotDrift]:
        for snap in sorted(
            (s for s in self.snaps.values() if tenant in (None, s.tenant)),
            key=lambda s: s.order,
            reverse=True,
        ):
            yield snap

    async def changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        self.reads.append((snapshot_id, start, stop))
        n = self.snaps[snapshot_id].change_count
        return [
            Change(f"field/{snapshot_id}-{i}", ChangeOp.MODIFIED, "name", Severity.LOW, i, i + 1)
            for i in range(start, min(stop, n))
        ]


async def walk(source: FakeSource, limit: int, tenant: str | None = "acme") -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await list_drift_events(source, tenant, cursor, limit)
        pages.append([e.change.key for e in page.items])
        if not page.has_more:
            assert page.next_cursor is None
            return pages
        cursor = page.next_cursor


@pytest.mark.parametrize(
    ("given", "used"), [(None, 100), (0, 1), (-3, 1), (1, 1), (250, 250), (501, 500), (10**9, 500)]
)
async def test_limit_defaults_to_100_and_is_clamped_to_1_through_500(given: int | None, used: int) -> None:
    assert clamp_limit(given) == used
    assert (await list_drift_events(FakeSource({"s1": (0, 3)}), "acme", None, given)).limit == used


async def test_pages_walk_every_event_once_newest_snapshot_first() -> None:
    source = FakeSource({"old": (0, 4), "mid": (1, 3), "new": (2, 2)})
    pages = await walk(source, limit=4)
    flat = [k for p in pages for k in p]
    assert flat == [f"field/new-{i}" for i in range(2)] + [f"field/mid-{i}" for i in range(3)] + [
        f"field/old-{i}" for i in range(4)
    ]
    assert [len(p) for p in pages] == [4, 4, 1]


async def test_ties_on_capture_time_are_broken_by_snapshot_id_descending() -> None:
    source = FakeSource({"a": (1, 1), "c": (1, 1), "b": (1, 1)})
    assert [k for p in await walk(source, limit=2) for k in p] == ["field/c-0", "field/b-0", "field/a-0"]


async def test_page_total_count_and_has_more_follow_the_paginator() -> None:
    source = FakeSource({"s1": (0, 150), "s2": (1, 50)})
    first = await list_drift_events(source, "acme", None, 100)
    assert (first.page, first.limit, first.total_count, first.has_more) == (1, 100, 200, True)
    second = await list_drift_events(source, "acme", first.next_cursor, 100)
    assert (second.page, len(second.items), second.total_count, second.has_more) == (2, 100, 200, False)
    assert second.next_cursor is None


async def test_an_empty_listing_has_no_more() -> None:
    page = await list_drift_events(FakeSource({}), "acme", None, None)
    assert (page.items, page.has_more, page.page, page.total_count, page.next_cursor) == (
        [],
        False,
        1,
        0,
        None,
    )


async def test_only_the_changes_of_one_page_are_read() -> None:
    source = FakeSource({f"s{i:03d}": (i, 1000) for i in range(100)})  # 100k events
    page = await list_drift_events(source, "acme", None, 100)
    page = await list_drift_events(source, "acme", page.next_cursor, 100)
    for _ in range(400):
        page = await list_drift_events(source, "acme", page.next_cursor, 100)
    source.reads.clear()
    page = await list_drift_events(source, "acme", page.next_cursor, 100)
    assert page.page == 403
    assert sum(stop - start for _, start, stop in source.reads) == 100


async def test_events_recorded_while_paging_do_not_repeat_or_skip_the_walk() -> None:
    source = FakeSource({"s1": (0, 3), "s2": (1, 3)})
    first = await list_drift_events(source, "acme", None, 2)
    source.snaps["s3"] = SnapshotDrift("s3", "acme", "workflows", T0 + timedelta(hours=2), 5)
    second = await list_drift_events(source, "acme", first.next_cursor, 2)
    assert [e.change.key for e in second.items] == ["field/s2-2", "field/s1-0"]
    assert second.total_count == 11
    assert second.page == 4  # 5 newer events + 2 already seen come before it


async def test_a_snapshot_deleted_while_paging_is_skipped() -> None:
    source = FakeSource({"s1": (0, 2), "s2": (1, 3)})
    first = await list_drift_events(source, "acme", None, 2)
    del source.snaps["s2"]
    second = await list_drift_events(source, "acme", first.next_cursor, 2)
    assert [e.change.key for e in second.items] == ["field/s1-0", "field/s1-1"]
    assert second.has_more is False


async def test_a_cursor_from_another_tenant_is_refused() -> None:
    source = FakeSource({"s1": (0, 5)})
    page = await list_drift_events(source, "acme", None, 2)
    with pytest.raises(InvalidCursor, match="tenant 'acme', not 'globex'"):
        await list_drift_events(source, "globex", page.next_cursor, 2)


@pytest.mark.parametrize("bad", ["not base64 at all!", "e30", base64.urlsafe_b64encode(b"[1,2]").decode()])
async def test_a_foreign_cursor_is_refused_with_a_way_out(bad: str) -> None:
    with pytest.raises(InvalidCursor, match="start again without a cursor"):
        await list_drift_events(FakeSource({"s1": (0, 5)}), "acme", bad, 2)


async def test_a_tampered_cursor_is_refused() -> None:
    source = FakeSource({"s1": (0, 5)})
    cursor = (await list_drift_events(source, "acme", None, 2)).next_cursor
    assert cursor is not None
    body = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    body["i"] = 0
    forged = base64.urlsafe_b64encode(orjson.dumps(body)).decode()
    with pytest.raises(InvalidCursor, match="altered"):
        await list_drift_events(source, "acme", forged, 2)


async def test_no_tenant_lists_every_tenant() -> None:
    source = FakeSource({"s1": (0, 2)})
    source.snaps["g1"] = SnapshotDrift("g1", "globex", "fields", T0 + timedelta(hours=1), 1)
    page = await list_drift_events(source, None, None, 10)
    assert [(e.tenant, e.change.key) for e in page.items] == [
        ("globex", "field/g1-0"),
        ("acme", "field/s1-0"),
        ("acme", "field/s1-1"),
    ]


# --- over a real store ----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "store", durable=False)


async def test_record_drift_diffs_against_the_predecessor_and_the_first_snapshot_has_none(
    store: FilesystemStore,
) -> None:
    await put_snapshot(store, "s1", {"workflow/1": {"name": "A"}}, hours=0)
    await put_snapshot(store, "s2", {"workflow/1": {"name": "B"}}, hours=1)
    await put_snapshot(store, "other", {"workflow/1": {"name": "C"}}, hours=2, type="fields")
    first = await record_drift(store, "s1")
    assert (first.old_snapshot, first.changes) == (None, [])
    second = await record_drift(store, "s2", ignore=["screen/*"])
    assert second.old_snapshot == "s1"
    assert [(c.op, c.old, c.new) for c in second.changes] == [(ChangeOp.RENAMED, "A", "B")]
    assert await store.get_drift("s2") == second


async def test_backfill_records_only_missing_reports_and_events_carry_their_snapshot(
    store: FilesystemStore,
) -> None:
    await put_snapshot(store, "s1", {"permission-scheme/1": {"grants": ["a"]}}, hours=0)
    await put_snapshot(store, "s2", {"permission-scheme/1": {"grants": ["a", "b"]}}, hours=1)
    await record_drift(store, "s1")
    assert await backfill_drift(store, "acme") == 1
    assert await backfill_drift(store, "acme") == 0
    [event] = (await list_drift_events(StoreDriftSource(store), "acme")).items
    assert event.to_dict() == {
        "snapshot_id": "s2",
        "captured_at": (T0 + timedelta(hours=1)).isoformat(),
        "tenant": "acme",
        "type": "workflows",
        "key": "permission-scheme/1",
        "kind": "permission-scheme",
        "op": "added",
        "path": "grants[1]",
        "severity": "high",
        "old": None,
        "new": "b",
        "name": None,  # the body has no name, value or key
    }
