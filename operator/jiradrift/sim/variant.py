"""A second site derived from the first: same names, different ids, a few known differences.

    Emulator(size="small", seed=1, variant="sandbox")

serves the *sandbox* of the site ``Emulator(size="small", seed=1)`` serves: every object keeps its
name and content, but every id Jira allocates per site differs (projects, custom fields, contexts,
options, statuses, workflows, schemes, screens, tabs, levels, groups' ids ...), as they do between a
production site and a sandbox copied from it. Ids Jira fixes on every site stay (system fields,
priorities 1-5, status categories, events, roles, the default permission scheme 0).

On top of that the sandbox carries :data:`SANDBOX_DIFFERENCES`, which a comparison of the two sites
must report and nothing else (unless the group rename is declared as a value mapping).
Lazily derived children (contexts, tabs, tab fields, field configuration items, role actors,
components) are derived from the production site's, so both sites stay cheap to start at ``xl``.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from jiradrift.sim.site import GROUPS, Context, Json, LazyItems, Site

#: Added to every per-site numeric id.
OFFSET = 100_000
VARIANTS = ("production", "sandbox")


@dataclass(frozen=True)
class KnownDifference:
    """One difference the sandbox has by construction, by natural key (what a comparison reports)."""

    kind: str
    key: str
    op: str  # added | removed | modified | renamed
    what: str


#: The group rename (declare ``--map group:jira-administrators=sandbox-administrators`` to hide it)
#: shows up where the group is named: in permission schemes, security schemes and project roles.
RENAMED_GROUP = ("jira-administrators", "sandbox-administrators")


def sandbox_differences(site: Site) -> list[KnownDifference]:
    """What :func:`derive_sandbox` changes, for tests and the demo (by natural key)."""
    renamed = _renamed_workflow(site)
    out = [
        KnownDifference("resolution", "Sandbox Only", "added", "a resolution that exists in the sandbox only"),
        KnownDifference(
            "issue-link-type", site.link_types[-1]["name"], "removed", "a link type deleted in the sandbox"
        ),
        KnownDifference("status", _edited_status(site)["name"], "modified", "a status description edited"),
    ]
    if renamed is not None:
        out.append(KnownDifference("workflow", renamed["name"], "renamed", f"renamed to {renamed['name']} (sandbox)"))
    return out


def _renamed_workflow(site: Site) -> Json | None:
    # Workflow schemes name workflows by name, so every workflow of this name is renamed (on larger
    # sites the generator gives some names twice: then two workflows are renamed).
    found = [w for w in site.workflows if w["scope"]["type"] == "GLOBAL" and w["name"] != "jira"]
    return found[0] if found else None


def _edited_status(site: Site) -> Json:
    return site.statuses[1]


def _n(value: Any, *, keep_defaults: bool = False) -> Any:
    """A per-site numeric id moved by OFFSET, keeping its form (int, numeric string, ``customfield_N``).

    With ``keep_defaults``, the ids Jira fixes on every site (0, 1: the defaults) stay.
    """
    if keep_defaults and str(value) in ("0", "1"):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value + OFFSET
    if isinstance(value, str) and value.isdigit():
        return str(int(value) + OFFSET)
    return value


def _field_id(fid: str) -> str:
    prefix = "customfield_"
    return prefix + _n(fid.removeprefix(prefix)) if fid.startswith(prefix) else fid


def _uuid_of(old: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox:" + old))


def _group(name: str) -> str:
    return RENAMED_GROUP[1] if name == RENAMED_GROUP[0] else name


def _group_id(gid: str) -> str:
    return _uuid_of(gid) if any(gid == g for _, g in GROUPS) else gid


def _scope(body: Json) -> None:
    project = (body.get("scope") or {}).get("project")
    if isinstance(project, dict) and "id" in project:
        project["id"] = _n(project["id"])


def _holder(holder: Json) -> Json:
    out = dict(holder)
    if out.get("type") == "group":
        out["parameter"] = _group(str(out.get("parameter")))
        if "value" in out:
            out["value"] = _group_id(str(out["value"]))
    return out


class SandboxSite(Site):
    """The derived site; construct with :func:`derive_sandbox`."""

    origin: Site

    def contexts(self, field_id: str) -> list[Context]:
        found = self._contexts.get(field_id)
        if found is not None:
            return found
        back = field_id
        if field_id.startswith("customfield_"):
            back = f"customfield_{int(field_id.removeprefix('customfield_')) - OFFSET}"
        out = []
        for ctx in self.origin.contexts(back):
            body = {**ctx.body, "id": _n(ctx.body["id"])}
            options = [
                {**o, "id": _n(o["id"]), **({"optionId": _n(o["optionId"])} if "optionId" in o else {})}
                for o in ctx.options
            ]
            default = None
            if ctx.default is not None:
                default = {**ctx.default, "contextId": _n(ctx.default["contextId"])}
                if "optionId" in default:
                    default["optionId"] = _n(default["optionId"])
                if "optionIds" in default:
                    default["optionIds"] = [_n(o) for o in default["optionIds"]]
            out.append(
                Context(body, [_n(i) for i in ctx.issue_type_ids], [_n(p) for p in ctx.project_ids], options, default)
            )
        self._contexts[field_id] = out
        return out

    def tabs(self, screen_id: int) -> list[Json]:
        found = self._tabs.get(screen_id)
        if found is None:
            found = [{**t, "id": _n(t["id"])} for t in self.origin.tabs(_back_screen(screen_id))]
            self._tabs[screen_id] = found
        return found

    def tab_fields(self, screen_id: int, tab_id: int) -> list[Json]:
        found = self._tab_fields.get(tab_id)
        if found is None:
            found = [
                {**f, "id": _field_id(f["id"])}
                for f in self.origin.tab_fields(_back_screen(screen_id), tab_id - OFFSET)
            ]
            self._tab_fields[tab_id] = found
        return found

    def fc_items(self, fc_id: int) -> LazyItems:
        found = self._fc_items.get(fc_id)
        if found is None:
            origin = self.origin.fc_items(fc_id - OFFSET)

            def make(i: int, origin: LazyItems = origin) -> Json:
                return {**origin[i], "id": _field_id(origin[i]["id"])}

            found = LazyItems(len(origin), make)
            self._fc_items[fc_id] = found
        return found

    def role_actors(self, project_id: str, role_id: int) -> list[Json]:
        key = (project_id, role_id)
        found = self._role_actors.get(key)
        if found is None:
            found = []
            for actor in self.origin.role_actors(str(int(project_id) - OFFSET), role_id):
                actor = copy.deepcopy(actor)
                group = actor.get("actorGroup")
                if isinstance(group, dict):
                    name = _group(group["name"])
                    actor.update(displayName=name, name=name)
                    group.update(name=name, displayName=name, groupId=_group_id(group["groupId"]))
                found.append(actor)
            self._role_actors[key] = found
        return found

    def components(self, project: Json) -> list[Json]:
        origin = self.origin.project_by_key[project["key"]]
        return [
            {**c, "id": _n(c["id"]), "self": self.url(f"component/{_n(c['id'])}"), "projectId": int(project["id"])}
            for c in self.origin.components(origin)
        ]

    def versions(self, project: Json) -> list[Json]:
        origin = self.origin.project_by_key[project["key"]]
        return [{**v, "id": _n(v["id"]), "projectId": int(project["id"])} for v in self.origin.versions(origin)]


def _back_screen(screen_id: int) -> int:
    return screen_id - OFFSET if screen_id > OFFSET else screen_id


def derive(site: Site, variant: str) -> Site:
    """``site`` itself for ``production``; its sandbox for ``sandbox``."""
    if variant == "production":
        return site
    if variant == "sandbox":
        return derive_sandbox(site)
    raise ValueError(f"unknown site variant {variant!r}; use one of {', '.join(VARIANTS)}")


def derive_sandbox(origin: Site) -> SandboxSite:
    """The sandbox of ``origin`` (which is left untouched)."""
    s = SandboxSite(
        spec=origin.spec,
        seed=origin.seed,
        base_url=origin.base_url,
        cloud_id=_uuid_of(origin.cloud_id),
        title=origin.title.replace("Emulated Jira", "Emulated Jira sandbox"),
        started=origin.started,
    )
    s.origin = origin
    o = copy.deepcopy

    s.categories = [
        {**c, "id": _n(c["id"]), "self": s.url(f"projectCategory/{_n(c['id'])}")} for c in origin.categories
    ]
    for p in origin.projects:
        body = o(p)
        body["id"] = _n(p["id"])
        body["self"] = s.url(f"project/{body['id']}")
        if "projectCategory" in body:
            body["projectCategory"] = next(c for c in s.categories if c["name"] == p["projectCategory"]["name"])
        s.projects.append(body)
        s.project_by_key[body["key"]] = body
        s.project_by_key[body["id"]] = body
    for t in origin.issue_types:
        body = o(t)
        body["id"] = _n(t["id"])
        body["self"] = s.url(f"issuetype/{body['id']}")
        _scope(body)
        s.issue_types.append(body)
    for f in origin.fields:
        body = o(f)
        fid = _field_id(f["id"])
        if f["custom"]:
            num = int(fid.removeprefix("customfield_"))
            body.update(id=fid, key=fid)
            body["schema"]["customId"] = num
            body["clauseNames"] = sorted([f"cf[{num}]", f["name"]])
        _scope(body)
        s.fields.append(body)
        s.field_extra[fid] = dict(origin.field_extra[f["id"]])
    s.field_by_id = {f["id"]: f for f in s.fields}

    edited = _edited_status(origin)["id"]
    for st in origin.statuses:
        body = o(st)
        body["id"] = _n(st["id"])
        _scope(body)
        if st["id"] == edited:
            body["description"] = "Edited in the sandbox"
        s.statuses.append(body)
    renamed = _renamed_workflow(origin)
    wf_names = {w["name"]: w["name"] for w in origin.workflows}
    if renamed is not None:
        wf_names[renamed["name"]] = f"{renamed['name']} (sandbox)"
    for w in origin.workflows:
        body = o(w)
        body.update(id=_uuid_of(w["id"]), name=wf_names[w["name"]])
        _scope(body)
        for ref in body["statuses"]:
            ref["statusReference"] = _n(ref["statusReference"])
        for tr in body["transitions"]:
            tr["toStatusReference"] = _n(tr["toStatusReference"])
            for link in tr["links"]:
                link["fromStatusReference"] = _n(link["fromStatusReference"])
        body["version"] = {**w["version"], "id": _uuid_of(w["version"]["id"])}
        s.workflows.append(body)
    for ws in origin.workflow_schemes:
        body = o(ws)
        body.update(
            id=_n(ws["id"]),
            self=s.url(f"workflowscheme/{_n(ws['id'])}"),
            defaultWorkflow=wf_names[ws["defaultWorkflow"]],
            issueTypeMappings={_n(k): wf_names[v] for k, v in ws["issueTypeMappings"].items()},
            _default_id=_uuid_of(ws["_default_id"]),
        )
        s.workflow_schemes.append(body)

    for sc in origin.screens:
        body = o(sc)
        body["id"] = _n(sc["id"])
        _scope(body)
        s.screens.append(body)
    for ss in origin.screen_schemes:
        body = o(ss)
        body["id"] = _n(ss["id"], keep_defaults=True)
        body["screens"] = {k: _n(v) for k, v in ss["screens"].items()}
        s.screen_schemes.append(body)
    for its in origin.issue_type_schemes:
        body = o(its)
        body["id"] = _n(its["id"])
        if "defaultIssueTypeId" in body:
            body["defaultIssueTypeId"] = _n(body["defaultIssueTypeId"])
        s.issue_type_schemes.append(body)
        s.issue_type_scheme_items[body["id"]] = [_n(i) for i in origin.issue_type_scheme_items[its["id"]]]
    s.itss = [{**x, "id": _n(x["id"], keep_defaults=True)} for x in origin.itss]
    s.itss_items = [
        {
            "issueTypeScreenSchemeId": _n(x["issueTypeScreenSchemeId"], keep_defaults=True),
            "issueTypeId": _n(x["issueTypeId"]),
            "screenSchemeId": _n(x["screenSchemeId"], keep_defaults=True),
        }
        for x in origin.itss_items
    ]
    s.field_configurations = [{**fc, "id": _n(fc["id"])} for fc in origin.field_configurations]
    s.fcs = [{**x, "id": _n(x["id"])} for x in origin.fcs]
    s.fcs_items = [
        {
            "fieldConfigurationSchemeId": _n(x["fieldConfigurationSchemeId"]),
            "issueTypeId": _n(x["issueTypeId"]),
            "fieldConfigurationId": _n(x["fieldConfigurationId"]),
        }
        for x in origin.fcs_items
    ]

    s.priorities = o(origin.priorities)  # Jira's priority ids are the same on every site
    s.priority_schemes = [
        {
            **o(ps),
            "id": _n(ps["id"], keep_defaults=True),
            "self": s.url(f"priorityscheme/{_n(ps['id'], keep_defaults=True)}"),
            "_project_ids": [_n(p) for p in ps["_project_ids"]],
        }
        for ps in origin.priority_schemes
    ]
    s.resolutions = [{**r, "id": _n(r["id"]), "self": s.url(f"resolution/{_n(r['id'])}")} for r in origin.resolutions]
    extra = str(max(int(r["id"]) for r in s.resolutions) + 1) if s.resolutions else str(OFFSET)
    s.resolutions.append(
        {
            "self": s.url(f"resolution/{extra}"),
            "id": extra,
            "description": "Sandbox.",
            "name": "Sandbox Only",
            "default": False,
        }
    )
    s.link_types = [
        {**lt, "id": _n(lt["id"]), "self": s.url(f"issueLinkType/{_n(lt['id'])}")} for lt in origin.link_types[:-1]
    ]

    for ps in origin.permission_schemes:
        body = o(ps)
        body["id"] = _n(ps["id"], keep_defaults=True)
        body["self"] = s.url(f"permissionscheme/{body['id']}")
        _scope(body)
        body["permissions"] = [
            {
                **g,
                "id": _n(g["id"]),
                "self": s.url(f"permissionscheme/{body['id']}/permission/{_n(g['id'])}"),
                "holder": _holder(g["holder"]),
            }
            for g in ps["permissions"]
        ]
        s.permission_schemes.append(body)
    for ns in origin.notification_schemes:
        body = o(ns)
        body.update(id=_n(ns["id"]), self=s.url(f"notificationscheme/{_n(ns['id'])}"))
        body["projects"] = [_n(p) for p in ns["projects"]]
        for event in body["notificationSchemeEvents"]:
            for note in event["notifications"]:
                note["id"] = _n(note["id"])
        s.notification_schemes.append(body)
    for sec in origin.security_schemes:
        body = o(sec)
        body.update(
            id=_n(sec["id"]),
            self=s.url(f"issuesecurityschemes/{_n(sec['id'])}"),
            defaultSecurityLevelId=_n(sec["defaultSecurityLevelId"]),
        )
        for level in body["levels"]:
            level.update(
                id=_n(level["id"]),
                issueSecuritySchemeId=_n(level["issueSecuritySchemeId"]),
                self=s.url(f"securitylevel/{_n(level['id'])}"),
            )
        s.security_schemes.append(body)
    s.security_members = [
        {
            "id": _n(m["id"]),
            "issueSecurityLevelId": _n(m["issueSecurityLevelId"]),
            "issueSecuritySchemeId": _n(m["issueSecuritySchemeId"]),
            "holder": _holder(m["holder"]),
        }
        for m in origin.security_members
    ]
    keys = (
        "issuetypescheme",
        "fieldconfigurationscheme",
        "workflowscheme",
        "notificationscheme",
        "issuesecurityscheme",
    )
    for pid, schemes in origin.project_schemes.items():
        mapped: dict[str, str | None] = {}
        for name, sid in schemes.items():
            if sid is None:
                mapped[name] = None
            elif name in keys:
                mapped[name] = _n(sid)
            else:  # issuetypescreenscheme, permissionscheme, priorityscheme: the defaults keep id 1 / 0
                mapped[name] = _n(sid, keep_defaults=True)
        s.project_schemes[_n(pid)] = mapped
    s.audit_records = o(origin.audit_records)
    s.configuration = o(origin.configuration)
    s.advanced_settings = o(origin.advanced_settings)
    s.application_roles = [
        {
            **o(r),
            "groups": sorted(_group(g) for g in r["groups"]),
            "defaultGroups": sorted(_group(g) for g in r["defaultGroups"]),
        }
        for r in origin.application_roles
    ]
    return s


# Kinds whose ids are the same on every site, and kinds whose default (id 0 or 1) keeps its id.
_FIXED_ID_KINDS = frozenset(
    {
        "configuration",
        "timetracking",
        "application-property",
        "application-role",
        "permission-key",
        "issue-event",
        "priority",
        "status-category",
        "project-role",
    }
)
_DEFAULT_KEEPS_ID = frozenset({"screen-scheme", "issuetype-screen-scheme", "priority-scheme", "permission-scheme"})


def counterpart(item_key: str) -> str:
    """The item key the sandbox gives the object that has ``item_key`` on production (ground truth
    for tests of matching; differences such as renames are not applied)."""
    kind, _, ident = item_key.partition("/")
    if kind in _FIXED_ID_KINDS:
        return item_key
    if kind == "field":
        return f"field/{_field_id(ident)}"
    if kind == "workflow":
        return f"workflow/{_uuid_of(ident)}"
    if kind in _DEFAULT_KEEPS_ID:
        return f"{kind}/{_n(ident, keep_defaults=True)}"
    return f"{kind}/{_n(ident)}"
