"""The generated Jira site: every configuration object the emulator serves.

Top-level objects are built eagerly (cheap even for ``xl``); children that multiply
(contexts and options per field, tabs and tab fields per screen, items per field configuration,
role actors per project) are derived on demand from ``(seed, kind, parent id)`` and cached, so an
``xl`` site starts in well under a second and two sites with the same seed are identical.
Bodies are stored in the exact JSON shape Jira returns, so handlers only select and page.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jiradrift.sim.auditlog import AUDIT_TYPES, AuditedObject, AuditPolicy
from jiradrift.sim.names import Namer, project_key
from jiradrift.sim.spec import SiteSpec
from jiradrift.sim.users import ADMIN, DirectoryUser, default_directory
from jiradrift.sim.users import ADMIN_ACCOUNT_ID as ADMIN_ACCOUNT_ID  # re-exported: tests name it from here

Json = dict[str, Any]

SYSTEM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("summary", "Summary", "string"),
    ("description", "Description", "string"),
    ("status", "Status", "status"),
    ("priority", "Priority", "priority"),
    ("resolution", "Resolution", "resolution"),
    ("issuetype", "Issue Type", "issuetype"),
    ("project", "Project", "project"),
    ("assignee", "Assignee", "user"),
    ("reporter", "Reporter", "user"),
    ("labels", "Labels", "array"),
    ("components", "Components", "array"),
    ("fixVersions", "Fix versions", "array"),
    ("duedate", "Due date", "date"),
    ("environment", "Environment", "string"),
    ("created", "Created", "datetime"),
    ("updated", "Updated", "datetime"),
)

# (custom type key suffix, schema type, items, searcher key suffix, has options)
CUSTOM_TYPES: tuple[tuple[str, str, str | None, str, bool], ...] = (
    ("select", "option", None, "multiselectsearcher", True),
    ("multiselect", "array", "option", "multiselectsearcher", True),
    ("textfield", "string", None, "textsearcher", False),
    ("cascadingselect", "option-with-child", None, "cascadingselectsearcher", True),
    ("datepicker", "date", None, "daterange", False),
    ("radiobuttons", "option", None, "multiselectsearcher", True),
    ("float", "number", None, "exactnumber", False),
    ("multicheckboxes", "array", "option", "multiselectsearcher", True),
    ("textarea", "string", None, "textsearcher", False),
    ("userpicker", "user", None, "userpickergroupsearcher", False),
    ("labels", "array", "string", "labelsearcher", False),
)
CF_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"

STATUS_CATEGORIES: tuple[Json, ...] = (
    {"id": 1, "key": "undefined", "colorName": "medium-gray", "name": "No Category"},
    {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
)
_CATEGORY_BY_NEW_API = {2: "TODO", 4: "IN_PROGRESS", 3: "DONE"}

PERMISSION_KEYS: tuple[tuple[str, str, str], ...] = (
    ("ADMINISTER", "Administer Jira", "GLOBAL"),
    ("SYSTEM_ADMIN", "Administer Jira System", "GLOBAL"),
    ("BULK_CHANGE", "Make bulk changes", "GLOBAL"),
    ("CREATE_SHARED_OBJECTS", "Share dashboards and filters", "GLOBAL"),
    ("ADMINISTER_PROJECTS", "Administer Projects", "PROJECT"),
    ("BROWSE_PROJECTS", "Browse Projects", "PROJECT"),
    ("CREATE_ISSUES", "Create Issues", "PROJECT"),
    ("EDIT_ISSUES", "Edit Issues", "PROJECT"),
    ("DELETE_ISSUES", "Delete Issues", "PROJECT"),
    ("ASSIGN_ISSUES", "Assign Issues", "PROJECT"),
    ("ASSIGNABLE_USER", "Assignable User", "PROJECT"),
    ("RESOLVE_ISSUES", "Resolve Issues", "PROJECT"),
    ("CLOSE_ISSUES", "Close Issues", "PROJECT"),
    ("TRANSITION_ISSUES", "Transition Issues", "PROJECT"),
    ("MOVE_ISSUES", "Move Issues", "PROJECT"),
    ("LINK_ISSUES", "Link Issues", "PROJECT"),
    ("ADD_COMMENTS", "Add Comments", "PROJECT"),
    ("EDIT_ALL_COMMENTS", "Edit All Comments", "PROJECT"),
    ("DELETE_ALL_COMMENTS", "Delete All Comments", "PROJECT"),
    ("CREATE_ATTACHMENTS", "Create Attachments", "PROJECT"),
    ("DELETE_ALL_ATTACHMENTS", "Delete All Attachments", "PROJECT"),
    ("WORK_ON_ISSUES", "Work On Issues", "PROJECT"),
    ("MANAGE_WATCHERS", "Manage Watchers", "PROJECT"),
    ("SET_ISSUE_SECURITY", "Set Issue Security", "PROJECT"),
    ("SCHEDULE_ISSUES", "Schedule Issues", "PROJECT"),
    ("VIEW_DEV_TOOLS", "View Development Tools", "PROJECT"),
)
EVENTS: tuple[tuple[int, str], ...] = (
    (1, "Issue Created"),
    (2, "Issue Updated"),
    (3, "Issue Assigned"),
    (4, "Issue Resolved"),
    (5, "Issue Closed"),
    (6, "Issue Commented"),
    (7, "Issue Reopened"),
    (8, "Issue Deleted"),
    (9, "Issue Moved"),
    (10, "Work Logged On Issue"),
    (13, "Generic Event"),
)
ROLES: tuple[tuple[int, str, str], ...] = (
    (10002, "Administrators", "A project role that represents administrators in a project"),
    (10001, "Developers", "A project role that represents developers in a project"),
    (10000, "Users", "A project role that represents users in a project"),
    (10003, "Service Desk Team", "Members of the service desk team"),
    (10004, "atlassian-addons-project-access", "A project role for apps"),
)
GROUPS: tuple[tuple[str, str], ...] = (
    ("jira-administrators", "5f1c0b3e-0000-4000-8000-000000000001"),
    ("jira-software-users", "5f1c0b3e-0000-4000-8000-000000000002"),
    ("site-admins", "5f1c0b3e-0000-4000-8000-000000000003"),
    ("Entwickler-Öffentlich", "5f1c0b3e-0000-4000-8000-000000000004"),
)


def _rng(seed: int, *parts: object) -> random.Random:
    """An independent, stable random stream per (seed, object): lazily derived children do not
    depend on the order in which they are first requested."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Context:
    """A custom-field context plus the data Jira serves from its sub-endpoints."""

    body: Json
    issue_type_ids: list[str]  # empty = any issue type
    project_ids: list[str]  # empty = global
    options: list[Json]
    default: Json | None


class LazyItems(Sequence[Json]):
    """A sequence whose items are computed from their index on access, with overrides for the
    few an admin mutation changed. Keeps large per-parent lists (field configuration items) out of
    memory: a page only materialises its own slice."""

    def __init__(self, length: int, make: Callable[[int], Json]) -> None:
        self._length = length
        self._make = make
        self.overrides: dict[int, Json] = {}

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        found = self.overrides.get(index)
        return found if found is not None else self._make(index)

    def __iter__(self) -> Iterator[Json]:
        return (self[i] for i in range(self._length))


@dataclass
class Site:
    """A deterministic site. Construct with :meth:`generate`."""

    spec: SiteSpec
    seed: int
    base_url: str
    cloud_id: str
    title: str
    started: datetime
    fields: list[Json] = field(default_factory=list)
    field_by_id: dict[str, Json] = field(default_factory=dict)
    field_extra: dict[str, Json] = field(default_factory=dict)  # /field/search-only attributes
    issue_types: list[Json] = field(default_factory=list)
    statuses: list[Json] = field(default_factory=list)
    workflows: list[Json] = field(default_factory=list)
    workflow_schemes: list[Json] = field(default_factory=list)
    issue_type_schemes: list[Json] = field(default_factory=list)
    issue_type_scheme_items: dict[str, list[str]] = field(default_factory=dict)
    itss: list[Json] = field(default_factory=list)
    itss_items: list[Json] = field(default_factory=list)
    screens: list[Json] = field(default_factory=list)
    screen_schemes: list[Json] = field(default_factory=list)
    field_configurations: list[Json] = field(default_factory=list)
    fcs: list[Json] = field(default_factory=list)
    fcs_items: list[Json] = field(default_factory=list)
    priorities: list[Json] = field(default_factory=list)
    priority_schemes: list[Json] = field(default_factory=list)
    resolutions: list[Json] = field(default_factory=list)
    link_types: list[Json] = field(default_factory=list)
    permission_schemes: list[Json] = field(default_factory=list)
    notification_schemes: list[Json] = field(default_factory=list)
    security_schemes: list[Json] = field(default_factory=list)
    security_members: list[Json] = field(default_factory=list)
    projects: list[Json] = field(default_factory=list)
    project_by_key: dict[str, Json] = field(default_factory=dict)
    project_schemes: dict[str, dict[str, str | None]] = field(default_factory=dict)
    categories: list[Json] = field(default_factory=list)
    audit_records: list[Json] = field(default_factory=list)
    audit_policy: AuditPolicy = field(default_factory=AuditPolicy)
    _audit_visible_at: dict[int, float] = field(default_factory=dict)  # record id -> epoch seconds
    # the people GET /user and /user/bulk know (sim/users.py), and whom the audit log names as the
    # author of the next admin mutation (Admin.act_as)
    users: dict[str, DirectoryUser] = field(default_factory=default_directory)
    audit_author: str = ADMIN_ACCOUNT_ID
    configuration: Json = field(default_factory=dict)
    advanced_settings: list[Json] = field(default_factory=list)
    application_roles: list[Json] = field(default_factory=list)
    _contexts: dict[str, list[Context]] = field(default_factory=dict)
    _tabs: dict[int, list[Json]] = field(default_factory=dict)
    _tab_fields: dict[int, list[Json]] = field(default_factory=dict)
    _fc_items: dict[int, LazyItems] = field(default_factory=dict)
    _role_actors: dict[tuple[str, int], list[Json]] = field(default_factory=dict)

    # ---------------------------------------------------------------- construction

    @classmethod
    def generate(cls, spec: SiteSpec, seed: int, base_url: str) -> Site:
        rng = _rng(seed, spec.name, "site")
        site = cls(
            spec=spec,
            seed=seed,
            base_url=base_url.rstrip("/"),
            cloud_id=_uuid(rng),
            title=f"Emulated Jira ({spec.name}, seed {seed})",
            started=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )
        site._build()
        return site

    def url(self, path: str) -> str:
        return f"{self.base_url}/rest/api/3/{path}"

    def _r(self, *parts: object) -> random.Random:
        return _rng(self.seed, self.spec.name, *parts)

    def _build(self) -> None:
        self._build_categories_and_projects()
        self._build_issue_types()
        self._build_fields()
        self._build_statuses_and_workflows()
        self._build_screens()
        self._build_schemes()
        self._build_priorities()
        self._build_permission_like_schemes()
        self._assign_projects()
        self._build_audit()
        self._build_settings()

    def _build_settings(self) -> None:
        self.configuration = {
            "votingEnabled": True,
            "watchingEnabled": True,
            "unassignedIssuesAllowed": False,
            "subTasksEnabled": True,
            "issueLinkingEnabled": True,
            "timeTrackingEnabled": True,
            "attachmentsEnabled": True,
            "timeTrackingConfiguration": {
                "workingHoursPerDay": 8.0,
                "workingDaysPerWeek": 5.0,
                "timeFormat": "pretty",
                "defaultUnit": "minute",
            },
        }
        self.advanced_settings = [
            {"id": k, "key": k, "value": v, "name": n, "desc": d, "type": t, "defaultValue": dv}
            for k, v, n, d, t, dv in (
                (
                    "jira.clone.prefix",
                    "CLONE -",
                    "The prefix added to the Summary field of cloned issues",
                    "",
                    "string",
                    "CLONE -",
                ),
                (
                    "jira.date.picker.java.format",
                    "d/MMM/yy",
                    "Date picker format (Java)",
                    "",
                    "string",
                    "d/MMM/yy",
                ),
                ("jira.issue.actions.order", "asc", "Default order of issue actions", "", "string", "asc"),
                (
                    "jira.table.cols.subtasks",
                    "issuetype, status, assignee, progress",
                    "Sub-task columns",
                    "",
                    "string",
                    "issuetype, status, assignee, progress",
                ),
                (
                    "jira.view.issue.links.sort.order",
                    "type, status, priority",
                    "Issue link sort order",
                    "",
                    "string",
                    "type, status, priority",
                ),
                (
                    "jira.option.timetracking.estimates.legacy.behaviour",
                    "false",
                    "Legacy time tracking",
                    "",
                    "boolean",
                    "false",
                ),
            )
        ]
        self.application_roles = [
            {
                "key": "jira-software",
                "groups": ["jira-software-users", "site-admins"],
                "name": "Jira Software",
                "defaultGroups": ["jira-software-users"],
                "selectedByDefault": False,
                "defined": True,
                "numberOfSeats": 100,
                "remainingSeats": 61,
                "userCount": 39,
                "userCountDescription": "users",
                "hasUnlimitedSeats": False,
                "platform": False,
            },
            {
                "key": "jira-core",
                "groups": ["site-admins"],
                "name": "Jira Work Management",
                "defaultGroups": [],
                "selectedByDefault": False,
                "defined": True,
                "numberOfSeats": 100,
                "remainingSeats": 98,
                "userCount": 2,
                "userCountDescription": "users",
                "hasUnlimitedSeats": False,
                "platform": True,
            },
        ]

    def _build_categories_and_projects(self) -> None:
        self.categories = [
            {
                "self": self.url(f"projectCategory/{10000 + i}"),
                "id": str(10000 + i),
                "name": n,
                "description": f"Projects for {n.lower()}",
            }
            for i, n in enumerate(("Engineering", "Operations", "Business", "Ünterstützung"))
        ]
        rng = self._r("projects")
        namer = Namer(rng)
        for i in range(self.spec.projects):
            pid = str(10000 + i)
            team_managed = i % 8 == 5
            key = project_key(i)
            body: Json = {
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "self": self.url(f"project/{pid}"),
                "id": pid,
                "key": key,
                "name": namer.name(i, suffix=f"({key})" if i % 17 == 16 else ""),
                "avatarUrls": self._avatars("project", pid),
                "projectTypeKey": ("software", "business", "service_desk")[i % 3],
                "simplified": team_managed,
                "style": "next-gen" if team_managed else "classic",
                "isPrivate": False,
                "properties": {},
            }
            if i % 4 != 3:
                cat = self.categories[i % len(self.categories)]
                body["projectCategory"] = dict(cat)
            if team_managed:
                body["uuid"] = _uuid(rng)
            self.projects.append(body)
            self.project_by_key[key] = body
            self.project_by_key[pid] = body

    def _avatars(self, kind: str, ident: str) -> Json:
        base = f"{self.base_url}/rest/api/3/universal_avatar/view/type/{kind}/avatar/{ident}"
        return {
            s: f"{base}?size={n}"
            for s, n in (("48x48", "large"), ("24x24", "small"), ("16x16", "xsmall"), ("32x32", "medium"))
        }

    def _team_project(self, i: int) -> Json:
        team = [p for p in self.projects if p["simplified"]] or self.projects
        return team[i % len(team)]

    def _build_issue_types(self) -> None:
        base = (
            ("Task", 0, False),
            ("Sub-task", -1, True),
            ("Bug", 0, False),
            ("Story", 0, False),
            ("Epic", 1, False),
        )
        rng = self._r("issuetypes")
        namer = Namer(rng)
        for i in range(self.spec.issue_types):
            iid = str(10000 + i)
            if i < len(base):
                name, level, subtask = base[i]
            else:
                name, level, subtask = namer.name(i, suffix="Type"), 0, False
            body: Json = {
                "self": self.url(f"issuetype/{iid}"),
                "id": iid,
                "description": f"{name} issue type",
                "iconUrl": f"{self.base_url}/images/icons/{iid}.svg",
                "name": name,
                "subtask": subtask,
                "avatarId": 10300 + i % 20,
                "hierarchyLevel": level,
            }
            if i >= len(base) and i % 4 == 1 and self.projects:
                proj = self._team_project(i)
                body["entityId"] = _uuid(rng)
                body["scope"] = {"type": "PROJECT", "project": {"id": proj["id"]}}
            self.issue_types.append(body)

    @property
    def global_issue_type_ids(self) -> list[str]:
        return [t["id"] for t in self.issue_types if "scope" not in t]

    def _build_fields(self) -> None:
        for fid, name, typ in SYSTEM_FIELDS:
            body: Json = {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": fid not in ("status",),
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid],
                "schema": {"type": typ, "system": fid},
            }
            if typ == "array":
                body["schema"]["items"] = "string"
            self._add_field(body, {"isLocked": False, "searcherKey": None, "description": f"The {name}"})
        rng = self._r("fields")
        namer = Namer(rng)
        for i in range(self.spec.custom_fields):
            num = 10000 + i
            fid = f"customfield_{num}"
            type_key, stype, items, searcher, _ = CUSTOM_TYPES[i % len(CUSTOM_TYPES)]
            name = namer.name(i)
            schema: Json = {"type": stype, "custom": CF_PREFIX + type_key, "customId": num}
            if items:
                schema["items"] = items
            body = custom_field_body(num, name, schema)
            if i % 25 == 24 and self.projects:
                # Team-managed field: scoped to one project; a snapshot skips it.
                body["scope"] = {"type": "PROJECT", "project": {"id": self._team_project(i)["id"]}}
            self._add_field(
                body,
                {
                    "isLocked": i % 50 == 7,
                    "searcherKey": CF_PREFIX + searcher,
                    "description": f"Custom field {name}" if i % 3 else "",
                },
            )
        self.field_by_id.update({f["id"]: f for f in self.fields})

    def _add_field(self, body: Json, extra: Json) -> None:
        self.fields.append(body)
        self.field_extra[body["id"]] = extra

    @property
    def custom_fields(self) -> list[Json]:
        return [f for f in self.fields if f["custom"]]

    def field_search_item(self, body: Json, expand: set[str]) -> Json:
        """The ``Field`` shape of ``/field/search`` (differs from ``/field``'s FieldDetails)."""
        extra = self.field_extra[body["id"]]
        item: Json = {"id": body["id"], "name": body["name"], "schema": body["schema"]}
        if extra["description"]:
            item["description"] = extra["description"]
        if "key" in expand:
            item["key"] = body["key"]
        if "stableId" in expand:
            item["stableId"] = "sfid:" + body["id"]
        if "isLocked" in expand:
            item["isLocked"] = extra["isLocked"]
        if "searcherKey" in expand and extra["searcherKey"]:
            item["searcherKey"] = extra["searcherKey"]
        if "contextsCount" in expand and body["custom"]:
            item["contextsCount"] = len(self.contexts(body["id"]))
        if "screensCount" in expand:
            item["screensCount"] = int(hashlib.md5(body["id"].encode()).hexdigest()[:2], 16) % 7
        if "lastUsed" in expand:
            item["lastUsed"] = {"type": "TRACKED", "value": "2026-01-01T10:00:00.000+0000"}
        return item

    # -------------------------------------------------- contexts and options (lazy)

    def contexts(self, field_id: str) -> list[Context]:
        found = self._contexts.get(field_id)
        if found is not None:
            return found
        body = self.field_by_id.get(field_id)
        result: list[Context] = []
        if body is not None and body["custom"] and "scope" not in body:
            result = self._make_contexts(body)
        self._contexts[field_id] = result
        return result

    def _make_contexts(self, body: Json) -> list[Context]:
        num = body["schema"]["customId"]
        index = num - 10000
        rng = self._r("contexts", body["id"])
        has_options = CUSTOM_TYPES[index % len(CUSTOM_TYPES)][4]
        count = 1 + (index % 3 == 0) + (index % 11 == 0)
        its = self.global_issue_type_ids
        out: list[Context] = []
        for j in range(count):
            cid = str(10000 + index * 4 + j)
            is_global = j == 0
            project_ids = (
                []
                if is_global
                else [p["id"] for p in rng.sample(self.projects, min(2, len(self.projects))) if not p["simplified"]]
            )
            issue_type_ids = [] if j == 0 or rng.random() < 0.5 else rng.sample(its, min(2, len(its)))
            ctx_body: Json = {
                "id": cid,
                "name": "Default Configuration Scheme for " + body["name"] if j == 0 else f"Context {j}",
                "description": "Default configuration scheme generated by Jira" if j == 0 else "",
                "isGlobalContext": is_global and not project_ids,
                "isAnyIssueType": not issue_type_ids,
            }
            options: list[Json] = []
            default: Json | None = None
            if has_options:
                n_options = 10_000 if index % 500 == 110 and j == 0 else rng.randint(2, self.spec.max_options)
                for k in range(n_options):
                    options.append(
                        {
                            "id": str(int(cid) * 100_000 + k),
                            "value": f"Option {k + 1}",
                            "disabled": k % 13 == 12,
                        }
                    )
                if body["schema"]["type"] == "option-with-child":
                    parents = options[: max(1, len(options) // 3)]
                    children = [
                        {
                            "id": str(int(cid) * 100_000 + 50_000 + k),
                            "value": f"Child {k + 1}",
                            "disabled": False,
                            "optionId": parents[k % len(parents)]["id"],
                        }
                        for k in range(len(options) - len(parents))
                    ]
                    options = parents + children
                    default = {"type": "option.cascading", "contextId": cid, "optionId": parents[0]["id"]}
                elif body["schema"]["type"] == "array":
                    default = {"type": "option.multiple", "contextId": cid, "optionIds": [options[0]["id"]]}
                else:
                    default = {"type": "option.single", "contextId": cid, "optionId": options[0]["id"]}
            out.append(Context(ctx_body, issue_type_ids, project_ids, options, default))
        return out

    def context(self, field_id: str, context_id: str) -> Context | None:
        return next((c for c in self.contexts(field_id) if c.body["id"] == context_id), None)

    # ------------------------------------------------------ statuses and workflows

    def _build_statuses_and_workflows(self) -> None:
        rng = self._r("statuses")
        base = (
            ("To Do", 2),
            ("In Progress", 4),
            ("Done", 3),
            ("In Review", 4),
            ("Blocked", 4),
            ("Backlog", 2),
            ("Selected for Development", 2),
            ("Closed", 3),
            ("Reopened", 2),
            ("Won't Do", 3),
        )
        words = ("Waiting for", "Ready for", "Pending", "Awaiting", "In")
        objs = ("QA", "Approval", "Customer", "Deploy", "Legal", "Design", "Prüfung", "承認", "Triage")
        for i in range(self.spec.statuses):
            sid = str(10000 + i)
            if i < len(base):
                name, cat = base[i]
            elif i % 19 == 18:
                name, cat = self.statuses[rng.randrange(len(self.statuses))]["name"], 4
            else:
                name, cat = f"{rng.choice(words)} {rng.choice(objs)} {i}", (2, 4, 3)[i % 3]
            category = next(c for c in STATUS_CATEGORIES if c["id"] == cat)
            body: Json = {
                "id": sid,
                "name": name,
                "description": f"{name} status" if i % 2 else "",
                "statusCategory": _CATEGORY_BY_NEW_API[cat],
                "scope": {"type": "GLOBAL"},
                "_category": category,
            }
            if i >= len(base) and i % 10 == 3 and self.projects:
                body["scope"] = {"type": "PROJECT", "project": {"id": self._team_project(i)["id"]}}
            self.statuses.append(body)
        global_statuses = [s for s in self.statuses if s["scope"]["type"] == "GLOBAL"]
        wrng = self._r("workflows")
        namer = Namer(wrng)
        created = self.started - timedelta(days=400)
        for i in range(self.spec.workflows):
            team = i % 9 == 4 and bool(self.projects)
            name = "jira" if i == 0 else namer.name(i, suffix="Workflow")
            chosen = wrng.sample(global_statuses, min(len(global_statuses), wrng.randint(3, 7)))
            scope: Json = {"type": "GLOBAL"}
            if team:
                scope = {"type": "PROJECT", "project": {"id": self._team_project(i)["id"]}}
                name = f"Software Simplified Workflow for Project {self._team_project(i)['key']}"
            wf: Json = {
                "id": _uuid(wrng),
                "name": name,
                "description": "" if i % 4 else f"Workflow {name}",
                "scope": scope,
                "isEditable": i != 0,
                "statuses": [
                    {
                        "statusReference": s["id"],
                        "properties": {},
                        "deprecated": False,
                        "layout": {"x": float(120 * k), "y": float(60 * (k % 2))},
                    }
                    for k, s in enumerate(chosen)
                ],
                "transitions": self._transitions(chosen, wrng),
                "startPointLayout": {"x": -100.0, "y": 0.0},
                "version": {"id": _uuid(wrng), "versionNumber": wrng.randint(0, 12)},
                "created": _ts(created + timedelta(days=i % 300)),
                "updated": _ts(created + timedelta(days=300 + i % 90)),
            }
            self.workflows.append(wf)

    @staticmethod
    def _transitions(chosen: list[Json], rng: random.Random) -> list[Json]:
        out: list[Json] = [
            {
                "id": "1",
                "type": "INITIAL",
                "name": "Create",
                "description": "",
                "toStatusReference": chosen[0]["id"],
                "links": [],
                "properties": {},
                "actions": [],
                "validators": [],
                "triggers": [],
            }
        ]
        for k in range(1, len(chosen)):
            out.append(
                {
                    "id": str(11 + 10 * k),
                    "type": "DIRECTED",
                    "name": f"To {chosen[k]['name']}",
                    "description": "",
                    "toStatusReference": chosen[k]["id"],
                    "links": [{"fromStatusReference": chosen[k - 1]["id"], "fromPort": 0, "toPort": 1}],
                    "properties": {},
                    "actions": [],
                    "triggers": [],
                    "validators": (
                        [
                            {
                                "ruleKey": "system:validate-field-value",
                                "parameters": {"fieldsRequired": "resolution"},
                            }
                        ]
                        if k == len(chosen) - 1 and rng.random() < 0.5
                        else []
                    ),
                    "conditions": {"operation": "ALL", "conditions": [], "conditionGroups": []},
                }
            )
        out.append(
            {
                "id": "900",
                "type": "GLOBAL",
                "name": "Any to Done",
                "description": "",
                "toStatusReference": chosen[-1]["id"],
                "links": [],
                "properties": {},
                "actions": [],
                "validators": [],
                "triggers": [],
            }
        )
        return out

    def workflow_statuses(self, workflows: list[Json]) -> list[Json]:
        """The top-level ``statuses`` list of a workflow response: each referenced status once."""
        seen: dict[str, Json] = {}
        by_id = self.status_by_id
        for wf in workflows:
            for ref in wf["statuses"]:
                sid = ref["statusReference"]
                if sid not in seen and sid in by_id:
                    s = by_id[sid]
                    seen[sid] = {
                        "id": s["id"],
                        "name": s["name"],
                        "statusReference": s["id"],
                        "statusCategory": s["statusCategory"],
                        "scope": s["scope"],
                        "description": s["description"],
                    }
        return list(seen.values())

    @property
    def status_by_id(self) -> dict[str, Json]:
        return {s["id"]: s for s in self.statuses}

    def status_details(self, s: Json) -> Json:
        """The older ``StatusDetails`` shape of ``/status``."""
        cat = s["_category"]
        body: Json = {
            "self": self.url(f"status/{s['id']}"),
            "description": s["description"],
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": s["name"],
            "id": s["id"],
            "statusCategory": {"self": self.url(f"statuscategory/{cat['id']}"), **cat},
        }
        if s["scope"]["type"] == "PROJECT":
            body["scope"] = {"type": "PROJECT", "project": {"id": s["scope"]["project"]["id"]}}
        return body

    def jira_status(self, s: Json) -> Json:
        return {k: v for k, v in s.items() if not k.startswith("_")}

    # ------------------------------------------------------------ screens (lazy tabs)

    def _build_screens(self) -> None:
        rng = self._r("screens")
        namer = Namer(rng)
        for i in range(self.spec.screens):
            sid = 1 + i if i < 3 else 10000 + i
            name = (
                ("Default Screen", "Resolve Issue Screen", "Workflow Screen")[i]
                if i < 3
                else namer.name(i, suffix="Screen")
            )
            body: Json = {"id": sid, "name": name, "description": "" if i % 3 else f"Screen for {name}"}
            if i >= 3 and i % 12 == 5 and self.projects:
                proj = self._team_project(i)
                body["scope"] = {"type": "PROJECT", "project": {"id": proj["id"]}}
            self.screens.append(body)
        n_schemes = max(1, self.spec.screens // 2)
        for i in range(n_schemes):
            screens = rng.sample(self.screens, min(3, len(self.screens)))
            sid = 1 if i == 0 else 10000 + i
            self.screen_schemes.append(
                {
                    "id": sid,
                    "name": "Default Screen Scheme" if i == 0 else namer.name(i, suffix="Screen Scheme"),
                    "description": "",
                    "screens": {
                        "default": screens[0]["id"],
                        "create": screens[-1]["id"],
                        **({"edit": screens[1]["id"]} if i % 2 and len(screens) > 1 else {}),
                    },
                }
            )

    def tabs(self, screen_id: int) -> list[Json]:
        found = self._tabs.get(screen_id)
        if found is None:
            rng = self._r("tabs", screen_id)
            n = 1 + rng.randrange(3)
            names = ("Field Tab", "Details", "Dates", "Überblick")
            found = [
                {
                    "id": 10000 + screen_id * 4 + k,  # 4 slots per screen: ids never collide
                    "name": names[k],
                }
                for k in range(n)
            ]
            self._tabs[screen_id] = found
        return found

    def tab_fields(self, screen_id: int, tab_id: int) -> list[Json]:
        found = self._tab_fields.get(tab_id)
        if found is None:
            rng = self._r("tabfields", screen_id, tab_id)
            candidates = [
                f for f in self.fields if f["id"] not in ("status", "created", "updated") and "scope" not in f
            ]
            picked = rng.sample(candidates, min(len(candidates), rng.randint(2, 12)))
            found = [{"id": f["id"], "name": f["name"]} for f in picked]
            self._tab_fields[tab_id] = found
        return found

    def screen_by_id(self, screen_id: int) -> Json | None:
        return next((s for s in self.screens if s["id"] == screen_id), None)

    # ---------------------------------------------------------- schemes and mappings

    def _build_schemes(self) -> None:
        rng = self._r("schemes")
        namer = Namer(rng)
        its = self.global_issue_type_ids
        n = max(1, self.spec.projects // 4 + 1)
        for i in range(n):
            sid = str(10000 + i)
            chosen = its[:] if i == 0 else rng.sample(its, min(len(its), rng.randint(2, 6)))
            if i:
                rng.shuffle(chosen)
            body: Json = {
                "id": sid,
                "name": "Default Issue Type Scheme" if i == 0 else namer.name(i, suffix="Issue Type Scheme"),
                "description": "Default issue type scheme is the list of global issue types." if i == 0 else "",
                "isDefault": i == 0,
            }
            if i:
                body["defaultIssueTypeId"] = chosen[0]
            self.issue_type_schemes.append(body)
            self.issue_type_scheme_items[sid] = chosen
        n = max(1, self.spec.projects // 3 + 1)
        for i in range(n):
            sid = str(1 if i == 0 else 10000 + i)
            self.itss.append(
                {
                    "id": sid,
                    "name": "Default Issue Type Screen Scheme" if i == 0 else namer.name(i, suffix="ITSS"),
                    "description": "",
                }
            )
            ss = rng.sample(self.screen_schemes, min(2, len(self.screen_schemes)))
            self.itss_items.append(
                {"issueTypeScreenSchemeId": sid, "issueTypeId": "default", "screenSchemeId": str(ss[0]["id"])}
            )
            if i and len(ss) > 1:
                self.itss_items.append(
                    {
                        "issueTypeScreenSchemeId": sid,
                        "issueTypeId": rng.choice(its),
                        "screenSchemeId": str(ss[1]["id"]),
                    }
                )
        for i in range(self.spec.field_configurations):
            fid = 10000 + i
            self.field_configurations.append(
                {
                    "id": fid,
                    "name": "Default Field Configuration" if i == 0 else namer.name(i, suffix="Field Configuration"),
                    "description": "The default field configuration" if i == 0 else "",
                    "isDefault": i == 0,
                }
            )
        n = max(1, self.spec.field_configurations // 2)
        for i in range(n):
            sid = str(10000 + i)
            self.fcs.append({"id": sid, "name": namer.name(i, suffix="Field Configuration Scheme"), "description": ""})
            fcs = rng.sample(self.field_configurations, min(2, len(self.field_configurations)))
            self.fcs_items.append(
                {
                    "fieldConfigurationSchemeId": sid,
                    "issueTypeId": "default",
                    "fieldConfigurationId": str(fcs[0]["id"]),
                }
            )
            if len(fcs) > 1:
                self.fcs_items.append(
                    {
                        "fieldConfigurationSchemeId": sid,
                        "issueTypeId": rng.choice(its),
                        "fieldConfigurationId": str(fcs[1]["id"]),
                    }
                )
        global_wfs = [w for w in self.workflows if w["scope"]["type"] == "GLOBAL"]
        n = max(1, self.spec.projects // 3 + 1)
        for i in range(n):
            default = global_wfs[0] if i == 0 else rng.choice(global_wfs)
            mappings = {it: rng.choice(global_wfs)["name"] for it in rng.sample(its, min(len(its), rng.randint(0, 3)))}
            self.workflow_schemes.append(
                {
                    "id": 10000 + i,
                    "name": "Default Workflow Scheme" if i == 0 else namer.name(i, suffix="Workflow Scheme"),
                    "description": "" if i % 2 else "Workflow scheme",
                    "defaultWorkflow": default["name"],
                    "issueTypeMappings": mappings,
                    "self": self.url(f"workflowscheme/{10000 + i}"),
                    "_default_id": default["id"],
                }
            )

    def fc_items(self, fc_id: int) -> LazyItems:
        found = self._fc_items.get(fc_id)
        if found is None:
            fields = [f for f in self.fields if "scope" not in f]

            def make(i: int, fields: list[Json] = fields) -> Json:
                h = hashlib.blake2b(f"{self.seed}:{fc_id}:{i}".encode(), digest_size=2).digest()[0]
                item: Json = {"id": fields[i]["id"], "isHidden": h % 9 == 0, "isRequired": h % 7 == 0}
                if fields[i]["schema"]["type"] == "string":
                    item["renderer"] = "wiki-renderer" if h % 2 else "text-renderer"
                if h % 5 == 0:
                    item["description"] = "Shown to agents only"
                return item

            found = LazyItems(len(fields), make)
            self._fc_items[fc_id] = found
        return found

    def _build_priorities(self) -> None:
        base = (
            ("Highest", "#d04437"),
            ("High", "#f15C75"),
            ("Medium", "#f79232"),
            ("Low", "#707070"),
            ("Lowest", "#999999"),
            ("Blocker", "#ff0000"),
            ("Trivial", "#cccccc"),
            ("Kritisch ⚠", "#aa0000"),
        )
        for i in range(self.spec.priorities):
            name, colour = base[i] if i < len(base) else (f"Priority {i}", "#123456")
            pid = str(i + 1)
            self.priorities.append(
                {
                    "self": self.url(f"priority/{pid}"),
                    "statusColor": colour,
                    "description": f"{name} priority",
                    "iconUrl": f"{self.base_url}/images/icons/priorities/{pid}.svg",
                    "name": name,
                    "id": pid,
                    "isDefault": name == "Medium",
                    "avatarId": 14800 + i,
                }
            )
        base_r = ("Done", "Won't Do", "Duplicate", "Cannot Reproduce", "Fixed", "Déjà vu")
        for i in range(self.spec.resolutions):
            rid = str(10000 + i)
            name = base_r[i] if i < len(base_r) else f"Resolution {i}"
            self.resolutions.append(
                {
                    "self": self.url(f"resolution/{rid}"),
                    "id": rid,
                    "description": f"{name}.",
                    "name": name,
                    "default": i == 0,
                }
            )
        for i, (name, inward, outward) in enumerate(
            (
                ("Blocks", "is blocked by", "blocks"),
                ("Cloners", "is cloned by", "clones"),
                ("Duplicate", "is duplicated by", "duplicates"),
                ("Relates", "relates to", "relates to"),
            )
        ):
            lid = str(10000 + i)
            self.link_types.append(
                {
                    "id": lid,
                    "name": name,
                    "inward": inward,
                    "outward": outward,
                    "self": self.url(f"issueLinkType/{lid}"),
                }
            )
        rng = self._r("priorityschemes")
        for i in range(max(1, self.spec.projects // 10 + 1)):
            chosen = self.priorities[:] if i == 0 else rng.sample(self.priorities, min(len(self.priorities), 4))
            self.priority_schemes.append(
                {
                    "id": str(1 if i == 0 else 10000 + i),
                    "name": "Default Priority Scheme" if i == 0 else f"Priority Scheme {i}",
                    "description": "",
                    "defaultPriorityId": chosen[0]["id"],
                    "default": i == 0,
                    "self": self.url(f"priorityscheme/{1 if i == 0 else 10000 + i}"),
                    "_priority_ids": [p["id"] for p in chosen],
                    "_project_ids": [],
                }
            )

    def _build_permission_like_schemes(self) -> None:
        rng = self._r("permissionschemes")
        namer = Namer(rng)
        grant_id = 10000
        holders = (
            {"type": "projectRole", "parameter": "10002", "value": "10002"},
            {"type": "projectRole", "parameter": "10001", "value": "10001"},
            {"type": "applicationRole"},
            {"type": "group", "parameter": GROUPS[0][0], "value": GROUPS[0][1]},
            {"type": "group", "parameter": GROUPS[3][0], "value": GROUPS[3][1]},
            {"type": "projectLead"},
            {"type": "reporter"},
            {"type": "anyone"},
            {"type": "user", "parameter": ADMIN_ACCOUNT_ID, "value": ADMIN_ACCOUNT_ID},
        )
        project_keys = [k for k, _, t in PERMISSION_KEYS if t == "PROJECT"]
        for i in range(self.spec.permission_schemes):
            sid = 0 if i == 0 else 10000 + i
            grants = []
            for key in project_keys:
                for h in rng.sample(holders, rng.randint(1, 3)):
                    grants.append(
                        {
                            "id": grant_id,
                            "self": self.url(f"permissionscheme/{sid}/permission/{grant_id}"),
                            "holder": {**h, "expand": h["type"]} if "parameter" in h else dict(h),
                            "permission": key,
                        }
                    )
                    grant_id += 1
            body: Json = {
                "expand": "permissions,user,group,projectRole,field,all",
                "id": sid,
                "self": self.url(f"permissionscheme/{sid}"),
                "name": "Default Permission Scheme" if i == 0 else namer.name(i, suffix="Permission Scheme"),
                "description": "",
                "permissions": grants,
            }
            if i and i % 15 == 7 and self.projects:
                body["scope"] = {"type": "PROJECT", "project": {"id": self._team_project(i)["id"]}}
            self.permission_schemes.append(body)
        nid = 10000
        for i in range(self.spec.notification_schemes):
            sid = 10000 + i
            events = []
            for eid, ename in EVENTS:
                notes = []
                for t, param in rng.sample(
                    (
                        ("CurrentAssignee", None),
                        ("Reporter", None),
                        ("AllWatchers", None),
                        ("Group", GROUPS[1][0]),
                        ("ProjectRole", "10002"),
                        ("EmailAddress", "ops@example.com"),
                    ),
                    rng.randint(1, 3),
                ):
                    note: Json = {"id": nid, "notificationType": t}
                    if param:
                        note["parameter"] = param
                        note["recipient"] = param
                    notes.append(note)
                    nid += 1
                events.append({"event": {"id": eid, "name": ename, "description": ""}, "notifications": notes})
            self.notification_schemes.append(
                {
                    "expand": "notificationSchemeEvents,user,group,projectRole,field,all",
                    "id": sid,
                    "self": self.url(f"notificationscheme/{sid}"),
                    "name": "Default Notification Scheme" if i == 0 else namer.name(i, suffix="Notification Scheme"),
                    "description": "",
                    "notificationSchemeEvents": events,
                    "projects": [],
                }
            )
        member_id = 10000
        for i in range(self.spec.security_schemes):
            sid = 10000 + i
            levels = []
            for k in range(rng.randint(2, 4)):
                lid = str(10000 + i * 10 + k)
                levels.append(
                    {
                        "self": self.url(f"securitylevel/{lid}"),
                        "id": lid,
                        "description": "",
                        "name": ("Public", "Internal", "Confidential", "Geheim")[k],
                        "isDefault": k == 0,
                        "issueSecuritySchemeId": str(sid),
                    }
                )
                for h in rng.sample(holders[:5], 2):
                    self.security_members.append(
                        {
                            "id": str(member_id),
                            "issueSecurityLevelId": lid,
                            "issueSecuritySchemeId": str(sid),
                            "holder": {**h, "expand": h["type"]} if "parameter" in h else dict(h),
                        }
                    )
                    member_id += 1
            self.security_schemes.append(
                {
                    "self": self.url(f"issuesecurityschemes/{sid}"),
                    "id": sid,
                    "name": namer.name(i, suffix="Security Scheme"),
                    "description": "",
                    "defaultSecurityLevelId": int(levels[0]["id"]),
                    "levels": levels,
                }
            )

    def _assign_projects(self) -> None:
        rng = self._r("assign")
        for p in self.projects:
            if p["simplified"]:
                self.project_schemes[p["id"]] = {}
                continue
            ps = rng.choice(self.priority_schemes)
            ps["_project_ids"].append(p["id"])
            ns = rng.choice(self.notification_schemes) if self.notification_schemes else None
            if ns:
                ns["projects"].append(int(p["id"]))
            self.project_schemes[p["id"]] = {
                "issuetypescheme": rng.choice(self.issue_type_schemes)["id"],
                "issuetypescreenscheme": rng.choice(self.itss)["id"],
                "fieldconfigurationscheme": rng.choice(self.fcs)["id"] if rng.random() < 0.7 else None,
                "workflowscheme": str(rng.choice(self.workflow_schemes)["id"]),
                "permissionscheme": str(rng.choice([s for s in self.permission_schemes if "scope" not in s])["id"]),
                "notificationscheme": str(ns["id"]) if ns else None,
                "issuesecurityscheme": (
                    str(rng.choice(self.security_schemes)["id"])
                    if self.security_schemes and rng.random() < 0.3
                    else None
                ),
                "priorityscheme": ps["id"],
            }

    def role_actors(self, project_id: str, role_id: int) -> list[Json]:
        key = (project_id, role_id)
        found = self._role_actors.get(key)
        if found is None:
            rng = self._r("actors", project_id, role_id)
            found = []
            for k, (gname, gid) in enumerate(rng.sample(GROUPS, rng.randint(0, 2))):
                found.append(
                    {
                        "id": 10000 + k,
                        "displayName": gname,
                        "type": "atlassian-group-role-actor",
                        "name": gname,
                        "actorGroup": {"name": gname, "displayName": gname, "groupId": gid},
                    }
                )
            if rng.random() < 0.6:
                found.append(
                    {
                        "id": 10100,
                        "displayName": ADMIN.display_name,
                        "type": "atlassian-user-role-actor",
                        "actorUser": {"accountId": ADMIN_ACCOUNT_ID},
                    }
                )
            self._role_actors[key] = found
        return found

    def components(self, project: Json) -> list[Json]:
        rng = self._r("components", project["id"])
        return [
            {
                "self": self.url(f"component/{int(project['id']) * 10 + k}"),
                "id": str(int(project["id"]) * 10 + k),
                "name": ("Backend", "Frontend", "API", "Datenbank")[k],
                "description": "",
                "assigneeType": "PROJECT_DEFAULT",
                "realAssigneeType": "PROJECT_DEFAULT",
                "isAssigneeTypeValid": False,
                "project": project["key"],
                "projectId": int(project["id"]),
            }
            for k in range(rng.randint(0, 3))
        ]

    def versions(self, project: Json) -> list[Json]:
        rng = self._r("versions", project["id"])
        return [
            {
                "self": self.url(f"version/{int(project['id']) * 10 + k}"),
                "id": str(int(project["id"]) * 10 + k),
                "name": f"v{k + 1}.0",
                "description": "",
                "archived": False,
                "released": k == 0,
                "releaseDate": "2026-02-01",
                "projectId": int(project["id"]),
            }
            for k in range(rng.randint(0, 3))
        ]

    # --------------------------------------------------------------------- audit

    def _build_audit(self) -> None:
        for i in range(self.spec.audit_records):
            when = self.started - timedelta(minutes=37 * (self.spec.audit_records - i))
            wf = self.workflows[i % len(self.workflows)] if self.workflows else None
            self.audit_records.append(
                self._audit_body(
                    10000 + i,
                    when,
                    "Workflow updated",
                    "workflows",
                    wf["name"] if wf else "jira",
                    "WORKFLOW",
                    [("description", "", "updated")],
                    object_id=wf["id"] if wf else str(10000 + i),
                )
            )

    def _audit_body(
        self,
        rid: int,
        when: datetime,
        summary: str,
        category: str,
        obj_name: str,
        type_name: str,
        changes: list[tuple[str, str, str]],
        *,
        object_id: str | None = None,
        object_item: Json | None = None,
        associated: Sequence[Json] = (),
    ) -> Json:
        return {
            "id": rid,
            "summary": summary,
            "remoteAddress": "192.0.2.10",
            "authorKey": self.audit_author,
            "created": _ts(when),
            "category": category,
            "eventSource": "",
            "objectItem": object_item
            or {"id": object_id if object_id is not None else str(rid), "name": obj_name, "typeName": type_name},
            "changedValues": [{"fieldName": f, "changedFrom": a, "changedTo": b} for f, a, b in changes],
            "associatedItems": list(associated),
        }

    def audit(
        self,
        when: datetime,
        summary: str,
        obj: AuditedObject,
        changes: Sequence[tuple[str, str, str]] = (),
        associated: Sequence[AuditedObject] = (),
    ) -> Json | None:
        """Record a change of ``obj`` as Jira would: nothing when its kind is not audited, else a
        record with its category and type, visible ``audit_policy.delay_seconds`` after ``when``."""
        policy = self.audit_policy
        if not policy.audits(obj.kind):
            return None
        rid = 10000 + len(self.audit_records)
        record = self._audit_body(
            rid,
            when,
            summary,
            AUDIT_TYPES[obj.kind][0],
            obj.name,
            "",
            list(changes),
            object_item=obj.item(),
            associated=[a.item() for a in associated],
        )
        self.audit_records.append(record)
        self._audit_visible_at[rid] = when.timestamp() + policy.delay_seconds
        return record

    def visible_audit_records(self, now: float) -> list[Json]:
        """The records Jira shows at ``now`` (epoch seconds), oldest first: late ones are not yet there."""
        late = self._audit_visible_at
        return [r for r in self.audit_records if late.get(r["id"], 0.0) <= now]


def custom_field_body(num: int, name: str, schema: Json) -> Json:
    """The ``/field`` (FieldDetails) body of custom field ``customfield_<num>``."""
    fid = f"customfield_{num}"
    return {
        "id": fid,
        "key": fid,
        "name": name,
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": sorted([f"cf[{num}]", name]),
        "schema": schema,
    }


def _ts(when: datetime) -> str:
    """Jira's timestamp form: ``2014-03-19T18:45:42.967+0000``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}" + when.strftime("%z")


def timestamp(when: datetime) -> str:
    return _ts(when)
