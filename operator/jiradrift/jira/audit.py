"""Who changed it: match drifted items to Jira's audit log.

Jira's audit log says *that* a workflow was edited and by whom, rarely what changed; a snapshot
diff says exactly what changed but not who. Matching the two, for the window between a snapshot
and its baseline, gives an admin both. Attribution is best effort: a token without the audit
scope, or an entry that names the object differently, simply leaves a change unattributed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jiradrift.jira.paging import JsonSource, ParamList, audit_pages
from jiradrift.redact import clip

MAX_RECORDS = 2000  # a bound on what one attribution may read (two pages of 1,000)
SKEW = timedelta(minutes=1)


@dataclass(frozen=True)
class AuditEntry:
    summary: str
    author: str
    created: str
    object_name: str
    object_type: str
    object_id: str

    def describe(self) -> str:
        """One line for a status field or an Event: ``'Workflow updated' by <author> at <time>``."""
        return clip(f"{self.summary!r} by {self.author or 'unknown'} at {self.created}", 256)


def _jira_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _entry(record: dict[str, Any]) -> AuditEntry:
    item = record.get("objectItem") or {}
    return AuditEntry(
        summary=str(record.get("summary") or ""),
        author=str(record.get("authorAccountId") or record.get("authorKey") or ""),
        created=str(record.get("created") or ""),
        object_name=str(item.get("name") or ""),
        object_type=str(item.get("typeName") or ""),
        object_id=str(item.get("id") or ""),
    )


async def audit_entries(
    client: JsonSource, since: datetime, until: datetime, *, max_records: int = MAX_RECORDS
) -> list[AuditEntry]:
    """Audit records created in ``[since, until]``, newest first, at most ``max_records``."""
    entries: list[AuditEntry] = []
    # Widened by a minute each side: the API takes whole seconds, and Jira's clock is not ours.
    params: ParamList = [("from", _jira_time(since - SKEW)), ("to", _jira_time(until + SKEW))]
    async for page in audit_pages(client, "/auditing/record", params, limit=min(1000, max_records)):
        entries.extend(_entry(r) for r in page if isinstance(r, dict))
        if len(entries) >= max_records:
            break
    return entries[:max_records]


def attribute(items: Iterable[tuple[str, str | None]], entries: list[AuditEntry]) -> dict[str, AuditEntry]:
    """``(item key, item name)`` pairs -> the newest audit entry about that item.

    An entry is about an item when its object name equals the item's name (case-insensitive), or,
    failing that, when its object id equals the item's stable id (the part of the key after ``/``)
    *and* its object type names the item's kind (ids repeat across kinds: status 10001 is not
    field configuration 10001). ``entries`` are newest first, as :func:`audit_entries` returns them.
    """
    by_name: dict[str, AuditEntry] = {}
    by_id: dict[str, list[AuditEntry]] = {}
    for candidate in entries:
        if candidate.object_name:
            by_name.setdefault(candidate.object_name.casefold(), candidate)
        if candidate.object_id:
            by_id.setdefault(candidate.object_id, []).append(candidate)
    found: dict[str, AuditEntry] = {}
    for key, name in items:
        kind, _, stable_id = key.partition("/")
        entry: AuditEntry | None = by_name.get(name.casefold()) if name else None
        if entry is None:
            words = kind.replace("-", " ")
            entry = next(
                (e for e in by_id.get(stable_id, []) if words in e.object_type.casefold().replace("-", " ")), None
            )
        if entry is not None:
            found[key] = entry
    return found
