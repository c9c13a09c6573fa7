"""Cheap change probes: how an incremental window learns that a kind changed without the audit log.

Atlassian does not document statuses, priorities, resolutions, field configurations and most other
kinds as audited (jira-api.md section 9), so every window asks Jira a question per such kind that
costs one or two requests whatever the site's size, and compares the answer with the one the
previous window stored (:func:`fingerprint`):

- a whole listing where it fits a page or two (``GET /priority/search``, ``GET /statuscategory``);
- the first two pages of a longer listing, whose ``total`` also changes with any addition or removal;
- for kinds Jira lists by id (``BY_ID``), the digest of each object the listing shows, so a change
  re-reads only the objects whose listing entry changed when the listing was read whole;
- for workflows, one page of ``GET /workflows/search?orderBy=-updated``: which workflows were
  updated since a moment (:func:`updated_workflows`), a second signal beside the audit log.

A probe that fails answers ``None``: its kind is then re-read, never trusted unchanged. A probe
sees what its listing shows (names, descriptions, counts); a change only visible in a sub-read
(a field configuration's items, an issue security level's members) waits for the next full
capture, which counts it as missed (``snapshot.missed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import orjson

from jiradrift.jira.audit import parse_jira_time
from jiradrift.jira.catalog import BIG_PAGE, STATUS_PAGE, JiraReader
from jiradrift.jira.errors import JiraError, WriteRefused
from jiradrift.jira.paging import ParamList

WORKFLOW_PROBE_PAGE = 50  # one page of the most recently updated workflows
LISTING_PAGES = 2  # a listing probe reads at most this many pages
# Kinds whose objects a probe listing names by ``id`` and the capture can re-read by id.
BY_ID = frozenset({"field-configuration"})
BY_ID_PAGES = 5  # their listing is read whole up to this many pages (500 objects at Jira's 100 a page)


@dataclass(frozen=True)
class ProbeRead:
    """One request of a probe: a path, its query, and whether it is paged (first page only)."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    page_size: int | None = None  # None: unpaged; else pages from startAt=0 with maxResults=page_size
    pages: int = LISTING_PAGES  # at most this many pages


def _listing(path: str, *params: tuple[str, str], page: int = BIG_PAGE, pages: int = LISTING_PAGES) -> ProbeRead:
    return ProbeRead(path, tuple(params), page, pages)


def _read(path: str, *params: tuple[str, str]) -> ProbeRead:
    return ProbeRead(path, tuple(params))


# kind -> the reads whose answers fingerprint it. Every kind the audit coverage does not list has
# one (tests/snapshot/test_incremental_capture.py checks it); some audited kinds have one too, as a second signal.
PROBES: dict[str, tuple[ProbeRead, ...]] = {
    "configuration": (_read("/configuration"),),
    "application-property": (_read("/application-properties/advanced-settings"),),
    "application-role": (_read("/applicationrole"),),
    "issue-event": (_read("/events"),),
    "permission-key": (_read("/permissions"),),
    "timetracking": (_read("/configuration/timetracking"), _read("/configuration/timetracking/options")),
    "issuetype": (_read("/issuetype"),),
    "issuetype-scheme": (_listing("/issuetypescheme"), _listing("/issuetypescheme/mapping")),
    "issuetype-screen-scheme": (_listing("/issuetypescreenscheme"), _listing("/issuetypescreenscheme/mapping")),
    "screen-scheme": (_listing("/screenscheme"),),
    # read whole (a few pages even on big sites), so a change re-reads only the configurations it names
    "field-configuration": (_listing("/fieldconfiguration", pages=BY_ID_PAGES),),
    "field-configuration-scheme": (
        _listing("/fieldconfigurationscheme"),
        _listing("/fieldconfigurationscheme/mapping"),
    ),
    "status": (_listing("/statuses/search", page=STATUS_PAGE),),
    "status-category": (_read("/statuscategory"),),
    "priority": (_listing("/priority/search"),),
    "priority-scheme": (_listing("/priorityscheme", ("expand", "priorities,projects")),),
    "resolution": (_listing("/resolution/search"),),
    "issue-link-type": (_read("/issueLinkType"),),
    "issue-security-scheme": (_read("/issuesecurityschemes"),),
    "project-role": (_read("/role"),),
    "project-category": (_read("/projectCategory"),),
    # audited, and one request: a second signal beside the audit log
    "permission-scheme": (_read("/permissionscheme", ("expand", "all")),),
}


def fingerprint(answers: Collection[object]) -> str:
    """sha256 over the probe's answers in canonical JSON: equal answers, equal fingerprint."""
    h = hashlib.sha256()
    for answer in answers:
        h.update(orjson.dumps(answer, option=orjson.OPT_SORT_KEYS))
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class ProbeAnswer:
    """A kind's fingerprint now, and for a ``BY_ID`` kind whose listing was read whole, each
    object's digest by id (None otherwise)."""

    fingerprint: str
    objects: dict[str, str] | None = None


async def probe_kind(client: JiraReader, kind: str) -> ProbeAnswer | None:
    """The kind's probe answer now, or None when a read failed (the caller then re-reads the kind)."""
    answers: list[object] = []
    objects: dict[str, str] | None = {} if kind in BY_ID else None
    try:
        for read in PROBES[kind]:
            if read.page_size is None:
                answers.append(await client.get_json(read.path, list(read.params) or None))
                continue
            start, whole = 0, False
            for _ in range(read.pages):
                params: ParamList = [*read.params, ("startAt", str(start)), ("maxResults", str(read.page_size))]
                page = await client.get_json(read.path, params)
                answers.append(page)
                values = page.get("values") if isinstance(page, dict) else None
                if not isinstance(values, list):
                    break
                if objects is not None:
                    for obj in values:
                        objects[str(obj["id"])] = fingerprint([obj])
                start += len(values)
                if page.get("isLast") is True or not values:
                    whole = True
                    break
            if not whole:
                objects = None
    except WriteRefused:
        raise
    except (JiraError, KeyError, TypeError):
        return None
    return ProbeAnswer(fingerprint(answers), objects)


async def updated_workflows(client: JiraReader, since: datetime) -> set[str] | None:
    """Ids of workflows updated at or after ``since``, from one page ordered by ``-updated``; None
    when the read failed or the whole page is that recent (more may follow: re-list the kind)."""
    params: ParamList = [("orderBy", "-updated"), ("startAt", "0"), ("maxResults", str(WORKFLOW_PROBE_PAGE))]
    try:
        page = await client.get_json("/workflows/search", params)
        values = page.get("values") if isinstance(page, dict) else None
        if not isinstance(values, list):
            return None
        recent: set[str] = set()
        for wf in values:
            stamp = wf.get("updated") if isinstance(wf, dict) else None
            if not isinstance(stamp, str) or parse_jira_time(stamp) < since:
                return recent
            recent.add(str(wf["id"]))
    except WriteRefused:
        raise
    except (JiraError, KeyError, ValueError):
        return None
    return None if page.get("isLast") is False or len(values) >= WORKFLOW_PROBE_PAGE else recent
