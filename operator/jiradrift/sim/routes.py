"""The Jira REST operations the emulator serves, one small function each.

Every handler takes a :class:`Call` and returns a JSON-able body; raising :class:`JiraError` gives a
Jira-shaped error. ``OPERATIONS`` maps ``(method, path below /rest/api/3)`` to the handler; the
server mounts each under both URL forms and both API versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from multidict import MultiMapping

from jiradrift.sim.errors import JiraError
from jiradrift.sim.paging import int_param, page_bean, page_request
from jiradrift.sim.site import (
    ADMIN_ACCOUNT_ID,
    EVENTS,
    PERMISSION_KEYS,
    ROLES,
    STATUS_CATEGORIES,
    Json,
    Site,
    timestamp,
)
from jiradrift.sim.users import ADMIN


@dataclass
class Call:
    site: Site
    spec_path: str  # "/field/{fieldId}/context"
    path: str  # the concrete path below /rest/api/3
    query: MultiMapping[str]
    params: dict[str, str]  # path parameters
    body: Any  # parsed JSON body for POST reads
    now: float
    total_bump: int = 0

    def ids(self, name: str) -> list[str]:
        """A repeated or comma-separated query parameter (``id=1&id=2`` or ``id=1,2``)."""
        out: list[str] = []
        for raw in self.query.getall(name, []):
            out.extend(p for p in raw.split(",") if p)
        return out

    @property
    def expand(self) -> set[str]:
        return {e.strip() for raw in self.query.getall("expand", []) for e in raw.split(",") if e.strip()}

    def page(self, items: Sequence[Any], *, size_param: str = "maxResults", extra: Json | None = None) -> Json:
        req = page_request(self.query, self.spec_path, size_param=size_param)
        return page_bean(
            items,
            req,
            self_url=self.site.url(self.path.lstrip("/")),
            query=dict(self.query),
            total_bump=self.total_bump,
            extra=extra,
        )

    def flag(self, name: str) -> bool | None:
        raw = self.query.get(name)
        return None if raw is None else raw.lower() == "true"


Handler = Callable[[Call], Any]
OPERATIONS: dict[tuple[str, str], Handler] = {}


def op(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        OPERATIONS[(method, path)] = fn
        return fn

    return register


def _filter_ids(items: Iterable[Json], ids: list[str], key: str = "id") -> list[Json]:
    if not ids:
        return list(items)
    wanted = set(ids)
    return [i for i in items if str(i[key]) in wanted]


def _order(items: list[Json], order_by: str | None, allowed: dict[str, Callable[[Json], Any]]) -> list[Json]:
    if not order_by:
        return items
    desc = order_by.startswith("-")
    key = order_by.lstrip("+-")
    if key not in allowed:
        raise JiraError(
            400,
            f"Invalid orderBy value {order_by!r}; allowed: {', '.join(sorted(allowed))} "
            "(prefix with - for descending).",
        )
    return sorted(items, key=allowed[key], reverse=desc)


def _required_ids(call: Call, name: str, maximum: int | None = None) -> list[str]:
    ids = call.ids(name)
    if not ids:
        raise JiraError(400, f"The '{name}' query parameter is required (repeat it for several values).")
    if maximum is not None and len(ids) > maximum:
        raise JiraError(400, f"At most {maximum} '{name}' values are allowed, got {len(ids)}.")
    return ids


def _project(call: Call, key_or_id: str) -> Json:
    found = call.site.project_by_key.get(key_or_id)
    if found is None:
        raise JiraError(404, f"No project could be found with key '{key_or_id}'.")
    return found


# ------------------------------------------------------------------ 1. instance


@op("GET", "/serverInfo")
def server_info(call: Call) -> Json:
    now = datetime.fromtimestamp(call.now, UTC)
    return {
        "baseUrl": call.site.base_url,
        "displayUrl": call.site.base_url,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100282,
        "buildDate": "2026-01-02T00:00:00.000+0000",
        "serverTime": timestamp(now),
        "scmInfo": "57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71",
        "serverTitle": call.site.title,
        "serverTimeZone": "Etc/UTC",
    }


@op("GET", "/myself")
def myself(call: Call) -> Json:
    return {
        "self": call.site.url(f"user?accountId={ADMIN_ACCOUNT_ID}"),
        "accountId": ADMIN_ACCOUNT_ID,
        "accountType": "atlassian",
        "emailAddress": "admin@example.com",  # one's own address is always shown to oneself
        "displayName": ADMIN.display_name,
        "active": True,
        "timeZone": "Etc/UTC",
        "locale": "en_US",
    }


@op("GET", "/user")
def user(call: Call) -> Json:
    """One user by account id; 404 for an account Jira does not know (deleted, or never existed)."""
    account_id = call.query.get("accountId") or ""
    if not account_id:
        raise JiraError(400, "The 'accountId' query parameter is required.")
    found = call.site.users.get(account_id)
    if found is None:
        raise JiraError(404, f"Specified user does not exist or you do not have required permissions: {account_id}")
    return found.body(call.site.base_url)


@op("GET", "/user/bulk")
def user_bulk(call: Call) -> Json:
    """A page of the users named by ``accountId`` (repeated); unknown ids are left out, as Jira does."""
    wanted = _required_ids(call, "accountId", maximum=200)
    users = [call.site.users[a] for a in dict.fromkeys(wanted) if a in call.site.users]
    return call.page([u.body(call.site.base_url) for u in users])


@op("GET", "/configuration")
def configuration(call: Call) -> Json:
    return call.site.configuration


@op("GET", "/application-properties/advanced-settings")
def advanced_settings(call: Call) -> list[Json]:
    return call.site.advanced_settings


@op("GET", "/applicationrole")
def application_roles(call: Call) -> list[Json]:
    return call.site.application_roles


@op("GET", "/events")
def events(call: Call) -> list[Json]:
    return [{"id": i, "name": n} for i, n in EVENTS]


@op("GET", "/permissions")
def permissions(call: Call) -> Json:
    return {
        "permissions": {
            k: {"key": k, "name": n, "type": t, "description": f"Ability to {n.lower()}."}
            for k, n, t in PERMISSION_KEYS
        }
    }


@op("GET", "/configuration/timetracking")
def timetracking(call: Call) -> Json:
    return {"key": "JIRA", "name": "JIRA provided time tracking"}


@op("GET", "/configuration/timetracking/options")
def timetracking_options(call: Call) -> Json:
    options: Json = call.site.configuration["timeTrackingConfiguration"]
    return options


# ------------------------------------------------------------------ 2. fields


@op("GET", "/field")
def fields(call: Call) -> list[Json]:
    return call.site.fields


@op("GET", "/field/search")
def field_search(call: Call) -> Json:
    site = call.site
    items = site.fields
    types = call.ids("type")
    if types:
        items = [f for f in items if ("custom" if f["custom"] else "system") in types]
    items = _filter_ids(items, call.ids("id"))
    query = (call.query.get("query") or "").lower()
    if query:
        items = [f for f in items if query in f["name"].lower() or query in f["id"].lower()]
    project_ids = set(call.ids("projectIds"))
    if project_ids:
        items = [f for f in items if "scope" not in f or f["scope"]["project"]["id"] in project_ids]
    items = _order(
        items,
        call.query.get("orderBy"),
        {
            "name": lambda f: f["name"],
            "contextsCount": lambda f: len(site.contexts(f["id"])),
            "lastUsed": lambda f: f["id"],
            "screensCount": lambda f: f["id"],
            "projectsCount": lambda f: f["id"],
        },
    )
    expand = call.expand
    page = call.page(items)
    page["values"] = [site.field_search_item(f, expand) for f in page["values"]]
    return page


@op("GET", "/field/search/trashed")
def field_search_trashed(call: Call) -> Json:
    return call.page([])


def _contexts(call: Call) -> list[Any]:
    field_id = call.params["fieldId"]
    body = call.site.field_by_id.get(field_id)
    if body is None or not body["custom"]:
        raise JiraError(404, f"The custom field was not found: {field_id}.")
    return call.site.contexts(field_id)


@op("GET", "/field/{fieldId}/context")
def field_contexts(call: Call) -> Json:
    ctxs = _contexts(call)
    wanted = set(call.ids("contextId"))
    any_it, is_global = call.flag("isAnyIssueType"), call.flag("isGlobalContext")
    items = [
        c.body
        for c in ctxs
        if (not wanted or c.body["id"] in wanted)
        and (any_it is None or c.body["isAnyIssueType"] == any_it)
        and (is_global is None or c.body["isGlobalContext"] == is_global)
    ]
    return call.page(items)


def _context_mapping(call: Call, members: str, id_key: str, all_key: str) -> Json:
    """One row per (context, member); a context with no members maps to "all" (any issue type,
    or global)."""
    wanted = set(call.ids("contextId"))
    items: list[Json] = []
    for c in _contexts(call):
        cid = c.body["id"]
        if wanted and cid not in wanted:
            continue
        ids: list[str] = getattr(c, members)
        if not ids:
            items.append({"contextId": cid, all_key: True})
        items.extend({"contextId": cid, id_key: i, all_key: False} for i in ids)
    return call.page(items)


@op("GET", "/field/{fieldId}/context/issuetypemapping")
def context_issue_type_mapping(call: Call) -> Json:
    return _context_mapping(call, "issue_type_ids", "issueTypeId", "isAnyIssueType")


@op("GET", "/field/{fieldId}/context/projectmapping")
def context_project_mapping(call: Call) -> Json:
    return _context_mapping(call, "project_ids", "projectId", "isGlobalContext")


@op("GET", "/field/{fieldId}/context/defaultValue")
def context_default_values(call: Call) -> Json:
    wanted = set(call.ids("contextId"))
    items = [c.default for c in _contexts(call) if c.default and (not wanted or c.body["id"] in wanted)]
    return call.page(items)


@op("GET", "/field/{fieldId}/context/{contextId}/option")
def context_options(call: Call) -> Json:
    _contexts(call)
    ctx = call.site.context(call.params["fieldId"], call.params["contextId"])
    if ctx is None:
        raise JiraError(404, f"The context was not found: {call.params['contextId']}.")
    options = ctx.options
    if call.flag("onlyOptions"):
        options = [o for o in options if "optionId" not in o]
    option_id = call.query.get("optionId")
    if option_id:
        options = [o for o in options if o["id"] == option_id]
    return call.page(options)


@op("POST", "/field/{fieldId}/context/mapping")
def context_for_project_and_issue_type(call: Call) -> Json:
    ctxs = _contexts(call)
    pairs = (call.body or {}).get("mappings", [])
    if not isinstance(pairs, list):
        raise JiraError(400, 'Body must be {"mappings": [{"projectId": ..., "issueTypeId": ...}]}.')
    out = []
    for pair in pairs:
        pid, it = str(pair.get("projectId", "")), str(pair.get("issueTypeId", ""))
        match = next(
            (c for c in ctxs if pid in c.project_ids and (not c.issue_type_ids or it in c.issue_type_ids)),
            None,
        ) or next((c for c in ctxs if not c.project_ids and (not c.issue_type_ids or it in c.issue_type_ids)), None)
        if match:
            out.append({"projectId": pid, "issueTypeId": it, "contextId": match.body["id"]})
    return call.page(out)


# ---------------------------------------------- 3. issue types, screens, field configurations


@op("GET", "/issuetype")
def issue_types(call: Call) -> list[Json]:
    return call.site.issue_types


@op("GET", "/issuetypescheme")
def issue_type_schemes(call: Call) -> Json:
    items = _filter_ids(call.site.issue_type_schemes, call.ids("id"))
    query = (call.query.get("queryString") or "").lower()
    if query:
        items = [s for s in items if query in s["name"].lower()]
    items = _order(items, call.query.get("orderBy"), {"name": lambda s: s["name"], "id": lambda s: int(s["id"])})
    return call.page(items)


@op("GET", "/issuetypescheme/mapping")
def issue_type_scheme_mapping(call: Call) -> Json:
    wanted = set(call.ids("issueTypeSchemeId"))
    items = [
        {"issueTypeSchemeId": sid, "issueTypeId": it}
        for sid, its in call.site.issue_type_scheme_items.items()
        if not wanted or sid in wanted
        for it in its
    ]
    return call.page(items)


def _by_project(
    call: Call,
    kind: str,
    schemes: list[Json],
    wrap: str | None,
    ids_key: str = "projectIds",
    maximum: int | None = None,
) -> list[Json]:
    """Group requested projects by assigned scheme: ``[{<wrap>: scheme, projectIds: [...]}]``."""
    project_ids = _required_ids(call, "projectId", maximum)
    groups: dict[str | None, list[str]] = {}
    for pid in project_ids:
        assigned = call.site.project_schemes.get(pid)
        if assigned is None or kind not in assigned:
            continue
        groups.setdefault(assigned[kind], []).append(pid)
    by_id = {str(s["id"]): s for s in schemes}
    out = []
    for sid, pids in groups.items():
        entry: Json = {ids_key: pids}
        if sid is not None and wrap:
            entry[wrap] = {k: v for k, v in by_id[sid].items() if not k.startswith("_") and k != "self"}
        out.append(entry)
    return out


@op("GET", "/issuetypescheme/project")
def issue_type_scheme_projects(call: Call) -> Json:
    return call.page(_by_project(call, "issuetypescheme", call.site.issue_type_schemes, "issueTypeScheme"))


@op("GET", "/issuetypescreenscheme")
def itss(call: Call) -> Json:
    items = _filter_ids(call.site.itss, call.ids("id"))
    items = _order(items, call.query.get("orderBy"), {"name": lambda s: s["name"], "id": lambda s: int(s["id"])})
    return call.page(items)


@op("GET", "/issuetypescreenscheme/mapping")
def itss_mapping(call: Call) -> Json:
    return call.page(_filter_ids(call.site.itss_items, call.ids("issueTypeScreenSchemeId"), "issueTypeScreenSchemeId"))


@op("GET", "/issuetypescreenscheme/project")
def itss_projects(call: Call) -> Json:
    return call.page(_by_project(call, "issuetypescreenscheme", call.site.itss, "issueTypeScreenScheme"))


@op("GET", "/screens")
def screens(call: Call) -> Json:
    items = _filter_ids(call.site.screens, call.ids("id"))
    scopes = set(call.ids("scope"))
    if scopes:
        items = [s for s in items if s.get("scope", {}).get("type", "GLOBAL") in scopes]
    query = (call.query.get("queryString") or "").lower()
    if query:
        items = [s for s in items if query in s["name"].lower()]
    items = _order(items, call.query.get("orderBy"), {"name": lambda s: s["name"], "id": lambda s: s["id"]})
    return call.page(items)


@op("GET", "/screens/tabs")
def screen_tabs_bulk(call: Call) -> Json:
    screen_ids = [int(s) for s in call.ids("screenId") if s.isdigit()]
    tab_ids = {int(t) for t in call.ids("tabId") if t.isdigit()}
    site = call.site
    chosen = [s for s in (site.screen_by_id(i) for i in screen_ids) if s] if screen_ids else site.screens
    items = [
        {"screenId": s["id"], "tabId": t["id"], "tabName": t["name"]}
        for s in chosen
        for t in site.tabs(s["id"])
        if not tab_ids or t["id"] in tab_ids
    ]
    # This endpoint names its page size `maxResult` (singular); `maxResults` is ignored, as in Jira.
    page = call.page(items, size_param="maxResult")
    page.pop("self", None)
    page.pop("nextPage", None)
    return page


def _screen(call: Call) -> Json:
    raw = call.params["screenId"]
    screen = call.site.screen_by_id(int(raw)) if raw.isdigit() else None
    if screen is None:
        raise JiraError(404, f"The screen with id '{raw}' does not exist.")
    return screen


@op("GET", "/screens/{screenId}/tabs")
def screen_tabs(call: Call) -> list[Json]:
    return call.site.tabs(_screen(call)["id"])


@op("GET", "/screens/{screenId}/tabs/{tabId}/fields")
def screen_tab_fields(call: Call) -> list[Json]:
    screen = _screen(call)
    raw = call.params["tabId"]
    if not any(str(t["id"]) == raw for t in call.site.tabs(screen["id"])):
        raise JiraError(404, f"The screen tab with id '{raw}' does not exist on screen {screen['id']}.")
    return call.site.tab_fields(screen["id"], int(raw))


@op("GET", "/screenscheme")
def screen_schemes(call: Call) -> Json:
    site = call.site
    items = _filter_ids(site.screen_schemes, call.ids("id"))
    query = (call.query.get("queryString") or "").lower()
    if query:
        items = [s for s in items if query in s["name"].lower()]
    items = _order(items, call.query.get("orderBy"), {"name": lambda s: s["name"], "id": lambda s: s["id"]})
    page = call.page(items)
    if "issueTypeScreenSchemes" in call.expand:
        users: dict[str, list[Json]] = {}
        for item in site.itss_items:
            users.setdefault(item["screenSchemeId"], []).append(item["issueTypeScreenSchemeId"])
        by_id = {s["id"]: s for s in site.itss}
        values = []
        for s in page["values"]:
            nested = [by_id[i] for i in dict.fromkeys(users.get(str(s["id"]), []))]
            values.append(
                {
                    **s,
                    "issueTypeScreenSchemes": {
                        "maxResults": 100,
                        "startAt": 0,
                        "total": len(nested),
                        "isLast": True,
                        "values": nested,
                    },
                }
            )
        page["values"] = values
    return page


@op("GET", "/fieldconfiguration")
def field_configurations(call: Call) -> Json:
    items = _filter_ids(call.site.field_configurations, call.ids("id"))
    if call.flag("isDefault"):
        items = [f for f in items if f["isDefault"]]
    query = (call.query.get("query") or "").lower()
    if query:
        items = [f for f in items if query in f["name"].lower() or query in f["description"].lower()]
    return call.page(items)


@op("GET", "/fieldconfiguration/{id}/fields")
def field_configuration_items(call: Call) -> Json:
    raw = call.params["id"]
    if not raw.isdigit() or not any(f["id"] == int(raw) for f in call.site.field_configurations):
        raise JiraError(404, f"The field configuration with id '{raw}' does not exist.")
    return call.page(call.site.fc_items(int(raw)))


@op("GET", "/fieldconfigurationscheme")
def field_configuration_schemes(call: Call) -> Json:
    return call.page(_filter_ids(call.site.fcs, call.ids("id")))


@op("GET", "/fieldconfigurationscheme/mapping")
def field_configuration_scheme_mapping(call: Call) -> Json:
    ids = call.ids("fieldConfigurationSchemeId")
    if len(ids) > 50:
        raise JiraError(400, f"At most 50 'fieldConfigurationSchemeId' values are allowed, got {len(ids)}.")
    return call.page(_filter_ids(call.site.fcs_items, ids, "fieldConfigurationSchemeId"))


@op("GET", "/fieldconfigurationscheme/project")
def field_configuration_scheme_projects(call: Call) -> Json:
    return call.page(_by_project(call, "fieldconfigurationscheme", call.site.fcs, "fieldConfigurationScheme"))


# ------------------------------------------------------------------- 4. workflows


@op("GET", "/statuses/search")
def statuses_search(call: Call) -> Json:
    site = call.site
    items = site.statuses
    project_id = call.query.get("projectId")
    if project_id:
        items = [s for s in items if s["scope"].get("project", {}).get("id") == project_id]
    query = (call.query.get("searchString") or "").lower()
    if query:
        items = [s for s in items if query in s["name"].lower()]
    category = call.query.get("statusCategory")
    if category:
        items = [s for s in items if s["statusCategory"] == category]
    page = call.page(items)
    page["values"] = [site.jira_status(s) for s in page["values"]]
    return page


@op("GET", "/statuscategory")
def status_categories(call: Call) -> list[Json]:
    return [{"self": call.site.url(f"statuscategory/{c['id']}"), **c} for c in STATUS_CATEGORIES]


@op("GET", "/status")
def statuses(call: Call) -> list[Json]:
    return [call.site.status_details(s) for s in call.site.statuses]


def _workflow_view(wf: Json, with_transitions: bool) -> Json:
    return wf if with_transitions else {k: v for k, v in wf.items() if k != "transitions"}


@op("GET", "/workflows/search")
def workflows_search(call: Call) -> Json:
    site = call.site
    items = site.workflows
    query = (call.query.get("queryString") or "").lower()
    if query:
        items = [w for w in items if query in w["name"].lower()]
    scope = call.query.get("scope")
    if scope:
        items = [w for w in items if w["scope"]["type"] == scope.upper()]
    active = call.flag("isActive")
    if active is not None:
        used = {s["defaultWorkflow"] for s in site.workflow_schemes} | {
            n for s in site.workflow_schemes for n in s["issueTypeMappings"].values()
        }
        items = [w for w in items if (w["name"] in used) == active]
    items = _order(
        items,
        call.query.get("orderBy"),
        {"name": lambda w: w["name"], "created": lambda w: w["created"], "updated": lambda w: w["updated"]},
    )
    page = call.page(items)
    with_transitions = "values.transitions" in call.expand
    page["values"] = [_workflow_view(w, with_transitions) for w in page["values"]]
    page["statuses"] = site.workflow_statuses(page["values"])
    return page


@op("POST", "/workflows")
def workflows_read(call: Call) -> Json:
    body = call.body or {}
    if not isinstance(body, dict):
        raise JiraError(400, "Body must be a JSON object with workflowIds, workflowNames or projectAndIssueTypes.")
    ids = set(body.get("workflowIds") or [])
    names = set(body.get("workflowNames") or [])
    chosen = [w for w in call.site.workflows if w["id"] in ids or w["name"] in names]
    return {"workflows": chosen, "statuses": call.site.workflow_statuses(chosen)}


def _workflow_scheme_view(s: Json) -> Json:
    return {k: v for k, v in s.items() if not k.startswith("_")}


@op("GET", "/workflowscheme")
def workflow_schemes(call: Call) -> Json:
    page = call.page(call.site.workflow_schemes)
    page["values"] = [_workflow_scheme_view(s) for s in page["values"]]
    return page


@op("POST", "/workflowscheme/read")
def workflow_schemes_read(call: Call) -> list[Json]:
    body = call.body or {}
    site = call.site
    ids = {str(i) for i in body.get("workflowSchemeIds") or []}
    for pid in body.get("projectIds") or []:
        assigned = site.project_schemes.get(str(pid), {}).get("workflowscheme")
        if assigned:
            ids.add(assigned)
    by_name = {w["name"]: w for w in site.workflows}

    def meta(wf: Json) -> Json:
        return {
            "id": wf["id"],
            "name": wf["name"],
            "description": wf["description"],
            "version": wf["version"],
        }

    out = []
    for s in site.workflow_schemes:
        if str(s["id"]) not in ids:
            continue
        groups: dict[str, list[str]] = {}
        for it, name in s["issueTypeMappings"].items():
            groups.setdefault(name, []).append(it)
        out.append(
            {
                "id": str(s["id"]),
                "name": s["name"],
                "description": s["description"],
                "scope": {"type": "GLOBAL"},
                "defaultWorkflow": meta(by_name[s["defaultWorkflow"]]),
                "workflowsForIssueTypes": [
                    {"issueTypeIds": its, "workflow": meta(by_name[n])} for n, its in groups.items()
                ],
                "version": {"id": f"00000000-0000-4000-8000-{int(s['id']):012d}", "versionNumber": 1},
            }
        )
    return out


@op("GET", "/workflowscheme/project")
def workflow_scheme_projects(call: Call) -> Json:
    groups = _by_project(call, "workflowscheme", call.site.workflow_schemes, "workflowScheme", maximum=100)
    return {"values": [g for g in groups if "workflowScheme" in g]}


# ------------------------------------------------------------- 5. priorities etc.


@op("GET", "/priority/search")
def priority_search(call: Call) -> Json:
    items = _filter_ids(call.site.priorities, call.ids("id"))
    name = (call.query.get("priorityName") or "").lower()
    if name:
        items = [p for p in items if name in p["name"].lower()]
    if call.flag("onlyDefault"):
        items = [p for p in items if p["isDefault"]]
    return call.page(items)


@op("GET", "/priority")
def priorities(call: Call) -> list[Json]:
    return call.site.priorities


def _priority_scheme_view(call: Call, s: Json) -> Json:
    view = {k: v for k, v in s.items() if not k.startswith("_")}
    expand = call.expand
    by_id = {p["id"]: p for p in call.site.priorities}
    if "priorities" in expand:
        prios = [
            {**{k: v for k, v in by_id[i].items() if k != "avatarId"}, "sequence": str(n)}
            for n, i in enumerate(s["_priority_ids"])
        ]
        view["priorities"] = {
            "maxResults": 50,
            "startAt": 0,
            "total": len(prios),
            "isLast": len(prios) <= 50,
            "values": prios[:50],
        }
    if "projects" in expand:
        projs = [_project_details(call.site.project_by_key[p]) for p in s["_project_ids"]]
        view["projects"] = {
            "maxResults": 50,
            "startAt": 0,
            "total": len(projs),
            "isLast": len(projs) <= 50,
            "values": projs[:50],
        }
    return view


def _project_details(p: Json) -> Json:
    out: Json = {k: p[k] for k in ("self", "id", "key", "name", "avatarUrls", "projectTypeKey", "simplified") if k in p}
    if "projectCategory" in p:
        out["projectCategory"] = {k: p["projectCategory"][k] for k in ("id", "name", "description", "self")}
    return out


@op("GET", "/priorityscheme")
def priority_schemes(call: Call) -> Json:
    items = _filter_ids(call.site.priority_schemes, call.ids("schemeId"))
    page = call.page(items)
    page["values"] = [_priority_scheme_view(call, s) for s in page["values"]]
    return page


def _priority_scheme(call: Call) -> Json:
    sid = call.params["schemeId"]
    found = next((s for s in call.site.priority_schemes if s["id"] == sid), None)
    if found is None:
        raise JiraError(404, f"The priority scheme with id '{sid}' does not exist.")
    return found


@op("GET", "/priorityscheme/{schemeId}/priorities")
def priority_scheme_priorities(call: Call) -> Json:
    scheme = _priority_scheme(call)
    by_id = {p["id"]: p for p in call.site.priorities}
    return call.page(
        [
            {**{k: v for k, v in by_id[i].items() if k != "avatarId"}, "sequence": str(n)}
            for n, i in enumerate(scheme["_priority_ids"])
        ]
    )


@op("GET", "/priorityscheme/{schemeId}/projects")
def priority_scheme_projects(call: Call) -> Json:
    scheme = _priority_scheme(call)
    return call.page([_project_view(call, call.site.project_by_key[p], set()) for p in scheme["_project_ids"]])


@op("GET", "/resolution/search")
def resolution_search(call: Call) -> Json:
    items = _filter_ids(call.site.resolutions, call.ids("id"))
    if call.flag("onlyDefault"):
        items = [r for r in items if r["default"]]
    return call.page(items)


@op("GET", "/resolution")
def resolutions(call: Call) -> list[Json]:
    return [{k: r[k] for k in ("self", "id", "description", "name")} for r in call.site.resolutions]


@op("GET", "/issueLinkType")
def issue_link_types(call: Call) -> Json:
    return {"issueLinkTypes": call.site.link_types}


# ------------------------------------------------------------------ 6. schemes


def _permission_scheme_view(s: Json, with_grants: bool) -> Json:
    return s if with_grants else {k: v for k, v in s.items() if k != "permissions"}


@op("GET", "/permissionscheme")
def permission_schemes(call: Call) -> Json:
    # Any expand value at all includes the grants.
    with_grants = bool(call.expand)
    return {"permissionSchemes": [_permission_scheme_view(s, with_grants) for s in call.site.permission_schemes]}


@op("GET", "/project/{projectKeyOrId}/permissionscheme")
def project_permission_scheme(call: Call) -> Json:
    """The permission scheme a company-managed project is assigned (a team-managed project has none:
    its own project-scoped scheme names it, and Jira answers 404 here as for any project without one)."""
    project = _project(call, call.params["projectKeyOrId"])
    sid = call.site.project_schemes.get(project["id"], {}).get("permissionscheme")
    scheme = next((s for s in call.site.permission_schemes if str(s["id"]) == sid), None) if sid else None
    if scheme is None:
        raise JiraError(404, f"No permission scheme is associated with project '{project['key']}'.")
    return _permission_scheme_view(scheme, bool(call.expand))


@op("GET", "/permissionscheme/{schemeId}/permission")
def permission_scheme_grants(call: Call) -> Json:
    sid = call.params["schemeId"]
    scheme = next((s for s in call.site.permission_schemes if str(s["id"]) == sid), None)
    if scheme is None:
        raise JiraError(404, f"Permission scheme with id '{sid}' does not exist.")
    return {"permissions": scheme["permissions"], "expand": "user,group,permissions,projectRole,field,all"}


@op("GET", "/notificationscheme")
def notification_schemes(call: Call) -> Json:
    items = _filter_ids(call.site.notification_schemes, call.ids("id"))
    project_ids = {int(p) for p in call.ids("projectId") if p.isdigit()}
    if project_ids:
        items = [s for s in items if project_ids & set(s["projects"])]
    if call.flag("onlyDefault"):
        items = items[:1]
    page = call.page(items)
    if not call.expand:
        page["values"] = [{k: v for k, v in s.items() if k != "notificationSchemeEvents"} for s in page["values"]]
    return page


@op("GET", "/notificationscheme/project")
def notification_scheme_projects(call: Call) -> Json:
    wanted_s, wanted_p = set(call.ids("notificationSchemeId")), set(call.ids("projectId"))
    items = [
        {"notificationSchemeId": str(s["id"]), "projectId": str(p)}
        for s in call.site.notification_schemes
        for p in s["projects"]
        if (not wanted_s or str(s["id"]) in wanted_s) and (not wanted_p or str(p) in wanted_p)
    ]
    return call.page(items)


@op("GET", "/issuesecurityschemes")
def security_schemes(call: Call) -> Json:
    return {"issueSecuritySchemes": call.site.security_schemes}


@op("GET", "/issuesecurityschemes/level")
def security_levels(call: Call) -> Json:
    schemes = set(call.ids("schemeId"))
    ids = set(call.ids("id"))
    items = [
        lvl
        for s in call.site.security_schemes
        if not schemes or str(s["id"]) in schemes
        for lvl in s["levels"]
        if not ids or lvl["id"] in ids
    ]
    if call.flag("onlyDefault"):
        items = [lvl for lvl in items if lvl["isDefault"]]
    return call.page(items)


@op("GET", "/issuesecurityschemes/level/member")
def security_level_members(call: Call) -> Json:
    schemes, levels = set(call.ids("schemeId")), set(call.ids("levelId"))
    items = [
        m
        for m in call.site.security_members
        if (not schemes or m["issueSecuritySchemeId"] in schemes)
        and (not levels or m["issueSecurityLevelId"] in levels)
    ]
    return call.page(items)


@op("GET", "/issuesecurityschemes/project")
def security_scheme_projects(call: Call) -> Json:
    wanted_s, wanted_p = set(call.ids("issueSecuritySchemeId")), set(call.ids("projectId"))
    items = [
        {"issueSecuritySchemeId": sid, "projectId": pid}
        for pid, assigned in call.site.project_schemes.items()
        if (sid := assigned.get("issuesecurityscheme"))
        and (not wanted_s or sid in wanted_s)
        and (not wanted_p or pid in wanted_p)
    ]
    return call.page(items)


# ------------------------------------------------------------------ 7. projects


def _project_view(call: Call, p: Json, expand: set[str]) -> Json:
    view = dict(p)
    if "description" in expand:
        view["description"] = f"Project {p['name']}"
    if "lead" in expand:
        view["lead"] = {
            "self": call.site.url(f"user?accountId={ADMIN_ACCOUNT_ID}"),
            "accountId": ADMIN_ACCOUNT_ID,
            "displayName": ADMIN.display_name,
            "active": True,
            "accountType": "atlassian",
        }
    if "issueTypes" in expand:
        site = call.site
        scheme = site.project_schemes.get(p["id"], {}).get("issuetypescheme")
        ids = set(site.issue_type_scheme_items.get(scheme or "", []))
        view["issueTypes"] = [
            t for t in site.issue_types if t["id"] in ids or t.get("scope", {}).get("project", {}).get("id") == p["id"]
        ]
    if "url" in expand:
        view["url"] = ""
    if "insight" in expand:
        view["insight"] = {
            "totalIssueCount": int(p["id"]) % 997,
            "lastIssueUpdateTime": "2026-01-04T10:00:00.000+0000",
        }
    return view


def _projects_filtered(call: Call) -> list[Json]:
    items = call.site.projects
    status = set(call.ids("status"))
    if status and "live" not in status:
        return []
    type_keys = set(call.ids("typeKey"))
    if type_keys:
        items = [p for p in items if p["projectTypeKey"] in type_keys]
    category = call.query.get("categoryId")
    if category:
        items = [p for p in items if p.get("projectCategory", {}).get("id") == category]
    ids = set(call.ids("id"))
    keys = set(call.ids("keys"))
    if ids or keys:
        items = [p for p in items if p["id"] in ids or p["key"] in keys]
    query = (call.query.get("query") or "").lower()
    if query:
        items = [p for p in items if query in p["name"].lower() or query in p["key"].lower()]
    return _order(
        items,
        call.query.get("orderBy"),
        {
            "key": lambda p: p["key"],
            "name": lambda p: p["name"],
            "id": lambda p: int(p["id"]),
            "category": lambda p: p.get("projectCategory", {}).get("name", ""),
            "owner": lambda p: p["id"],
            "issueCount": lambda p: p["id"],
            "lastIssueUpdatedDate": lambda p: p["id"],
            "archivedDate": lambda p: p["id"],
            "deletedDate": lambda p: p["id"],
        },
    )


@op("GET", "/project/search")
def project_search(call: Call) -> Json:
    page = call.page(_projects_filtered(call))
    expand = call.expand
    page["values"] = [_project_view(call, p, expand) for p in page["values"]]
    return page


@op("GET", "/project")
def projects(call: Call) -> list[Json]:
    expand = call.expand
    return [_project_view(call, p, expand) for p in call.site.projects]


@op("GET", "/project/{projectIdOrKey}")
def project(call: Call) -> Json:
    expand = call.expand | {"description", "lead", "issueTypes"}
    return _project_view(call, _project(call, call.params["projectIdOrKey"]), expand)


@op("GET", "/projectCategory")
def project_categories(call: Call) -> list[Json]:
    return call.site.categories


def _role(call: Call, role_id: int, name: str, desc: str, actors: list[Json] | None) -> Json:
    body: Json = {
        "self": call.site.url(f"role/{role_id}"),
        "name": name,
        "id": role_id,
        "description": desc,
        "admin": role_id == 10002,
        "default": role_id == 10000,
        "roleConfigurable": True,
        "translatedName": name,
    }
    if actors is not None:
        body["actors"] = actors
    return body


@op("GET", "/role")
def roles(call: Call) -> list[Json]:
    return [_role(call, i, n, d, []) for i, n, d in ROLES]


@op("GET", "/project/{projectIdOrKey}/role")
def project_role_links(call: Call) -> Json:
    p = _project(call, call.params["projectIdOrKey"])
    return {n: call.site.url(f"project/{p['id']}/role/{i}") for i, n, _ in ROLES}


@op("GET", "/project/{projectIdOrKey}/roledetails")
def project_role_details(call: Call) -> list[Json]:
    _project(call, call.params["projectIdOrKey"])
    return [_role(call, i, n, d, None) for i, n, d in ROLES]


@op("GET", "/project/{projectIdOrKey}/role/{id}")
def project_role(call: Call) -> Json:
    p = _project(call, call.params["projectIdOrKey"])
    raw = call.params["id"]
    role = next((r for r in ROLES if str(r[0]) == raw), None)
    if role is None:
        raise JiraError(404, f"Can not retrieve a role actor for a null project role (id '{raw}').")
    return _role(call, role[0], role[1], role[2], call.site.role_actors(p["id"], role[0]))


@op("GET", "/project/{projectIdOrKey}/components")
def project_components(call: Call) -> list[Json]:
    return call.site.components(_project(call, call.params["projectIdOrKey"]))


@op("GET", "/project/{projectIdOrKey}/versions")
def project_versions(call: Call) -> list[Json]:
    return call.site.versions(_project(call, call.params["projectIdOrKey"]))


# ------------------------------------------------------------------ 9. audit log


@op("GET", "/auditing/record")
def audit_records(call: Call) -> Json:
    offset = int_param(call.query, "offset", 0)
    limit = min(int_param(call.query, "limit", 1000), 1000)
    # Newest first, and only what Jira shows by now: a record can become visible after later ones.
    records = call.site.visible_audit_records(call.now)[::-1]
    start, end = call.query.get("from"), call.query.get("to")
    if start and end and _as_dt(start) >= _as_dt(end):
        records = []  # "from must be before to or no audit records are returned"
    if start:
        records = [r for r in records if _as_dt(r["created"]) >= _as_dt(start)]
    if end:
        records = [r for r in records if _as_dt(r["created"]) <= _as_dt(end)]
    terms = (call.query.get("filter") or "").lower().split()
    if terms:
        records = [r for r in records if all(t in _audit_text(r) for t in terms)]
    return {
        "offset": offset,
        "limit": limit,
        "total": len(records),
        "records": records[offset : offset + limit],
    }


def _as_dt(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            raise JiraError(400, f"Invalid date {raw!r}; use ISO 8601, e.g. 2026-01-05T09:00:00.000+0000.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _audit_text(r: Json) -> str:
    parts = [
        r["summary"],
        r["category"],
        r["eventSource"],
        r["remoteAddress"],
        r["objectItem"].get("name", ""),
        r["objectItem"].get("typeName", ""),
        r["objectItem"].get("parentName", ""),
    ]
    for c in r["changedValues"]:
        parts += [c.get("changedFrom", ""), c.get("changedTo", "")]
    return " ".join(parts).lower()
