"""The catalog: for every config kind, where Jira serves it, how it pages, its stable key, and how
it is normalised. Sources run in jira-api.md section 7 order.

A *source* reads one or more kinds (the field source emits ``field`` and ``field-context`` from one
``/field`` call). It streams: each page is turned into items and handed to the sink before the
next page is fetched, and per-object sub-reads (contexts, options, tab fields, role actors) run
concurrently under a bound. A failing object or endpoint is reported to the sink and skipped.

    for source in sources_for(SnapshotType.FIELDS):
        await source.collect(jira, sink)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from jiradrift.jira.errors import JiraError, JiraHTTPError, WriteRefused
from jiradrift.jira.normalise import Json, clean, is_team_managed, omit, pick, sorted_list, stable_id
from jiradrift.jira.paging import ParamList, batches, offset_pages, plain_list, repeat, wrapped_list
from jiradrift.model.kinds import KINDS
from jiradrift.model.snapshot_types import SnapshotType

T = TypeVar("T")

# Request the documented cap where Jira documents one; elsewhere ask for 1000 and let Jira clamp.
BIG_PAGE = 1000
STATUS_PAGE = 200  # /statuses/search fails above 200
TABS_PAGE = 100  # /screens/tabs: maxResult, max 100
SCREEN_IDS_PER_TABS_CALL = 100
WORKFLOW_BATCH = 200  # POST /workflows ids per call
PROJECT_IDS_PER_CALL = 50  # scheme-association filters; /workflowscheme/project takes at most 100
SUBREQUEST_CONCURRENCY = 16
CF_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
OPTION_TYPES = frozenset({"select", "multiselect", "radiobuttons", "multicheckboxes", "cascadingselect"})


class JiraReader(Protocol):
    async def get_json(self, path: str, params: Any = None) -> Any: ...

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any: ...


class Sink(Protocol):
    """Where a source puts what it read: ``item`` for each normalised object, ``error`` for failures."""

    def item(self, kind: str, ident: str, body: Json) -> None: ...

    def error(self, kind: str, endpoint: str, exc: BaseException, key: str | None = None) -> None: ...


Collect = Callable[[JiraReader, Sink], Awaitable[None]]


@dataclass(frozen=True)
class Dependent:
    """A kind listed through the items of another: ``field-context`` is read per ``field``, so when
    the parent listing (``GET /field``) fails, its contexts are unknown, never removed."""

    kind: str
    parent: str
    parent_listing: str  # the read that lists the parents, as in ``Source.endpoints``


@dataclass(frozen=True)
class Source:
    """One entry of the catalog (its fields are the documentation of how a kind is read)."""

    name: str
    kinds: tuple[str, ...]
    endpoints: tuple[str, ...]
    paging: str
    key: str
    collect: Collect
    dependents: tuple[Dependent, ...] = ()

    @property
    def snapshot_type(self) -> SnapshotType:
        return KINDS[self.kinds[0]].snapshot_type


@contextlib.contextmanager
def recorded(sink: Sink, kind: str, endpoint: str, key: str | None = None) -> Iterator[None]:
    """Run a read; if it fails, record the failure on the sink and carry on (a write attempt is a bug: re-raise)."""
    try:
        yield
    except WriteRefused:
        raise
    except (JiraError, KeyError, TypeError, ValueError, AttributeError) as exc:
        sink.error(kind, endpoint, exc, key)


async def for_each(
    items: Iterable[T], work: Callable[[T], Awaitable[None]], limit: int = SUBREQUEST_CONCURRENCY
) -> None:
    """Run ``work`` on every item, at most ``limit`` at a time (the client bounds requests further)."""
    queue = list(items)
    if not queue:
        return
    iterator = iter(queue)

    async def worker() -> None:
        for item in iterator:
            await work(item)

    await asyncio.gather(*(worker() for _ in range(min(limit, len(queue)))))


def _emit_all(
    sink: Sink, kind: str, objects: Iterable[Json], normalise: Callable[[Json], Json], key: str = "id"
) -> None:
    for obj in objects:
        with recorded(sink, kind, "", None):
            if is_team_managed(obj):
                continue
            sink.item(kind, stable_id(obj, key), normalise(obj))


def _holder(holder: Any) -> Json:
    """A permission/notification/security holder reduced to what identifies it (no expanded objects)."""
    if not isinstance(holder, dict):
        return {}
    return pick(holder, "type", "parameter", "notificationType", "recipient")


# ---------------------------------------------------------------------------- 1. instance


async def collect_configuration(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "configuration", "GET /configuration"):
        sink.item("configuration", "global", clean(await jira.get_json("/configuration")))


async def collect_application_properties(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "application-property", "GET /application-properties/advanced-settings"):
        _emit_all(
            sink,
            "application-property",
            await plain_list(jira, "/application-properties/advanced-settings"),
            clean,
        )


def _application_role(role: Json) -> Json:
    body = clean(role)
    for key in ("groups", "defaultGroups"):
        if isinstance(body.get(key), list):
            body[key] = sorted_list(body[key])
    for key in ("groupDetails", "defaultGroupsDetails"):
        if isinstance(body.get(key), list):
            body[key] = sorted_list(body[key], key=lambda g: (g.get("groupId"), g.get("name")))
    return body


async def collect_application_roles(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "application-role", "GET /applicationrole"):
        _emit_all(sink, "application-role", await plain_list(jira, "/applicationrole"), _application_role, key="key")


async def collect_events(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "issue-event", "GET /events"):
        _emit_all(sink, "issue-event", await plain_list(jira, "/events"), clean)


async def collect_permission_keys(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "permission-key", "GET /permissions"):
        data = await jira.get_json("/permissions")
        for key, body in sorted((data.get("permissions") or {}).items()):
            sink.item("permission-key", key, clean(body))


async def collect_timetracking(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "timetracking", "GET /configuration/timetracking"):
        provider = await jira.get_json("/configuration/timetracking")
        options = await jira.get_json("/configuration/timetracking/options")
        sink.item("timetracking", "global", clean({"provider": provider or None, "options": options}))


# ---------------------------------------------------------------------------- 2. fields


def _custom_type(field: Json) -> str | None:
    custom = (field.get("schema") or {}).get("custom")
    if isinstance(custom, str) and custom.startswith(CF_PREFIX):
        return custom[len(CF_PREFIX) :]
    return None


def _field(field: Json) -> Json:
    body = clean(field)
    if isinstance(body.get("clauseNames"), list):
        body["clauseNames"] = sorted(body["clauseNames"])
    return body


async def _all(pages: Any) -> list[Any]:
    """Collect a (small, per-object) paged list: contexts of one field, options of one context."""
    out: list[Any] = []
    async for page in pages:
        out.extend(page)
    return out


async def _field_contexts(jira: JiraReader, sink: Sink, field: Json) -> None:
    fid = field["id"]
    base = f"/field/{fid}/context"
    contexts: list[Json] = []
    with recorded(sink, "field-context", f"GET {base}", f"field/{fid}"):
        contexts = await _all(offset_pages(jira, base, page_size=BIG_PAGE))
    if not contexts:
        return
    issue_types: dict[str, list[str]] = defaultdict(list)
    projects: dict[str, list[str]] = defaultdict(list)
    defaults: dict[str, Json] = {}
    failed = False
    # Mappings only add information when some context is restricted.
    if not all(c.get("isAnyIssueType", False) for c in contexts):
        failed = True
        with recorded(sink, "field-context", f"GET {base}/issuetypemapping", f"field/{fid}"):
            for m in await _all(offset_pages(jira, f"{base}/issuetypemapping", page_size=BIG_PAGE)):
                if not m.get("isAnyIssueType") and m.get("issueTypeId") is not None:
                    issue_types[str(m["contextId"])].append(str(m["issueTypeId"]))
            failed = False
    if not all(c.get("isGlobalContext", False) for c in contexts):
        failed = True
        with recorded(sink, "field-context", f"GET {base}/projectmapping", f"field/{fid}"):
            for m in await _all(offset_pages(jira, f"{base}/projectmapping", page_size=BIG_PAGE)):
                if not m.get("isGlobalContext") and m.get("projectId") is not None:
                    projects[str(m["contextId"])].append(str(m["projectId"]))
            failed = False
    ctype = _custom_type(field)
    if ctype is not None:
        try:
            for d in await _all(offset_pages(jira, f"{base}/defaultValue", page_size=BIG_PAGE)):
                defaults[str(d.get("contextId"))] = omit(d, "contextId")
        except JiraHTTPError as exc:
            if exc.status != 400:  # unsupported field types answer 400: they simply have no default
                sink.error("field-context", f"GET {base}/defaultValue", exc, f"field/{fid}")
                failed = True
    if failed:
        return  # an item without its mappings would look like drift; the error marks the snapshot incomplete

    async def one(ctx: Json) -> None:
        cid = str(ctx["id"])
        with recorded(sink, "field-context", f"GET {base}/{cid}/option", f"field-context/{cid}"):
            options: list[Json] = []
            if ctype in OPTION_TYPES:
                options = [clean(o) for o in await _all(offset_pages(jira, f"{base}/{cid}/option", page_size=BIG_PAGE))]
            body = clean(ctx)
            body.update(
                fieldId=fid,
                issueTypeIds=sorted(issue_types.get(cid, [])),
                projectIds=sorted(projects.get(cid, [])),
                defaultValue=defaults.get(cid),
                options=options,  # order is configuration: kept
            )
            sink.item("field-context", cid, body)

    await for_each(contexts, one, limit=4)


async def collect_field_list(jira: JiraReader, sink: Sink) -> list[Json]:
    """The ``field`` kind alone (one ``GET /field``); returns the custom fields whose contexts a full
    read would list. Raises JiraError."""
    fields = await plain_list(jira, "/field")
    _emit_all(sink, "field", fields, _field)
    return [f for f in fields if f.get("custom") and not is_team_managed(f) and f.get("scope") is None]


async def collect_field_contexts(jira: JiraReader, sink: Sink, field: Json) -> None:
    """The ``field-context`` items of one custom field, exactly as the full read produces them."""
    await _field_contexts(jira, sink, field)


async def collect_fields(jira: JiraReader, sink: Sink) -> None:
    fields: list[Json] = []
    with recorded(sink, "field", "GET /field"):
        fields = await plain_list(jira, "/field")
    _emit_all(sink, "field", fields, _field)
    custom = [f for f in fields if f.get("custom") and not is_team_managed(f) and f.get("scope") is None]
    del fields

    async def contexts(field: Json) -> None:
        await _field_contexts(jira, sink, field)

    await for_each(custom, contexts)


# ---------------------------------------------------------------------------- 3. issue types, screens


async def collect_issue_types(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "issuetype", "GET /issuetype"):
        types = [t for t in await plain_list(jira, "/issuetype") if "entityId" not in t]
        _emit_all(sink, "issuetype", types, clean)


async def _mapped_schemes(
    jira: JiraReader,
    sink: Sink,
    *,
    kind: str,
    path: str,
    mapping_path: str,
    filter_param: str,
    scheme_field: str,
    mapping_normalise: Callable[[Json], Json],
    ordered: bool,
    page_size: int = BIG_PAGE,
    params: ParamList | None = None,
) -> None:
    """Schemes paged from ``path``; their mappings fetched per page of scheme ids (bounded memory)."""
    with recorded(sink, kind, f"GET {path}"):
        async for page in offset_pages(jira, path, params, page_size=page_size):
            ids = [str(s["id"]) for s in page]
            mappings: dict[str, list[Json]] = defaultdict(list)
            with recorded(sink, kind, f"GET {mapping_path}"):
                for batch in batches(ids, 50):
                    async for mpage in offset_pages(
                        jira, mapping_path, repeat(filter_param, batch), page_size=BIG_PAGE
                    ):
                        for m in mpage:
                            mappings[str(m[scheme_field])].append(mapping_normalise(omit(m, scheme_field)))
                for scheme in page:
                    with recorded(sink, kind, f"GET {path}", f"{kind}/{scheme.get('id')}"):
                        if is_team_managed(scheme):
                            continue
                        body = clean(scheme)
                        items = mappings.get(str(scheme["id"]), [])
                        body["mappings"] = items if ordered else sorted_list(items)
                        sink.item(kind, str(scheme["id"]), body)


async def collect_issue_type_schemes(jira: JiraReader, sink: Sink) -> None:
    await _mapped_schemes(
        jira,
        sink,
        kind="issuetype-scheme",
        path="/issuetypescheme",
        mapping_path="/issuetypescheme/mapping",
        filter_param="issueTypeSchemeId",
        scheme_field="issueTypeSchemeId",
        mapping_normalise=clean,
        ordered=True,  # the display order of issue types in a scheme is configuration
    )


async def collect_issue_type_screen_schemes(jira: JiraReader, sink: Sink) -> None:
    await _mapped_schemes(
        jira,
        sink,
        kind="issuetype-screen-scheme",
        path="/issuetypescreenscheme",
        mapping_path="/issuetypescreenscheme/mapping",
        filter_param="issueTypeScreenSchemeId",
        scheme_field="issueTypeScreenSchemeId",
        mapping_normalise=clean,
        ordered=False,
    )


async def collect_screen_schemes(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "screen-scheme", "GET /screenscheme"):
        async for page in offset_pages(jira, "/screenscheme", page_size=BIG_PAGE):
            _emit_all(sink, "screen-scheme", page, lambda s: clean(s, frozenset({"issueTypeScreenSchemes"})))


def _id_filters(ids: list[str] | None, per_call: int = 50) -> list[ParamList | None]:
    """No filter (the whole listing), or ``id=`` filters of at most ``per_call`` ids each."""
    if ids is None:
        return [None]
    return [[("id", i) for i in batch] for batch in batches(sorted(ids), per_call)]


async def collect_screens(jira: JiraReader, sink: Sink, ids: list[str] | None = None) -> None:
    """``/screens`` pages; tabs of up to 100 screens per ``/screens/tabs`` call; fields per tab.
    With ``ids``, only those screens (``/screens?id=``: an incremental re-read)."""
    for params in _id_filters(ids):
        await _collect_screens(jira, sink, params)


async def _collect_screens(jira: JiraReader, sink: Sink, params: ParamList | None) -> None:
    with recorded(sink, "screen", "GET /screens"):
        async for page in offset_pages(jira, "/screens", params, page_size=BIG_PAGE):
            screens = [s for s in page if not is_team_managed(s)]
            for chunk in batches(screens, SCREEN_IDS_PER_TABS_CALL):
                await _screen_chunk(jira, sink, chunk)


async def _screen_chunk(jira: JiraReader, sink: Sink, screens: list[Json]) -> None:
    tabs: dict[str, list[Json]] = defaultdict(list)
    ids = [str(s["id"]) for s in screens]
    tabs_failed = True
    with recorded(sink, "screen", "GET /screens/tabs"):
        async for page in offset_pages(
            jira, "/screens/tabs", repeat("screenId", ids), page_size=TABS_PAGE, size_param="maxResult"
        ):
            for tab in page:
                tabs[str(tab["screenId"])].append({"id": str(tab["tabId"]), "name": tab.get("tabName")})
        tabs_failed = False
    if tabs_failed:
        return
    fields: dict[tuple[str, str], list[Json]] = {}
    failed: set[str] = set()

    async def tab_fields(pair: tuple[str, Json]) -> None:
        sid, tab = pair
        endpoint = f"GET /screens/{sid}/tabs/{tab['id']}/fields"
        try:
            raw = await plain_list(jira, f"/screens/{sid}/tabs/{tab['id']}/fields")
            fields[(sid, tab["id"])] = [pick(clean(f), "id", "name") for f in raw]  # order is configuration
        except WriteRefused:
            raise
        except JiraError as exc:
            failed.add(sid)
            sink.error("screen", endpoint, exc, f"screen/{sid}")

    await for_each([(sid, t) for sid in ids for t in tabs.get(sid, [])], tab_fields)
    for screen in screens:
        sid = str(screen["id"])
        if sid in failed:
            continue
        body = clean(screen)
        body["tabs"] = [{**t, "fields": fields.get((sid, t["id"]), [])} for t in tabs.get(sid, [])]
        sink.item("screen", sid, body)


async def collect_field_configurations(jira: JiraReader, sink: Sink, ids: list[str] | None = None) -> None:
    """Every field configuration with its items, or only those of ``ids`` (``?id=``)."""
    for params in _id_filters(ids):
        await _collect_field_configurations(jira, sink, params)


async def _collect_field_configurations(jira: JiraReader, sink: Sink, params: ParamList | None) -> None:
    with recorded(sink, "field-configuration", "GET /fieldconfiguration"):
        async for page in offset_pages(jira, "/fieldconfiguration", params, page_size=BIG_PAGE):

            async def one(fc: Json) -> None:
                fcid = str(fc["id"])
                with recorded(
                    sink,
                    "field-configuration",
                    f"GET /fieldconfiguration/{fcid}/fields",
                    f"field-configuration/{fcid}",
                ):
                    items = await _all(offset_pages(jira, f"/fieldconfiguration/{fcid}/fields", page_size=BIG_PAGE))
                    body = clean(fc)
                    body["items"] = sorted_list((clean(i) for i in items), key=lambda i: i.get("id"))
                    sink.item("field-configuration", fcid, body)

            await for_each(page, one)


async def collect_field_configuration_schemes(jira: JiraReader, sink: Sink) -> None:
    await _mapped_schemes(
        jira,
        sink,
        kind="field-configuration-scheme",
        path="/fieldconfigurationscheme",
        mapping_path="/fieldconfigurationscheme/mapping",
        filter_param="fieldConfigurationSchemeId",
        scheme_field="fieldConfigurationSchemeId",
        mapping_normalise=clean,
        ordered=False,
    )


# ---------------------------------------------------------------------------- 4. workflows


async def collect_statuses(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "status", "GET /statuses/search"):
        async for page in offset_pages(jira, "/statuses/search", page_size=STATUS_PAGE):
            _emit_all(sink, "status", page, lambda s: clean(s, frozenset({"scope", "icon", "resolved"})))


async def collect_status_categories(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "status-category", "GET /statuscategory"):
        _emit_all(sink, "status-category", await plain_list(jira, "/statuscategory"), clean)


WORKFLOW_VOLATILE = frozenset({"version", "created", "updated", "taskId"})


def _workflow(wf: Json) -> Json:
    return clean(wf, WORKFLOW_VOLATILE)


async def collect_workflows(jira: JiraReader, sink: Sink) -> None:
    """``/workflows/search`` for ids (company-managed only), then ``POST /workflows`` per batch."""
    with recorded(sink, "workflow", "GET /workflows/search"):
        async for page in offset_pages(jira, "/workflows/search", page_size=BIG_PAGE):
            ids = [str(w["id"]) for w in page if not is_team_managed(w)]
            for batch in batches(ids, WORKFLOW_BATCH):
                with recorded(sink, "workflow", "POST /workflows"):
                    data = await jira.post_read("/workflows", {"workflowIds": batch})
                    _emit_all(sink, "workflow", data.get("workflows") or [], _workflow)


async def collect_workflows_by_id(jira: JiraReader, sink: Sink, ids: list[str]) -> set[str]:
    """Re-read some workflows by id (``POST /workflows``, as the full read does): the ids Jira
    answered for. Raises JiraError (the caller re-lists the kind instead)."""
    found: set[str] = set()
    for batch in batches(sorted(ids), WORKFLOW_BATCH):
        data = await jira.post_read("/workflows", {"workflowIds": batch})
        workflows = [w for w in data.get("workflows") or [] if str(w.get("id")) in batch]
        found.update(str(w["id"]) for w in workflows)
        _emit_all(sink, "workflow", workflows, _workflow)
    return found


def _workflow_scheme(scheme: Json) -> Json:
    body = clean(scheme, frozenset({"version", "taskId"}))
    default = body.get("defaultWorkflow")
    if isinstance(default, dict):
        body["defaultWorkflow"] = pick(default, "id", "name")
    entries = []
    for entry in body.get("workflowsForIssueTypes") or []:
        wf = entry.get("workflow")
        e = dict(entry)
        if isinstance(wf, dict):
            e["workflow"] = pick(wf, "id", "name")
        if isinstance(e.get("issueTypeIds"), list):
            e["issueTypeIds"] = sorted(e["issueTypeIds"])
        if isinstance(e.get("issueTypes"), list):
            e["issueTypes"] = sorted_list(e["issueTypes"], key=lambda t: t.get("id") if isinstance(t, dict) else t)
        entries.append(e)
    if "workflowsForIssueTypes" in body:
        body["workflowsForIssueTypes"] = sorted_list(entries)
    return body


async def collect_workflow_schemes(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "workflow-scheme", "GET /workflowscheme"):
        async for page in offset_pages(jira, "/workflowscheme", page_size=BIG_PAGE):
            ids = [str(s["id"]) for s in page if not is_team_managed(s)]
            if not ids:
                continue
            with recorded(sink, "workflow-scheme", "POST /workflowscheme/read"):
                schemes = await jira.post_read("/workflowscheme/read", {"workflowSchemeIds": ids})
                _emit_all(sink, "workflow-scheme", schemes if isinstance(schemes, list) else [], _workflow_scheme)


# ---------------------------------------------------------------------------- 5. priorities


async def collect_priorities(jira: JiraReader, sink: Sink) -> None:
    # /priority/search has no granular scope (jira-api.md 4.5): a token with only the granular
    # read scopes gets 403 there, so fall back to the older /priority list (read:priority:jira).
    forbidden = False
    with recorded(sink, "priority", "GET /priority/search"):
        try:
            async for page in offset_pages(jira, "/priority/search", page_size=BIG_PAGE):
                _emit_all(sink, "priority", page, clean)
        except JiraHTTPError as exc:
            if exc.status != 403:
                raise
            forbidden = True
    if forbidden:
        with recorded(sink, "priority", "GET /priority"):
            _emit_all(sink, "priority", await plain_list(jira, "/priority"), clean)


async def _nested_rest(jira: JiraReader, path: str, nested: Any) -> list[Json]:
    """A nested PageBean inside a parent object: its first page is inline, the rest is fetched."""
    if not isinstance(nested, dict):
        return []
    items: list[Json] = []
    async for page in offset_pages(jira, path, page_size=BIG_PAGE, first_page=nested):
        items.extend(page)
    return items


async def collect_priority_schemes(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "priority-scheme", "GET /priorityscheme"):
        async for page in offset_pages(
            jira, "/priorityscheme", [("expand", "priorities,projects")], page_size=BIG_PAGE
        ):

            async def one(scheme: Json) -> None:
                sid = str(scheme["id"])
                with recorded(
                    sink, "priority-scheme", f"GET /priorityscheme/{sid}/priorities", f"priority-scheme/{sid}"
                ):
                    priorities = await _nested_rest(jira, f"/priorityscheme/{sid}/priorities", scheme.get("priorities"))
                    projects = await _nested_rest(jira, f"/priorityscheme/{sid}/projects", scheme.get("projects"))
                    body = clean(omit(scheme, "priorities", "projects"))
                    body["priorityIds"] = [str(p["id"]) for p in priorities]  # sequence order is configuration
                    body["projectIds"] = sorted(str(p["id"]) for p in projects)
                    sink.item("priority-scheme", sid, body)

            await for_each(page, one)


async def collect_resolutions(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "resolution", "GET /resolution/search"):
        async for page in offset_pages(jira, "/resolution/search", page_size=BIG_PAGE):
            _emit_all(sink, "resolution", page, clean)


async def collect_link_types(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "issue-link-type", "GET /issueLinkType"):
        _emit_all(sink, "issue-link-type", await wrapped_list(jira, "/issueLinkType", "issueLinkTypes"), clean)


# ---------------------------------------------------------------------------- 6. schemes


def _grant(grant: Json) -> Json:
    return {"permission": grant.get("permission"), "holder": _holder(grant.get("holder"))}


def _permission_scheme(scheme: Json) -> Json:
    body = clean(omit(scheme, "permissions"))
    grants = [_grant(g) for g in scheme.get("permissions") or []]
    body["permissions"] = sorted_list(
        grants, key=lambda g: (g["permission"], g["holder"].get("type"), g["holder"].get("parameter"))
    )
    return body


async def collect_permission_schemes(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "permission-scheme", "GET /permissionscheme"):
        schemes = await wrapped_list(jira, "/permissionscheme", "permissionSchemes", [("expand", "all")])
        _emit_all(sink, "permission-scheme", schemes, _permission_scheme)


def _notification_scheme(scheme: Json) -> Json:
    body = clean(omit(scheme, "notificationSchemeEvents", "projects"))
    events = []
    for ev in scheme.get("notificationSchemeEvents") or []:
        event = pick(ev.get("event") or {}, "id", "name")
        recipients = [_holder(n) for n in ev.get("notifications") or []]
        events.append(
            {
                "event": event,
                "notifications": sorted_list(recipients, key=lambda n: (n.get("notificationType"), n.get("parameter"))),
            }
        )
    body["notificationSchemeEvents"] = sorted_list(events, key=lambda e: e["event"].get("id"))
    return body


async def collect_notification_schemes(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "notification-scheme", "GET /notificationscheme"):
        async for page in offset_pages(jira, "/notificationscheme", [("expand", "all")], page_size=BIG_PAGE):
            _emit_all(sink, "notification-scheme", page, _notification_scheme)


async def collect_security_schemes(jira: JiraReader, sink: Sink) -> None:
    """``/issuesecurityschemes`` (wrapper) with levels; members per batch of 50 scheme ids."""
    with recorded(sink, "issue-security-scheme", "GET /issuesecurityschemes"):
        schemes = [
            s
            for s in await wrapped_list(jira, "/issuesecurityschemes", "issueSecuritySchemes")
            if not is_team_managed(s)
        ]
        for batch in batches(schemes, 50):
            ids = [str(s["id"]) for s in batch]
            members: dict[str, list[Json]] = defaultdict(list)
            levels: dict[str, list[Json]] = defaultdict(list)
            with recorded(sink, "issue-security-scheme", "GET /issuesecurityschemes/level/member"):
                async for page in offset_pages(
                    jira, "/issuesecurityschemes/level/member", repeat("schemeId", ids), page_size=BIG_PAGE
                ):
                    for m in page:
                        members[str(m.get("issueSecuritySchemeId"))].append(
                            {
                                "levelId": str(m.get("issueSecurityLevelId")),
                                "holder": _holder(m.get("holder")),
                            }
                        )
                if any("levels" not in s for s in batch):
                    async for page in offset_pages(
                        jira, "/issuesecurityschemes/level", repeat("schemeId", ids), page_size=BIG_PAGE
                    ):
                        for lv in page:
                            levels[str(lv.get("issueSecuritySchemeId"))].append(
                                clean(omit(lv, "issueSecuritySchemeId"))
                            )
                for scheme in batch:
                    sid = str(scheme["id"])
                    body = clean(omit(scheme, "levels"))
                    body["levels"] = sorted_list(
                        (clean(lv) for lv in scheme.get("levels", levels.get(sid, []))),
                        key=lambda lv: lv.get("id"),
                    )
                    body["members"] = sorted_list(
                        members.get(sid, []),
                        key=lambda m: (m["levelId"], m["holder"].get("type"), m["holder"].get("parameter")),
                    )
                    sink.item("issue-security-scheme", sid, body)


# ---------------------------------------------------------------------------- 7. projects

PROJECT_DROP = frozenset(
    {
        "favourite",
        "permissions",
        "landingPageInfo",
        "isPrivate",
        "archivedDate",
        "archivedBy",
        "deletedDate",
        "deletedBy",
        "retentionTillDate",
        "properties",
        "uuid",
    }
)
# (endpoint, response style, scheme field in the response, name in the project item)
PROJECT_ASSOCIATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("/issuetypescheme/project", "grouped", "issueTypeScheme", "issueTypeScheme"),
    ("/issuetypescreenscheme/project", "grouped", "issueTypeScreenScheme", "issueTypeScreenScheme"),
    ("/fieldconfigurationscheme/project", "grouped", "fieldConfigurationScheme", "fieldConfigurationScheme"),
    ("/workflowscheme/project", "wrapped", "workflowScheme", "workflowScheme"),
    ("/notificationscheme/project", "pairs", "notificationSchemeId", "notificationScheme"),
    ("/issuesecurityschemes/project", "pairs", "issueSecuritySchemeId", "issueSecurityScheme"),
)


def _project(project: Json) -> Json:
    body = clean(project, PROJECT_DROP)
    lead = project.get("lead")
    if isinstance(lead, dict):
        body["lead"] = pick(lead, "accountId")
    if isinstance(project.get("issueTypes"), list):
        body["issueTypeIds"] = sorted(str(t.get("id")) for t in project["issueTypes"])
        del body["issueTypes"]
    category = project.get("projectCategory")
    if isinstance(category, dict):
        body["projectCategory"] = pick(category, "id", "name")
    return body


async def _associations(jira: JiraReader, ids: list[str]) -> dict[str, dict[str, str | None]]:
    """Scheme id per project and association kind, for one batch of project ids."""
    found: dict[str, dict[str, str | None]] = defaultdict(dict)
    params = repeat("projectId", ids)

    async def rows_of(path: str, style: str) -> list[Json]:
        if style == "wrapped":
            return await wrapped_list(jira, path, "values", params)
        return await _all(offset_pages(jira, path, params, page_size=BIG_PAGE))

    answers = await asyncio.gather(*(rows_of(path, style) for path, style, _, _ in PROJECT_ASSOCIATIONS))
    for (_, style, field, name), rows in zip(PROJECT_ASSOCIATIONS, answers, strict=True):
        for row in rows:
            if style == "pairs":
                found[str(row.get("projectId"))][name] = None if row.get(field) is None else str(row.get(field))
                continue
            scheme = row.get(field)
            sid = str(scheme.get("id")) if isinstance(scheme, dict) and scheme.get("id") is not None else None
            for pid in row.get("projectIds") or []:
                found[str(pid)][name] = sid
    return found


def _actor(actor: Json) -> Json:
    out = pick(actor, "type")
    if isinstance(actor.get("actorUser"), dict):
        out["accountId"] = actor["actorUser"].get("accountId")
    if isinstance(actor.get("actorGroup"), dict):
        out["groupId"] = actor["actorGroup"].get("groupId")
        out["group"] = actor["actorGroup"].get("name")
    return out


async def _project_details(jira: JiraReader, sink: Sink, project: Json, schemes: dict[str, str | None]) -> None:
    pid = str(project["id"])
    with recorded(sink, "project", f"GET /project/{pid}/...", f"project/{pid}"):
        body = _project(project)
        body["schemes"] = dict(sorted(schemes.items()))
        components, roles = await asyncio.gather(
            plain_list(jira, f"/project/{pid}/components"), plain_list(jira, f"/project/{pid}/roledetails")
        )
        body["components"] = sorted_list(
            (
                clean(
                    c,
                    frozenset(
                        {
                            "assignee",
                            "realAssignee",
                            "realAssigneeType",
                            "isAssigneeTypeValid",
                            "ari",
                            "metadata",
                            "project",
                            "projectId",
                        }
                    ),
                )
                for c in components
            ),
            key=lambda c: c.get("id"),
        )
        for comp in body["components"]:
            if isinstance(comp.get("lead"), dict):
                comp["lead"] = pick(comp["lead"], "accountId")
        if not project.get("simplified"):  # a team-managed project's scheme is scoped to it (and names it)
            scheme = await jira.get_json(f"/project/{pid}/permissionscheme")
            if isinstance(scheme, dict) and scheme.get("id") is not None:
                body["schemes"] = dict(sorted({**body["schemes"], "permissionScheme": str(scheme["id"])}.items()))
        details = await asyncio.gather(*(jira.get_json(f"/project/{pid}/role/{role['id']}") for role in roles))
        actors = {
            str(role["id"]): sorted_list(_actor(a) for a in detail.get("actors") or [])
            for role, detail in zip(roles, details, strict=True)
        }
        body["roles"] = dict(sorted(actors.items()))
        sink.item("project", pid, body)


async def collect_projects(jira: JiraReader, sink: Sink, ids: list[str] | None = None) -> None:
    """Every live company-managed project, or only those of ``ids`` (an incremental re-read)."""
    params: ParamList = [("expand", "description,lead,issueTypes,projectKeys,url"), ("status", "live")]
    if ids is not None:
        for batch in batches(sorted(ids), PROJECT_IDS_PER_CALL):
            await _collect_projects(jira, sink, [*params, *(("id", i) for i in batch)])
        return
    await _collect_projects(jira, sink, params)


async def _collect_projects(jira: JiraReader, sink: Sink, params: ParamList) -> None:
    with recorded(sink, "project", "GET /project/search"):
        async for page in offset_pages(jira, "/project/search", params, page_size=BIG_PAGE):
            for chunk in batches(page, PROJECT_IDS_PER_CALL):
                ids = [str(p["id"]) for p in chunk]
                schemes: dict[str, dict[str, str | None]] = {}
                try:
                    schemes = await _associations(jira, ids)
                except WriteRefused:
                    raise
                except JiraError as exc:
                    sink.error("project", "GET scheme associations", exc)
                    continue

                async def one(project: Json, found: dict[str, dict[str, str | None]] = schemes) -> None:
                    await _project_details(jira, sink, project, found.get(str(project["id"]), {}))

                await for_each(chunk, one)


def _project_role(role: Json) -> Json:
    body = clean(role, frozenset({"translatedName"}))
    if isinstance(role.get("actors"), list):
        body["actors"] = sorted_list(_actor(a) for a in role["actors"])
    return body


async def collect_project_roles(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "project-role", "GET /role"):
        _emit_all(sink, "project-role", await plain_list(jira, "/role"), _project_role)


async def collect_project_categories(jira: JiraReader, sink: Sink) -> None:
    with recorded(sink, "project-category", "GET /projectCategory"):
        _emit_all(sink, "project-category", await plain_list(jira, "/projectCategory"), clean)


# ---------------------------------------------------------------------------- the catalog

PB = "offset PageBean"
CATALOG: tuple[Source, ...] = (
    Source(
        "configuration",
        ("configuration",),
        ("GET /configuration",),
        "single object",
        "global",
        collect_configuration,
    ),
    Source(
        "application-properties",
        ("application-property",),
        ("GET /application-properties/advanced-settings",),
        "plain array",
        "id",
        collect_application_properties,
    ),
    Source(
        "application-roles",
        ("application-role",),
        ("GET /applicationrole",),
        "plain array",
        "key",
        collect_application_roles,
    ),
    Source("events", ("issue-event",), ("GET /events",), "plain array", "id", collect_events),
    Source(
        "permissions",
        ("permission-key",),
        ("GET /permissions",),
        "object keyed by permission",
        "permission key",
        collect_permission_keys,
    ),
    Source(
        "timetracking",
        ("timetracking",),
        ("GET /configuration/timetracking", "GET /configuration/timetracking/options"),
        "single object",
        "global",
        collect_timetracking,
    ),
    Source(
        "fields",
        ("field", "field-context"),
        (
            "GET /field",
            "GET /field/{id}/context",
            "GET /field/{id}/context/issuetypemapping",
            "GET /field/{id}/context/projectmapping",
            "GET /field/{id}/context/defaultValue",
            "GET /field/{id}/context/{contextId}/option",
        ),
        "plain array; per field: " + PB,
        "field id; context id",
        collect_fields,
        dependents=(Dependent("field-context", "field", "GET /field"),),
    ),
    Source("issuetypes", ("issuetype",), ("GET /issuetype",), "plain array", "id", collect_issue_types),
    Source(
        "issuetype-schemes",
        ("issuetype-scheme",),
        ("GET /issuetypescheme", "GET /issuetypescheme/mapping"),
        PB,
        "id",
        collect_issue_type_schemes,
    ),
    Source(
        "issuetype-screen-schemes",
        ("issuetype-screen-scheme",),
        ("GET /issuetypescreenscheme", "GET /issuetypescreenscheme/mapping"),
        PB,
        "id",
        collect_issue_type_screen_schemes,
    ),
    Source("screen-schemes", ("screen-scheme",), ("GET /screenscheme",), PB, "id", collect_screen_schemes),
    Source(
        "screens",
        ("screen",),
        ("GET /screens", "GET /screens/tabs", "GET /screens/{id}/tabs/{tabId}/fields"),
        PB + "; /screens/tabs maxResult; plain arrays",
        "id",
        collect_screens,
    ),
    Source(
        "field-configurations",
        ("field-configuration",),
        ("GET /fieldconfiguration", "GET /fieldconfiguration/{id}/fields"),
        PB,
        "id",
        collect_field_configurations,
    ),
    Source(
        "field-configuration-schemes",
        ("field-configuration-scheme",),
        ("GET /fieldconfigurationscheme", "GET /fieldconfigurationscheme/mapping"),
        PB,
        "id",
        collect_field_configuration_schemes,
    ),
    Source("statuses", ("status",), ("GET /statuses/search",), PB + " (200)", "id", collect_statuses),
    Source(
        "status-categories",
        ("status-category",),
        ("GET /statuscategory",),
        "plain array",
        "id",
        collect_status_categories,
    ),
    Source(
        "workflows",
        ("workflow",),
        ("GET /workflows/search", "POST /workflows"),
        PB + "; bulk-read batches",
        "workflow UUID",
        collect_workflows,
    ),
    Source(
        "workflow-schemes",
        ("workflow-scheme",),
        ("GET /workflowscheme", "POST /workflowscheme/read"),
        PB + "; bulk-read per page",
        "id",
        collect_workflow_schemes,
    ),
    Source("priorities", ("priority",), ("GET /priority/search",), PB, "id", collect_priorities),
    Source(
        "priority-schemes",
        ("priority-scheme",),
        ("GET /priorityscheme?expand=priorities,projects", "GET /priorityscheme/{id}/priorities"),
        PB + " with nested pages",
        "id",
        collect_priority_schemes,
    ),
    Source("resolutions", ("resolution",), ("GET /resolution/search",), PB, "id", collect_resolutions),
    Source(
        "link-types",
        ("issue-link-type",),
        ("GET /issueLinkType",),
        "wrapper object",
        "id",
        collect_link_types,
    ),
    Source(
        "permission-schemes",
        ("permission-scheme",),
        ("GET /permissionscheme?expand=all",),
        "wrapper object",
        "id",
        collect_permission_schemes,
    ),
    Source(
        "notification-schemes",
        ("notification-scheme",),
        ("GET /notificationscheme?expand=all",),
        PB,
        "id",
        collect_notification_schemes,
    ),
    Source(
        "security-schemes",
        ("issue-security-scheme",),
        ("GET /issuesecurityschemes", "GET /issuesecurityschemes/level/member"),
        "wrapper object; " + PB,
        "id",
        collect_security_schemes,
    ),
    Source(
        "projects",
        ("project",),
        (
            "GET /project/search",
            "GET /issuetypescheme/project",
            "GET /issuetypescreenscheme/project",
            "GET /fieldconfigurationscheme/project",
            "GET /workflowscheme/project",
            "GET /notificationscheme/project",
            "GET /issuesecurityschemes/project",
            "GET /project/{id}/components",
            "GET /project/{id}/permissionscheme",
            "GET /project/{id}/roledetails",
            "GET /project/{id}/role/{roleId}",
        ),
        PB + " (100); association batches of project ids",
        "id",
        collect_projects,
    ),
    Source("project-roles", ("project-role",), ("GET /role",), "plain array", "id", collect_project_roles),
    Source(
        "project-categories",
        ("project-category",),
        ("GET /projectCategory",),
        "plain array",
        "id",
        collect_project_categories,
    ),
)


def sources_for(snapshot_type: SnapshotType | str) -> list[Source]:
    """The catalog entries of one snapshot type, in capture order."""
    return [s for s in CATALOG if s.snapshot_type == snapshot_type]


def dependent_listings() -> list[Dependent]:
    """Every kind whose listing depends on another kind's read, from the catalog."""
    return [d for s in CATALOG for d in s.dependents]


def parent_kinds() -> dict[str, str]:
    """``{dependent kind: parent kind}``: a failed parent listing leaves its dependents unknown."""
    return {d.kind: d.parent for d in dependent_listings()}


def _check_catalog() -> None:
    covered = {k for s in CATALOG for k in s.kinds}
    missing = set(KINDS) - covered
    if missing:
        raise RuntimeError(f"kinds without a catalog source: {sorted(missing)}")
    for source in CATALOG:
        if len({KINDS[k].snapshot_type for k in source.kinds}) != 1:
            raise RuntimeError(f"source {source.name} mixes snapshot types")
        for dep in source.dependents:
            if {dep.kind, dep.parent} - set(source.kinds) or dep.parent_listing not in source.endpoints:
                raise RuntimeError(f"source {source.name}: dependent {dep} names a kind or read it does not have")


_check_catalog()
