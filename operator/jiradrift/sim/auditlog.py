"""Jira's audit log, emulated honestly: what it records, how it names it, and when it shows it.

Every admin mutation of the emulator names the object it changed (:class:`AuditedObject`, with our
catalog kind). :class:`AuditPolicy` turns that into an ``AuditRecordBean`` the way Jira does:

- the ``category`` and ``objectItem.typeName`` of the kind (:data:`AUDIT_TYPES`: Jira's auditing
  categories and ``AssociatedItem`` types), the object's own id and name, its parent where it has
  one, ``associatedItems`` and ``changedValues`` where Jira gives them;
- kinds Atlassian does not document as audited (statuses, priorities, resolutions, field
  configurations; jira-api.md section 9) record nothing by default (``unaudited``), so a client
  that trusts the audit log alone misses them, as it would against Jira;
- a record becomes visible ``delay_seconds`` after the change (Jira's latency is undocumented and
  entries do show up late), with ``created`` still the moment of the change, so a reader that
  does not overlap its windows loses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# kind -> (category, objectItem.typeName). Categories are Jira's auditing categories; a scheme's
# typeName is the generic SCHEME, told apart by its category, as Jira records it.
AUDIT_TYPES: dict[str, tuple[str, str]] = {
    "workflow": ("workflows", "WORKFLOW"),
    "workflow-scheme": ("workflows", "SCHEME"),
    "status": ("workflows", "STATUS"),
    "field": ("fields", "CUSTOM_FIELD"),
    "field-context": ("fields", "CUSTOM_FIELD"),
    "field-configuration": ("fields", "FIELD_CONFIGURATION"),
    "screen": ("screens", "SCREEN"),
    "permission-scheme": ("permissions", "SCHEME"),
    "notification-scheme": ("notifications", "SCHEME"),
    "project": ("projects", "PROJECT"),
    "priority": ("system", "PRIORITY"),
    "resolution": ("system", "RESOLUTION"),
    "configuration": ("system", "SYSTEM"),
}

# Not documented as audited by Atlassian: changes to these write no record unless a test says so.
DEFAULT_UNAUDITED: frozenset[str] = frozenset({"status", "priority", "resolution", "field-configuration"})


@dataclass(frozen=True)
class AuditedObject:
    """What a mutation changed, in our catalog's terms (``kind`` is a key of :data:`AUDIT_TYPES`)."""

    kind: str
    id: str
    name: str
    parent_id: str = ""
    parent_name: str = ""

    def item(self) -> dict[str, str]:
        """The ``AssociatedItemBean`` Jira writes for it."""
        body = {"id": self.id, "name": self.name, "typeName": AUDIT_TYPES[self.kind][1]}
        if self.parent_id:
            body.update(parentId=self.parent_id, parentName=self.parent_name)
        return body


@dataclass
class AuditPolicy:
    """Which kinds are audited and how late their records show up; change it while serving."""

    delay_seconds: float = 0.0
    unaudited: frozenset[str] = field(default=DEFAULT_UNAUDITED)

    def update(self, *, delay_seconds: float | None = None, unaudited: Iterable[str] | None = None) -> None:
        """Change the delay and/or the unaudited kinds; ValueError names a kind Jira has no category for."""
        if delay_seconds is not None:
            if delay_seconds < 0:
                raise ValueError(f"an audit delay is zero or more seconds, got {delay_seconds}")
            self.delay_seconds = float(delay_seconds)
        if unaudited is not None:
            kinds = frozenset(unaudited)
            unknown = sorted(kinds - AUDIT_TYPES.keys())
            if unknown:
                raise ValueError(f"unknown kinds {unknown}; use some of {', '.join(sorted(AUDIT_TYPES))}")
            self.unaudited = kinds

    def audits(self, kind: str) -> bool:
        if kind not in AUDIT_TYPES:
            raise ValueError(f"no audit category for kind {kind!r}; add it to AUDIT_TYPES")
        return kind not in self.unaudited
