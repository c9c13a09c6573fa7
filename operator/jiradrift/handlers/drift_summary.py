"""The one drift summary: a report's counts and first changes, as the Snapshot's ``status.drift``;
the tenant's ``status.drift`` and the one-line message are derived from it (pure: no I/O)."""

from __future__ import annotations

from datetime import datetime

from jiradrift.api.resources import ChangeAffects, ChangeSummary, SnapshotDrift, TenantDriftSummary
from jiradrift.jira.audit import AuditEntry
from jiradrift.model.report import DriftReport
from jiradrift.redact import clip

Attribution = dict[str, AuditEntry]


def snapshot_drift(report: DriftReport | None, limit: int, attribution: Attribution | None = None) -> SnapshotDrift:
    """``status.drift`` of a Snapshot: counts, and the first ``limit`` changes with who made them."""
    if report is None:
        return SnapshotDrift(baseline=None, total=0, added=0, removed=0, changed=0, changes=[])
    attribution = attribution or {}
    highest = report.highest_severity
    changes = []
    for c in report.first(limit):
        change = ChangeSummary(key=clip(c.key, 512), op=c.op.value, path=clip(c.path, 512), severity=c.severity.value)
        if c.name:
            change.name = clip(c.name, 256)
        if c.key in attribution:
            change.changed_by = clip(attribution[c.key].describe(), 256)
        if c.affects is not None:
            change.affects = ChangeAffects(count=c.affects, first=[clip(k, 64) for k in c.affects_first[:5]])
        changes.append(change)
    return SnapshotDrift(
        baseline=report.old_snapshot,
        total=report.change_count,
        added=report.added,
        removed=report.removed,
        changed=report.changed,
        highest_severity=highest.value if highest else None,
        unknown_items=report.unknown_count,
        changes=changes,
    )


def tenant_drift(drift: SnapshotDrift, snapshot_type: str, snapshot: str, now: datetime) -> TenantDriftSummary:
    """``status.drift`` of the tenant after ``snapshot`` drifted."""
    total = drift.total
    line = f"{total} change{'s' if total != 1 else ''} ({drift.highest_severity}) in {snapshot_type}"
    return TenantDriftSummary(
        last_detected=now.replace(microsecond=0),
        last_snapshot=snapshot,
        added=drift.added,
        removed=drift.removed,
        changed=drift.changed,
        highest_severity=drift.highest_severity,
        summary=clip(line, 256),
    )


def summary_line(item_count: int, report: DriftReport | None, attribution: Attribution | None = None) -> str:
    """The Snapshot's ``status.message`` (and its DriftDetected Event): item count and the change that
    matters most, named as people know it, e.g.
    ``120 items; 3 changes (high) from s-1: modified permission-scheme 'Default':permissions [audit: ...] and 2 more``;
    the item's key (Jira's id) only when it has no name."""
    items = f"{item_count} items"
    if report is None:
        return f"{items}; first snapshot of this type, no baseline to compare"
    unknown = f"; {report.unknown_text()}" if not report.complete else ""
    if not report.has_drift:
        seen = " that could be seen" if unknown else ""
        return clip(f"{items}; no drift{seen} from {report.old_snapshot}{unknown}", 4000)
    [first] = report.first(1)
    highest = report.highest_severity.value if report.highest_severity else "low"
    count = report.change_count
    more = f" and {count - 1} more" if count > 1 else ""
    what = f"{first.kind} {first.name!r}" if first.name else first.key
    path = f":{first.path}" if first.path else ""
    audit = f" [audit: {attribution[first.key].describe()}]" if attribution and first.key in attribution else ""
    return clip(
        f"{items}; {count} change{'s' if count != 1 else ''} ({highest}) from {report.old_snapshot}: "
        f"{first.op.value} {what}{path}{audit}{more}{unknown}",
        4000,
    )
