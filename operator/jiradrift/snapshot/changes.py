"""What changed since the last window, decided from the audit log without I/O.

    read = await read_audit_log(jira, *cursor.read_range(now, OVERLAP))
    plan = decide(read, cursor, kinds_by_type(types), DEFAULT_COVERAGE, overlap=OVERLAP)
    for t in plan.types.values():   # t.mode FULL -> capture the type; else re-read t.reread, relist
        ...                         # t.relist, probe t.probe, carry everything else over
    cursor = plan.next_cursor       # only once the window's work is stored

The rules (issue 26, jira-api.md section 9):

- Successive reads overlap by ``overlap`` (records show up late, and Jira's clock is not ours);
  a record already acted on is known by its id (``AuditCursor.seen``) and counted as a duplicate,
  so the overlap costs nothing but a few bytes.
- A record whose ``(category, objectItem.typeName)`` the coverage knows names objects of one or
  more kinds: their ids are re-read. One that names no id makes its kinds re-listed whole.
- Kinds the coverage does not list are *unaudited* (Atlassian does not document statuses,
  priorities, resolutions or field configurations as audited): every window probes them cheaply,
  so no kind depends on the audit log alone.
- An audit read that failed, was truncated, is forbidden, or does not reach back to the last
  window makes every type with an audited kind a full capture, with the reason: never a silent
  skip. Types whose kinds are all unaudited never needed the log and stay incremental.
- Without a cursor (the first window) every type is a full capture.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from jiradrift.jira.audit import AuditRead, ReadStatus
from jiradrift.model.kinds import kinds_for
from jiradrift.model.snapshot_types import SnapshotType

DEFAULT_OVERLAP = timedelta(minutes=10)


class Mode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"


@dataclass(frozen=True)
class AuditCoverage:
    """What the audit log records: ``(category, objectItem.typeName)`` -> the kinds whose objects
    a record of it names. For a child kind (``field-context``) the id is its parent's (the field)."""

    types: Mapping[tuple[str, str], tuple[str, ...]]

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for kinds in self.types.values() for k in kinds)

    def kinds_of(self, category: str, type_name: str) -> tuple[str, ...]:
        return self.types.get((category.casefold(), type_name.upper()), ())


# What Atlassian documents as audited (jira-api.md section 9) and the emulator records. Anything
# else is probed. Global settings are left to their one-request probe rather than trusted here.
DEFAULT_COVERAGE = AuditCoverage(
    {
        ("workflows", "WORKFLOW"): ("workflow",),
        ("workflows", "SCHEME"): ("workflow-scheme",),
        ("fields", "CUSTOM_FIELD"): ("field", "field-context"),
        ("screens", "SCREEN"): ("screen",),
        ("permissions", "SCHEME"): ("permission-scheme",),
        ("notifications", "SCHEME"): ("notification-scheme",),
        ("projects", "PROJECT"): ("project",),
    }
)


@dataclass(frozen=True)
class AuditCursor:
    """Where the last window left the audit log: changes created before ``since`` are captured,
    and ``seen`` holds the ids of records acted on that the next overlapping read will serve again."""

    since: datetime
    seen: frozenset[int] = frozenset()

    def read_range(self, now: datetime, overlap: timedelta = DEFAULT_OVERLAP) -> tuple[datetime, datetime]:
        """``(from, to)`` of the next read: back ``overlap`` before the last window's end, up to now."""
        return self.since - overlap, now


@dataclass(frozen=True)
class TypePlan:
    """One snapshot type's work in this window."""

    snapshot_type: str
    mode: Mode
    reason: str = ""  # why a full capture
    reread: Mapping[str, frozenset[str]] = field(default_factory=dict)  # kind -> object ids the log named
    relist: frozenset[str] = frozenset()  # audited kinds named without an id: re-read the whole kind
    probe: frozenset[str] = frozenset()  # unaudited kinds: run their cheap change probe

    @property
    def objects(self) -> int:
        """How many objects the audit log asks to re-read."""
        return sum(len(ids) for ids in self.reread.values())


@dataclass(frozen=True)
class WindowPlan:
    types: Mapping[str, TypePlan]
    next_cursor: AuditCursor
    new_records: int = 0
    duplicates: int = 0  # served again by the overlap, or twice in one read
    unmatched: int = 0  # records about objects no requested kind captures (users, groups, other types)

    @property
    def full(self) -> list[str]:
        return [t for t, p in self.types.items() if p.mode is Mode.FULL]


_NOT_OK = {
    ReadStatus.FAILED: "the audit log read failed",
    ReadStatus.TRUNCATED: "the audit log read was truncated",
    ReadStatus.FORBIDDEN: "the token may not read the audit log",
}


def kinds_by_type(types: Collection[SnapshotType | str]) -> dict[str, tuple[str, ...]]:
    """The catalog's kinds of each requested type."""
    return {str(t): tuple(k.name for k in kinds_for(t)) for t in types}


def decide(
    read: AuditRead | None,
    cursor: AuditCursor | None,
    kinds: Mapping[str, Collection[str]],
    coverage: AuditCoverage = DEFAULT_COVERAGE,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
) -> WindowPlan:
    """The window's plan per snapshot type (``kinds``: type -> its kinds) from what the audit log
    said (``read``, None when it was not read) since ``cursor`` (None: no earlier window).

    ``now`` is where the next cursor starts when there is no read; with a read it is ``read.until``.
    """
    audited = coverage.kinds
    probes = {t: frozenset(k for k in ks if k not in audited) for t, ks in kinds.items()}
    end = read.until if read is not None else now
    if end is None:
        raise ValueError("decide() needs the read or now: the next window starts where this one ends")

    def all_full(reason: str, *, only_audited: bool) -> dict[str, TypePlan]:
        plans = {}
        for t, ks in kinds.items():
            if only_audited and not any(k in audited for k in ks):
                plans[t] = TypePlan(t, Mode.INCREMENTAL, probe=probes[t])
            else:
                plans[t] = TypePlan(t, Mode.FULL, reason)
        return plans

    if cursor is None:
        return WindowPlan(all_full("no earlier window to continue from", only_audited=False), AuditCursor(end))
    if read is None:
        return WindowPlan(all_full("the audit log was not read", only_audited=True), AuditCursor(end))
    if read.status is not ReadStatus.OK:
        reason = _NOT_OK[read.status] + (f": {read.detail}" if read.detail else "")
        return WindowPlan(all_full(reason, only_audited=True), AuditCursor(end))
    if read.since > cursor.since - overlap:
        reason = f"the audit log read starts at {read.since.isoformat()}, after the last window's end less the overlap"
        return WindowPlan(all_full(reason, only_audited=True), AuditCursor(end))

    type_of_kind = {k: t for t, ks in kinds.items() for k in ks}
    reread: dict[str, dict[str, set[str]]] = {t: {} for t in kinds}
    relist: dict[str, set[str]] = {t: set() for t in kinds}
    acted: set[int] = set()
    duplicates = unmatched = 0
    for record in read.records:
        if record.id in cursor.seen or record.id in acted:
            duplicates += 1
            continue
        acted.add(record.id)
        targets = [k for k in coverage.kinds_of(record.category, record.type_name) if k in type_of_kind]
        if not targets:
            unmatched += 1
            continue
        for kind in targets:
            t = type_of_kind[kind]
            if record.object_id:
                reread[t].setdefault(kind, set()).add(record.object_id)
            else:
                relist[t].add(kind)
    plans = {
        t: TypePlan(
            t,
            Mode.INCREMENTAL,
            reread={k: frozenset(ids) for k, ids in sorted(reread[t].items())},
            relist=frozenset(relist[t]),
            probe=probes[t],
        )
        for t in kinds
    }
    # Only ids the next read can serve again are worth remembering: it starts at end - overlap.
    horizon = end - overlap
    created = {r.id: r.created for r in read.records}
    keep = frozenset(i for i in cursor.seen | acted if i in created and created[i] >= horizon)
    return WindowPlan(plans, AuditCursor(end, keep), len(acted), duplicates + read.duplicates, unmatched)
