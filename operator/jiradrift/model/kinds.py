"""Configuration kinds: the unit a snapshot item belongs to, its snapshot type and diff severity.

Item keys in a manifest are ``<kind>/<stable id>`` where the stable id is Jira's own id
(``field/customfield_10010``, ``workflow/<entityId>``), so a rename shows up as a change of
``name`` on one item (reported as *renamed*), never as a removal plus an addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jiradrift.model.snapshot_types import SnapshotType


class Severity(StrEnum):
    LOW = "low"  # layout and cosmetics
    MEDIUM = "medium"  # workflows, fields, issue types, projects
    HIGH = "high"  # who can see or do what

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]


@dataclass(frozen=True)
class Kind:
    name: str
    snapshot_type: SnapshotType
    severity: Severity
    description: str


_T = SnapshotType
_S = Severity

KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("configuration", _T.INSTANCE, _S.LOW, "global feature toggles"),
        Kind("application-property", _T.INSTANCE, _S.MEDIUM, "advanced settings"),
        Kind("application-role", _T.INSTANCE, _S.HIGH, "product access roles and default groups"),
        Kind("issue-event", _T.INSTANCE, _S.LOW, "issue event types"),
        Kind("permission-key", _T.INSTANCE, _S.LOW, "permission keys, including app-defined ones"),
        Kind("timetracking", _T.INSTANCE, _S.LOW, "time tracking provider and options"),
        Kind("field", _T.FIELDS, _S.MEDIUM, "system and custom fields"),
        Kind("field-context", _T.FIELDS, _S.MEDIUM, "custom field contexts with mappings, default and options"),
        Kind("issuetype", _T.ISSUETYPES, _S.MEDIUM, "issue types"),
        Kind("issuetype-scheme", _T.ISSUETYPES, _S.MEDIUM, "issue type schemes with ordered issue types"),
        Kind("issuetype-screen-scheme", _T.ISSUETYPES, _S.LOW, "issue type screen schemes with mappings"),
        Kind("screen", _T.SCREENS, _S.LOW, "screens with ordered tabs and fields"),
        Kind("screen-scheme", _T.SCREENS, _S.LOW, "screen schemes"),
        Kind("field-configuration", _T.SCREENS, _S.MEDIUM, "field configurations with items"),
        Kind("field-configuration-scheme", _T.SCREENS, _S.MEDIUM, "field configuration schemes with mappings"),
        Kind("status", _T.WORKFLOWS, _S.MEDIUM, "statuses"),
        Kind("status-category", _T.WORKFLOWS, _S.LOW, "status categories"),
        Kind("workflow", _T.WORKFLOWS, _S.MEDIUM, "workflows with statuses and transitions"),
        Kind("workflow-scheme", _T.WORKFLOWS, _S.MEDIUM, "workflow schemes"),
        Kind("priority", _T.PRIORITIES, _S.LOW, "priorities"),
        Kind("priority-scheme", _T.PRIORITIES, _S.LOW, "priority schemes"),
        Kind("resolution", _T.PRIORITIES, _S.LOW, "resolutions"),
        Kind("issue-link-type", _T.PRIORITIES, _S.LOW, "issue link types"),
        Kind("permission-scheme", _T.SCHEMES, _S.HIGH, "permission schemes with grants"),
        Kind("notification-scheme", _T.SCHEMES, _S.MEDIUM, "notification schemes"),
        Kind("issue-security-scheme", _T.SCHEMES, _S.HIGH, "issue security schemes with levels and members"),
        Kind("project", _T.PROJECTS, _S.MEDIUM, "projects with scheme associations and components"),
        Kind("project-role", _T.PROJECTS, _S.HIGH, "project roles"),
        Kind("project-category", _T.PROJECTS, _S.LOW, "project categories"),
    ]
}


def kind_of_key(item_key: str) -> str:
    """``"workflow/abc"`` -> ``"workflow"``."""
    return item_key.split("/", 1)[0]


def severity_of_key(item_key: str) -> Severity:
    kind = KINDS.get(kind_of_key(item_key))
    return kind.severity if kind else Severity.MEDIUM


def kinds_for(snapshot_type: SnapshotType | str) -> list[Kind]:
    return [k for k in KINDS.values() if k.snapshot_type == snapshot_type]
