"""Jira's audit log: who changed a drifted item, and which objects changed since a window.

Jira's audit log says *that* a workflow was edited and by whom, rarely what changed; a snapshot
diff says exactly what changed but not who. Matching the two, for the window between a snapshot
and its baseline, gives an admin both. Attribution is best effort: a token without the audit
scope, or an entry that names the object differently, simply leaves a change unattributed.

For incremental capture, :func:`read_audit_log` reads every record created in a window (which the
caller opens before the end of the last one: records show up late), deduplicated by record id, and
says how complete the read is (:class:`ReadStatus`); it never raises for an audit log that fails,
is cut short or is forbidden, because each of those must become a full capture, never a skip.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from jiradrift.jira.errors import JiraError, PermissionDenied
from jiradrift.jira.paging import JsonSource, ParamList, audit_pages
from jiradrift.jira.users import JiraUser
from jiradrift.model.report import DriftAuthor, ranked_authors
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
    author_name: str = ""  # the author's display name (jira.users), when read
    author_email: str = ""  # ...and e-mail address, when Jira shows it

    def who(self) -> str:
        """``Alice Admin (5b10a…)`` with the whole account id; the account id alone when the name is unknown."""
        return JiraUser(self.author, self.author_name).label() if self.author else "unknown"

    def describe(self) -> str:
        """One line for a status field or an Event: ``'Workflow updated' by <who> at <time>``."""
        return clip(f"{self.summary!r} by {self.who()} at {self.created}", 256)

    def named(self, user: JiraUser | None) -> AuditEntry:
        """This entry with its author's display name and e-mail (unchanged for None or another account)."""
        if user is None or user.account_id != self.author:
            return self
        return replace(self, author_name=user.display_name, author_email=user.email)


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


def drift_authors(attribution: Mapping[str, AuditEntry]) -> list[DriftAuthor]:
    """The authors of a report from its attribution (:func:`attribute`, then named), most changes first."""
    entries = list(attribution.values())
    names = {e.author: e.author_name for e in entries if e.author_name}
    emails = {e.author: e.author_email for e in entries if e.author_email}
    return ranked_authors((e.author for e in entries), names, emails)


# ------------------------------------------------------------------ incremental capture

MAX_WINDOW_RECORDS = 10_000  # a window with more changes than this is a full capture anyway
PAGE_SIZE = 1000  # the audit log's largest page


class ReadStatus(StrEnum):
    """How complete an audit read is. Anything but OK means the log cannot say what changed."""

    OK = "ok"
    FAILED = "failed"  # an error, a timeout, a malformed answer
    TRUNCATED = "truncated"  # more records than we read
    FORBIDDEN = "forbidden"  # the token may not read the audit log (scope, permission, Free plan)


@dataclass(frozen=True)
class AuditRecord:
    """One record, reduced to what decides a re-read: its id, when, and which object it names."""

    id: int
    created: datetime
    category: str
    type_name: str
    object_id: str
    object_name: str
    parent_id: str = ""


@dataclass(frozen=True)
class AuditRead:
    """The records created in ``[since, until]`` (each id once, newest first) and how complete that is."""

    since: datetime
    until: datetime
    status: ReadStatus
    records: tuple[AuditRecord, ...] = ()
    detail: str = ""  # why it is not OK, for a log line and the Snapshot status
    requests: int = 0
    duplicates: int = 0  # records served twice while paging (the log grew under us)


def jira_timestamp(moment: datetime) -> str:
    """Jira's form with milliseconds: ``2026-01-05T09:00:00.123+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_jira_time(raw: str) -> datetime:
    """``2014-03-19T18:45:42.967+0000`` (or RFC 3339) as an aware datetime; ValueError if neither."""
    text = raw.strip()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def audit_record(raw: Any) -> AuditRecord:
    """An ``AuditRecordBean`` as an :class:`AuditRecord`; ValueError naming what is missing."""
    if not isinstance(raw, dict):
        raise ValueError(f"an audit record is a JSON object, got {type(raw).__name__}")
    rid, created = raw.get("id"), raw.get("created")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise ValueError(f"audit record without an integer id: {clip(repr(rid), 60)}")
    if not isinstance(created, str):
        raise ValueError(f"audit record {rid} without a created time")
    item = raw.get("objectItem")
    if not isinstance(item, dict):
        item = {}
    return AuditRecord(
        id=rid,
        created=parse_jira_time(created),
        category=str(raw.get("category") or ""),
        type_name=str(item.get("typeName") or ""),
        object_id=str(item.get("id") or ""),
        object_name=str(item.get("name") or ""),
        parent_id=str(item.get("parentId") or ""),
    )


async def read_audit_log(
    client: JsonSource,
    since: datetime,
    until: datetime,
    *,
    max_records: int = MAX_WINDOW_RECORDS,
    page_size: int = PAGE_SIZE,
) -> AuditRead:
    """Every record created in ``[since, until]``, each id once, with the read's completeness.

    ``until`` is passed as ``to`` so records created later cannot shift the offsets mid-read; a
    late record that lands inside the window while we page shifts older ones down, which shows up
    as a duplicate (dropped and counted), never as a gap. Failures are returned, not raised.
    """
    params: ParamList = [("from", jira_timestamp(since)), ("to", jira_timestamp(until))]
    found: dict[int, AuditRecord] = {}
    served = 0
    counting = _Counting(client)

    def result(status: ReadStatus, detail: str = "") -> AuditRead:
        records = tuple(sorted(found.values(), key=lambda r: (r.created, r.id), reverse=True))
        return AuditRead(since, until, status, records, detail, counting.requests, served - len(found))

    # audit_pages is an async generator (typed as an iterator): close it when we stop early.
    pages = cast(
        AsyncGenerator[list[Any]],
        audit_pages(counting, "/auditing/record", params, limit=min(page_size, PAGE_SIZE)),
    )
    try:
        async with aclosing(pages):
            async for page in pages:
                for raw in page:
                    record = audit_record(raw)
                    served += 1
                    found.setdefault(record.id, record)
                if len(found) >= max_records and counting.more:
                    return result(ReadStatus.TRUNCATED, f"more than {max_records} records in the window")
    except PermissionDenied as exc:
        return result(ReadStatus.FORBIDDEN, clip(str(exc), 300))
    except (JiraError, ValueError) as exc:
        return result(ReadStatus.FAILED, clip(f"{type(exc).__name__}: {exc}", 300))
    return result(ReadStatus.OK)


class _Counting:
    """Counts requests and remembers whether the last page said more records follow."""

    def __init__(self, client: JsonSource) -> None:
        self._client = client
        self.requests = 0
        self.more = False

    async def get_json(self, path: str, params: Any = None) -> Any:
        self.requests += 1
        page = await self._client.get_json(path, params)
        if isinstance(page, dict):
            offset, total, records = page.get("offset"), page.get("total"), page.get("records")
            if isinstance(offset, int) and isinstance(total, int) and isinstance(records, list):
                self.more = offset + len(records) < total
        return page
