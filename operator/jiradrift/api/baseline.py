"""Accepted baselines: which snapshot of each type an admin accepted, and what has changed since.

Argo CD's model, read-only: the *accepted* snapshot is the desired state, the newest complete
snapshot the live one, and a tenant is ``Drifted`` until someone accepts. Accepting is a label on a
Snapshot (``jiradrift.io/accepted=true``), so Kubernetes RBAC decides who may accept (``patch`` on
``snapshots``) and the API server's audit log records who did. The first complete snapshot of a
type is accepted by the operator; pruning never removes an accepted snapshot.

Everything here is pure: it takes Snapshot objects as the API server returns them and answers
which snapshots are the accepted and the newest of each type, since when they differ, and what the
tenant's ``Drifted`` condition and ``status.unaccepted`` say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jiradrift.api.conditions import ConditionType, Reason
from jiradrift.api.resources import GROUP, LABEL_DRIFT, LABEL_TYPE
from jiradrift.model.kinds import Severity
from jiradrift.model.report import DriftReport

LABEL_ACCEPTED = f"{GROUP}/accepted"
ANNOTATION_ACCEPTED_AT = f"{GROUP}/accepted-at"
ANNOTATION_ACCEPTED_BY = f"{GROUP}/accepted-by"
ACCEPTED = "true"
AUTO_ACCEPTED_BY = "jiradrift-operator (first complete snapshot of its type)"

CONDITION = ConditionType.DRIFTED
REASON_UNACCEPTED = Reason.UNACCEPTED_CHANGES
REASON_IN_SYNC = Reason.MATCHES_ACCEPTED
REASON_NO_BASELINE = Reason.NO_ACCEPTED_SNAPSHOT


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """What the baseline logic needs of one Snapshot object."""

    name: str
    type: str
    created: datetime
    phase: str
    digest: str | None
    completed: datetime | None
    accepted: bool
    drift: str | None = None  # the ``jiradrift.io/drift`` label: "true" when it recorded drift
    lease: str | None = None  # the window's Lease (``status.lock.lease``), deleted with the Snapshot
    uid: str = ""
    captured: datetime | None = None  # ``status.capturedAt``: when Jira was read, to the microsecond

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> SnapshotEntry:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        created = _parse_time(meta.get("creationTimestamp"))
        return cls(
            name=str(meta.get("name", "")),
            type=str(spec.get("type") or (meta.get("labels") or {}).get(LABEL_TYPE, "")),
            created=created or datetime.min,
            phase=str(status.get("phase") or "Pending"),
            digest=status.get("digest"),
            completed=_parse_time(status.get("completionTime")),
            accepted=(meta.get("labels") or {}).get(LABEL_ACCEPTED) == ACCEPTED,
            drift=(meta.get("labels") or {}).get(LABEL_DRIFT),
            lease=(status.get("lock") or {}).get("lease"),
            uid=str(meta.get("uid") or ""),
            captured=_parse_time(status.get("capturedAt")),
        )

    @property
    def order(self) -> tuple[datetime, str]:
        """Oldest first, as the store orders manifests: by when Jira was read where the Snapshot says
        (a window and a manual Snapshot are often created in the same second, and then the name
        alone would decide), else by creation."""
        return (self.captured or self.created, self.name)

    @property
    def complete(self) -> bool:
        return self.phase == "Completed"


@dataclass(frozen=True, slots=True)
class TypeBaseline:
    """One snapshot type of a tenant: its accepted and newest complete snapshots."""

    type: str
    accepted: SnapshotEntry | None
    newest: SnapshotEntry | None
    since: datetime | None  # completion of the first complete snapshot after ``accepted`` that differs

    @property
    def outstanding(self) -> bool:
        """Whether the newest complete snapshot differs from the accepted one."""
        if self.accepted is None or self.newest is None or self.newest.name == self.accepted.name:
            return False
        return not (self.accepted.digest and self.accepted.digest == self.newest.digest)


def baselines(entries: Iterable[SnapshotEntry]) -> dict[str, TypeBaseline]:
    """Per type: the accepted snapshot (the newest labelled one), the newest complete one, since when."""
    by_type: dict[str, list[SnapshotEntry]] = {}
    for entry in entries:
        by_type.setdefault(entry.type, []).append(entry)
    result = {}
    for stype, group in sorted(by_type.items()):
        group.sort(key=lambda e: e.order)
        complete = [e for e in group if e.complete]
        accepted = max((e for e in complete if e.accepted), key=lambda e: e.order, default=None)
        newest = complete[-1] if complete else None
        since = None
        if accepted is not None:
            for entry in complete:
                if entry.order > accepted.order and not (entry.digest and entry.digest == accepted.digest):
                    since = entry.completed or entry.created
                    break
        result[stype] = TypeBaseline(stype, accepted, newest, since)
    return result


def to_auto_accept(entries: Iterable[SnapshotEntry], snapshot_type: str) -> bool:
    """Whether a snapshot of ``snapshot_type`` that just completed is the first: nothing accepted yet."""
    return not any(e.accepted and e.complete and e.type == snapshot_type for e in entries)


def protected(entries: Iterable[SnapshotEntry]) -> set[str]:
    """Snapshots pruning must keep: every accepted one."""
    return {e.name for e in entries if e.accepted}


@dataclass(slots=True)
class Unaccepted:
    """Changes between each type's accepted and newest snapshot, summed over the tenant's types."""

    by_severity: dict[str, int] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)
    since: datetime | None = None
    unknown: int = 0
    accepted_types: int = 0
    known_types: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())

    @property
    def highest(self) -> str | None:
        for severity in sorted(Severity, key=lambda s: s.rank, reverse=True):
            if self.by_severity.get(severity.value):
                return severity.value
        return None

    def status(self) -> dict[str, Any]:
        """The tenant's ``status.unaccepted`` (camelCase, as the CRD declares it)."""
        return {
            "total": self.total,
            "high": self.by_severity.get(Severity.HIGH.value, 0),
            "medium": self.by_severity.get(Severity.MEDIUM.value, 0),
            "low": self.by_severity.get(Severity.LOW.value, 0),
            "highestSeverity": self.highest,
            "types": list(self.types),
            "since": self.since.isoformat().replace("+00:00", "Z") if self.since else None,
            "unknownItems": self.unknown,
        }


def summarise(bases: Mapping[str, TypeBaseline], reports: Mapping[str, DriftReport]) -> Unaccepted:
    """Sum the accepted-vs-newest reports (``reports[type]``, for types with outstanding changes)."""
    out = Unaccepted(known_types=len(bases), accepted_types=sum(b.accepted is not None for b in bases.values()))
    for stype, base in sorted(bases.items()):
        report = reports.get(stype)
        if not base.outstanding or report is None:
            continue
        out.unknown += report.unknown_count
        if not report.has_drift:
            continue
        out.types.append(stype)
        for change in report.changes:
            out.by_severity[change.severity.value] = out.by_severity.get(change.severity.value, 0) + 1
        if base.since is not None and (out.since is None or base.since < out.since):
            out.since = base.since
    return out


def drifted_condition(unaccepted: Unaccepted, tenant: str) -> tuple[str, str, str]:
    """(status, reason, message) of the tenant's ``Drifted`` condition."""
    if unaccepted.accepted_types == 0:
        return "Unknown", REASON_NO_BASELINE, "no complete snapshot yet; the first one is accepted automatically"
    if unaccepted.total == 0:
        extra = f"; {unaccepted.unknown} item(s) could not be compared" if unaccepted.unknown else ""
        return "False", REASON_IN_SYNC, f"the newest snapshots match the accepted ones{extra}"
    counts = ", ".join(f"{s}: {n}" for s, n in _by_rank(unaccepted.by_severity))
    namespace, _, name = tenant.rpartition("/")
    since = unaccepted.since.strftime("%Y-%m-%d %H:%M UTC") if unaccepted.since else "unknown"
    return (
        "True",
        REASON_UNACCEPTED,
        f"{unaccepted.total} unaccepted change(s) ({counts}) in {', '.join(unaccepted.types)} since {since}; "
        f"review with `jiradrift drift list --tenant {name} -n {namespace} --unaccepted`, "
        f"accept with `jiradrift accept {name} -n {namespace}`",
    )


def _by_rank(counts: Mapping[str, int]) -> Sequence[tuple[str, int]]:
    rank = {s.value: s.rank for s in Severity}
    return sorted(((s, n) for s, n in counts.items() if n), key=lambda sn: -rank.get(sn[0], 0))


def accept_patch(by: str, at: datetime) -> dict[str, Any]:
    """The merge patch that accepts a Snapshot."""
    return {
        "metadata": {
            "labels": {LABEL_ACCEPTED: ACCEPTED},
            "annotations": {
                ANNOTATION_ACCEPTED_AT: at.isoformat().replace("+00:00", "Z"),
                ANNOTATION_ACCEPTED_BY: by[:253],
            },
        }
    }


UNACCEPT_PATCH: dict[str, Any] = {
    "metadata": {
        "labels": {LABEL_ACCEPTED: None},
        "annotations": {ANNOTATION_ACCEPTED_AT: None, ANNOTATION_ACCEPTED_BY: None},
    }
}
