"""The sans-IO change detector: what a window re-reads, probes, or captures in full, from the audit
log alone. Table-tested: no Jira, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jiradrift.jira.audit import AuditRead, AuditRecord, ReadStatus
from jiradrift.model.snapshot_types import ALL_SNAPSHOT_TYPES
from jiradrift.snapshot.changes import (
    DEFAULT_COVERAGE,
    DEFAULT_OVERLAP,
    AuditCursor,
    Mode,
    decide,
    kinds_by_type,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KINDS = kinds_by_type(ALL_SNAPSHOT_TYPES)
CURSOR = AuditCursor(T0)


def rec(rid: int, minutes: float, category: str, type_name: str, object_id: str = "", name: str = "") -> AuditRecord:
    return AuditRecord(rid, T0 + timedelta(minutes=minutes), category, type_name, object_id, name or object_id)


def read(*records: AuditRecord, status: ReadStatus = ReadStatus.OK, minutes: float = 5, detail: str = "") -> AuditRead:
    return AuditRead(T0 - DEFAULT_OVERLAP, T0 + timedelta(minutes=minutes), status, records, detail)


def test_a_quiet_window_rereads_nothing_and_probes_only_unaudited_kinds() -> None:
    plan = decide(read(), CURSOR, KINDS)
    assert plan.full == [] and plan.new_records == 0
    for t, p in plan.types.items():
        assert p.mode is Mode.INCREMENTAL and p.objects == 0 and not p.relist, t
        assert p.probe == {k for k in KINDS[t] if k not in DEFAULT_COVERAGE.kinds}, t
    assert plan.types["workflows"].probe == {"status", "status-category"}
    assert plan.types["priorities"].probe == {"priority", "priority-scheme", "resolution", "issue-link-type"}
    assert "field-configuration" in plan.types["screens"].probe
    assert "workflow" not in plan.types["workflows"].probe
    assert plan.next_cursor == AuditCursor(T0 + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("record", "snapshot_type", "kind", "object_id"),
    [
        (rec(1, 1, "workflows", "WORKFLOW", "wf-1"), "workflows", "workflow", "wf-1"),
        (rec(1, 1, "workflows", "SCHEME", "10004"), "workflows", "workflow-scheme", "10004"),
        (rec(1, 1, "permissions", "SCHEME", "0"), "schemes", "permission-scheme", "0"),
        (rec(1, 1, "notifications", "SCHEME", "10003"), "schemes", "notification-scheme", "10003"),
        (rec(1, 1, "fields", "CUSTOM_FIELD", "customfield_10001"), "fields", "field", "customfield_10001"),
        (rec(1, 1, "fields", "CUSTOM_FIELD", "customfield_10001"), "fields", "field-context", "customfield_10001"),
        (rec(1, 1, "screens", "SCREEN", "1"), "screens", "screen", "1"),
        (rec(1, 1, "projects", "PROJECT", "10000"), "projects", "project", "10000"),
        (rec(1, 1, "Projects", "project", "10000"), "projects", "project", "10000"),  # case as Jira varies it
    ],
)
def test_an_audited_change_rereads_the_object_it_names(
    record: AuditRecord, snapshot_type: str, kind: str, object_id: str
) -> None:
    plan = decide(read(record), CURSOR, KINDS)
    assert plan.types[snapshot_type].reread[kind] == {object_id}
    others = [t for t, p in plan.types.items() if p.objects and t != snapshot_type]
    assert others == [] and plan.full == [] and plan.new_records == 1


def test_the_overlap_serves_acted_on_records_again_and_they_are_not_reread() -> None:
    first = decide(read(rec(1, 1, "workflows", "WORKFLOW", "a"), minutes=5), CURSOR, KINDS)
    assert first.types["workflows"].reread == {"workflow": {"a"}}
    # the next read starts 10 minutes before the first one's end, so record 1 comes again, with a late one
    start, _ = first.next_cursor.read_range(T0 + timedelta(minutes=10))
    late = rec(2, 2, "workflows", "WORKFLOW", "b")  # created before the first read ended, shown after it
    second_read = AuditRead(
        start, T0 + timedelta(minutes=10), ReadStatus.OK, (late, rec(1, 1, "workflows", "WORKFLOW", "a"))
    )
    second = decide(second_read, first.next_cursor, KINDS)
    assert second.types["workflows"].reread == {"workflow": {"b"}}
    assert second.duplicates == 1 and second.new_records == 1
    # a record twice in one read (the log grew while paging) counts once
    twice = decide(read(rec(3, 1, "projects", "PROJECT", "p"), rec(3, 1, "projects", "PROJECT", "p")), CURSOR, KINDS)
    assert twice.new_records == 1 and twice.duplicates == 1


def test_the_cursor_remembers_only_ids_the_next_read_can_serve_again() -> None:
    old, recent = rec(1, -9, "projects", "PROJECT", "p1"), rec(2, 20, "projects", "PROJECT", "p2")
    plan = decide(read(old, recent, minutes=25), AuditCursor(T0, frozenset({99})), KINDS)
    # the next read starts at 25 - 10 = minute 15: record 1 (minute -9) and 99 (not served) cannot return
    assert plan.next_cursor == AuditCursor(T0 + timedelta(minutes=25), frozenset({2}))


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (ReadStatus.FAILED, "read failed"),
        (ReadStatus.TRUNCATED, "truncated"),
        (ReadStatus.FORBIDDEN, "may not read the audit log"),
    ],
)
def test_an_incomplete_audit_read_makes_every_audited_type_a_full_capture(status: ReadStatus, words: str) -> None:
    plan = decide(read(rec(1, 1, "workflows", "WORKFLOW", "a"), status=status, detail="HTTP 503"), CURSOR, KINDS)
    audited_types = {t for t, ks in KINDS.items() if any(k in DEFAULT_COVERAGE.kinds for k in ks)}
    assert set(plan.full) == audited_types
    for t in audited_types:
        assert words in plan.types[t].reason and "HTTP 503" in plan.types[t].reason
    # types made only of unaudited kinds never needed the log: still probed, not skipped
    for t in set(KINDS) - audited_types:
        assert plan.types[t].mode is Mode.INCREMENTAL and plan.types[t].probe == set(KINDS[t])
    assert "priorities" in set(KINDS) - audited_types and "instance" in set(KINDS) - audited_types
    # the full captures cover up to the read's end: the next window continues from there
    assert plan.next_cursor == AuditCursor(T0 + timedelta(minutes=5))


def test_a_read_that_does_not_reach_back_to_the_last_window_is_a_gap() -> None:
    gap = AuditRead(T0, T0 + timedelta(minutes=5), ReadStatus.OK, ())
    plan = decide(gap, CURSOR, KINDS)
    assert "workflows" in plan.full and "after the last window's end" in plan.types["workflows"].reason


def test_no_earlier_window_or_no_read_means_full_captures() -> None:
    first = decide(read(), None, KINDS)
    assert set(first.full) == set(KINDS)
    assert all("no earlier window" in p.reason for p in first.types.values())
    unread = decide(None, CURSOR, KINDS, now=T0)
    assert "workflows" in unread.full and unread.types["priorities"].mode is Mode.INCREMENTAL
    with pytest.raises(ValueError, match="needs the read or now"):
        decide(None, CURSOR, KINDS)


def test_records_without_an_id_relist_the_kind_and_foreign_records_are_counted() -> None:
    plan = decide(
        read(
            rec(1, 1, "workflows", "WORKFLOW", ""),
            rec(2, 1, "user management", "USER", "acct"),
            rec(3, 1, "fields", "CUSTOM_FIELD", "customfield_1"),
        ),
        CURSOR,
        {"workflows": KINDS["workflows"]},  # fields not requested: its record is foreign here
    )
    assert plan.types["workflows"].relist == {"workflow"} and plan.types["workflows"].objects == 0
    assert plan.unmatched == 2 and plan.new_records == 3


def test_an_unaudited_kind_the_emulator_audits_is_still_probed() -> None:
    """A status record (when a site does audit statuses) is not in the default coverage: statuses
    stay probed, so they never depend on the audit log."""
    plan = decide(read(rec(1, 1, "workflows", "STATUS", "10000")), CURSOR, KINDS)
    assert "status" in plan.types["workflows"].probe and plan.types["workflows"].objects == 0
    assert plan.unmatched == 1
