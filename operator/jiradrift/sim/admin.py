"""Admin mutations: what a Jira administrator does between two snapshots.

Each mutation changes the site in place, records an audit-log entry as Jira would (none for the
kinds Jira does not audit, visible after the configured delay: see ``sim.auditlog``), and returns
the changed object. The same methods are reachable over HTTP at
``POST /_sim/admin/<method>`` with the keyword arguments as a JSON object, so a demo or an e2e test
can change an emulator running in another process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from jiradrift.sim.auditlog import AuditedObject
from jiradrift.sim.clock import Clock
from jiradrift.sim.errors import JiraError
from jiradrift.sim.site import CF_PREFIX, Json, Site, custom_field_body, timestamp

T = TypeVar("T")
Runner = Callable[[Callable[[], Any]], Any]

MUTATIONS = (
    "change_workflow",
    "rename_status",
    "add_field_option",
    "rename_field",
    "grant_permission",
    "revoke_permission",
    "set_project_scheme",
    "add_custom_field",
    "toggle_setting",
    "rename_project",
    "rename_priority",
    "rename_resolution",
    "rename_field_configuration",
)


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


class Admin:
    """Mutations on a running emulator. ``runner`` executes each change on the server's event loop,
    so a handler never sees a half-applied mutation."""

    def __init__(self, site: Site, clock: Clock, runner: Runner = _direct) -> None:
        self._site = site
        self._clock = clock
        self._run = runner

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def _audit(
        self,
        summary: str,
        obj: AuditedObject,
        changes: list[tuple[str, str, str]],
        associated: tuple[AuditedObject, ...] = (),
    ) -> None:
        self._site.audit(self._now(), summary, obj, changes, associated)

    def act_as(self, account_id: str) -> None:
        """Whom the audit log names as the author of the mutations that follow (an account id;
        one missing from ``site.users`` is a deleted user, as ``sim.users.GONE_ACCOUNT_ID``)."""
        self._site.audit_author = account_id

    # ---------------------------------------------------------------- workflows

    def change_workflow(
        self,
        workflow: str,
        *,
        description: str | None = None,
        add_status: str | None = None,
        remove_transition: str | None = None,
    ) -> Json:
        """Change a workflow (by id or name): its description, add a global status to it (with a
        transition into it), or remove a transition by name."""

        def do() -> Json:
            site = self._site
            wf = next((w for w in site.workflows if workflow in (w["id"], w["name"])), None)
            if wf is None:
                raise JiraError(404, f"No workflow with id or name {workflow!r}.")
            changes = []
            if description is not None:
                changes.append(("description", wf["description"], description))
                wf["description"] = description
            if add_status is not None:
                status = site.status_by_id.get(add_status)
                if status is None:
                    raise JiraError(404, f"No status with id {add_status!r}; list them at /rest/api/3/statuses/search.")
                wf["statuses"] = [
                    *wf["statuses"],
                    {
                        "statusReference": add_status,
                        "properties": {},
                        "deprecated": False,
                        "layout": {"x": 0.0, "y": 300.0},
                    },
                ]
                wf["transitions"] = [
                    *wf["transitions"],
                    {
                        "id": str(1000 + len(wf["transitions"])),
                        "type": "GLOBAL",
                        "name": f"To {status['name']}",
                        "description": "",
                        "toStatusReference": add_status,
                        "links": [],
                        "properties": {},
                        "actions": [],
                        "validators": [],
                        "triggers": [],
                    },
                ]
                changes.append(("status", "", status["name"]))
            if remove_transition is not None:
                before = len(wf["transitions"])
                wf["transitions"] = [t for t in wf["transitions"] if t["name"] != remove_transition]
                if len(wf["transitions"]) == before:
                    raise JiraError(404, f"Workflow {wf['name']!r} has no transition named {remove_transition!r}.")
                changes.append(("transition", remove_transition, ""))
            wf["version"] = {"id": str(uuid.uuid4()), "versionNumber": wf["version"]["versionNumber"] + 1}
            wf["updated"] = timestamp(self._now())
            self._audit("Workflow updated", AuditedObject("workflow", wf["id"], wf["name"]), changes)
            return wf

        return self._run(do)  # type: ignore[no-any-return]

    def rename_status(self, status_id: str, name: str) -> Json:
        def do() -> Json:
            status = self._site.status_by_id.get(status_id)
            if status is None:
                raise JiraError(404, f"No status with id {status_id!r}.")
            old = status["name"]
            status["name"] = name
            self._audit("Status updated", AuditedObject("status", status_id, name), [("name", old, name)])
            return status

        return self._run(do)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------- fields

    def add_field_option(self, field_id: str, value: str, *, context_id: str | None = None) -> Json:
        """Append an option to a field's context (the first context when none is given)."""

        def do() -> Json:
            contexts = self._site.contexts(field_id)
            ctx = next((c for c in contexts if context_id in (None, c.body["id"])), None)
            if ctx is None:
                raise JiraError(
                    404,
                    f"Field {field_id!r} has no context {context_id or '(any)'}; only company-managed "
                    "custom fields with options have contexts.",
                )
            option = {
                "id": str(int(ctx.body["id"]) * 100_000 + 90_000 + len(ctx.options)),
                "value": value,
                "disabled": False,
            }
            ctx.options.append(option)
            name = self._site.field_by_id[field_id]["name"] if field_id in self._site.field_by_id else field_id
            self._audit(
                "Custom field updated",
                AuditedObject("field-context", field_id, name),
                [("options", "", value)],
                (AuditedObject("field-context", ctx.body["id"], ctx.body["name"], field_id, name),),
            )
            return option

        return self._run(do)  # type: ignore[no-any-return]

    def rename_field(self, field_id: str, name: str) -> Json:
        def do() -> Json:
            body = self._site.field_by_id.get(field_id)
            if body is None or not body["custom"]:
                raise JiraError(404, f"No custom field {field_id!r}.")
            old = body["name"]
            body["name"] = name
            body["clauseNames"] = sorted([f"cf[{body['schema']['customId']}]", name])
            self._audit("Custom field updated", AuditedObject("field", field_id, name), [("name", old, name)])
            return body

        return self._run(do)  # type: ignore[no-any-return]

    def add_custom_field(self, name: str, type_key: str = "textfield") -> Json:
        def do() -> Json:
            site = self._site
            num = max((f["schema"].get("customId", 0) for f in site.fields), default=10000) + 1
            fid = f"customfield_{num}"
            body = custom_field_body(num, name, {"type": "string", "custom": CF_PREFIX + type_key, "customId": num})
            site.fields.append(body)
            site.field_by_id[fid] = body
            site.field_extra[fid] = {
                "isLocked": False,
                "searcherKey": CF_PREFIX + "textsearcher",
                "description": "",
            }
            self._audit("Custom field created", AuditedObject("field", fid, name), [("name", "", name)])
            return body

        return self._run(do)  # type: ignore[no-any-return]

    # -------------------------------------------------------------- permissions

    def grant_permission(
        self, scheme_id: int | str, permission: str, holder_type: str, parameter: str | None = None
    ) -> Json:
        def do() -> Json:
            scheme = self._permission_scheme(scheme_id)
            grant_id = 1 + max((g["id"] for s in self._site.permission_schemes for g in s["permissions"]), default=0)
            holder: Json = {"type": holder_type}
            if parameter is not None:
                holder.update({"parameter": parameter, "value": parameter, "expand": holder_type})
            grant = {
                "id": grant_id,
                "self": self._site.url(f"permissionscheme/{scheme['id']}/permission/{grant_id}"),
                "holder": holder,
                "permission": permission,
            }
            scheme["permissions"] = [*scheme["permissions"], grant]
            self._audit(
                "Permission scheme updated",
                self._scheme_object(scheme),
                [(permission, "", f"{holder_type}:{parameter or ''}")],
            )
            return grant

        return self._run(do)  # type: ignore[no-any-return]

    def revoke_permission(self, scheme_id: int | str, grant_id: int) -> Json:
        def do() -> Json:
            scheme = self._permission_scheme(scheme_id)
            grant: Json | None = next((g for g in scheme["permissions"] if g["id"] == int(grant_id)), None)
            if grant is None:
                raise JiraError(404, f"Permission scheme {scheme_id} has no grant {grant_id}.")
            scheme["permissions"] = [g for g in scheme["permissions"] if g is not grant]
            self._audit(
                "Permission scheme updated",
                self._scheme_object(scheme),
                [(grant["permission"], grant["holder"]["type"], "")],
            )
            return grant

        return self._run(do)  # type: ignore[no-any-return]

    @staticmethod
    def _scheme_object(scheme: Json) -> AuditedObject:
        return AuditedObject("permission-scheme", str(scheme["id"]), scheme["name"])

    def _permission_scheme(self, scheme_id: int | str) -> Json:
        scheme = next((s for s in self._site.permission_schemes if str(s["id"]) == str(scheme_id)), None)
        if scheme is None:
            raise JiraError(404, f"No permission scheme {scheme_id!r}.")
        return scheme

    # ----------------------------------------------------------------- projects

    def set_project_scheme(self, project: str, kind: str, scheme_id: str | None) -> dict[str, str | None]:
        """Assign a scheme to a project; ``kind`` is one of issuetypescheme, issuetypescreenscheme,
        fieldconfigurationscheme, workflowscheme, permissionscheme, notificationscheme,
        issuesecurityscheme, priorityscheme."""

        def do() -> dict[str, str | None]:
            p = self._site.project_by_key.get(project)
            if p is None:
                raise JiraError(404, f"No project with key or id {project!r}.")
            assigned = self._site.project_schemes[p["id"]]
            if kind not in assigned:
                raise JiraError(
                    400,
                    f"Unknown scheme kind {kind!r} for classic project {p['key']}; "
                    f"use one of {', '.join(sorted(assigned)) or '(team-managed: none)'}.",
                )
            old = assigned[kind]
            assigned[kind] = scheme_id
            self._audit(
                "Project updated",
                AuditedObject("project", p["id"], p["name"]),
                [(kind, old or "", scheme_id or "")],
            )
            return assigned

        return self._run(do)  # type: ignore[no-any-return]

    def rename_project(self, project: str, name: str) -> Json:
        def do() -> Json:
            p = self._site.project_by_key.get(project)
            if p is None:
                raise JiraError(404, f"No project with key or id {project!r}.")
            old = p["name"]
            p["name"] = name
            self._audit("Project updated", AuditedObject("project", p["id"], name), [("name", old, name)])
            return p

        return self._run(do)  # type: ignore[no-any-return]

    def toggle_setting(self, name: str, value: bool) -> Json:
        """Flip a global feature toggle of ``/configuration`` (e.g. ``votingEnabled``)."""

        def do() -> Json:
            conf = self._site.configuration
            if name not in conf or not isinstance(conf[name], bool):
                raise JiraError(
                    400,
                    f"Unknown toggle {name!r}; use one of "
                    f"{', '.join(k for k, v in conf.items() if isinstance(v, bool))}.",
                )
            old = conf[name]
            conf[name] = bool(value)
            self._audit(
                "Global settings updated",
                AuditedObject("configuration", name, name),
                [(name, str(old), str(bool(value)))],
            )
            return conf

        return self._run(do)  # type: ignore[no-any-return]

    # ------------------------------------- kinds Atlassian does not document as audited

    def rename_priority(self, priority_id: str, name: str) -> Json:
        return self._rename(self._site.priorities, "priority", priority_id, name, "Priority updated")

    def rename_resolution(self, resolution_id: str, name: str) -> Json:
        return self._rename(self._site.resolutions, "resolution", resolution_id, name, "Resolution updated")

    def rename_field_configuration(self, field_configuration_id: int | str, name: str) -> Json:
        return self._rename(
            self._site.field_configurations,
            "field-configuration",
            field_configuration_id,
            name,
            "Field configuration updated",
        )

    def _rename(self, objects: list[Json], kind: str, object_id: int | str, name: str, summary: str) -> Json:
        def do() -> Json:
            found = next((o for o in objects if str(o["id"]) == str(object_id)), None)
            if found is None:
                raise JiraError(404, f"No {kind.replace('-', ' ')} with id {object_id!r}.")
            old = found["name"]
            found["name"] = name
            self._audit(summary, AuditedObject(kind, str(found["id"]), name), [("name", old, name)])
            return found

        return self._run(do)  # type: ignore[no-any-return]

    def call(self, name: str, kwargs: dict[str, Any]) -> Any:
        """Dispatch by name (the HTTP admin interface); only the listed mutations are callable."""
        if name not in MUTATIONS:
            raise JiraError(404, f"Unknown admin mutation {name!r}; available: {', '.join(MUTATIONS)}.")
        try:
            return getattr(self, name)(**kwargs)
        except TypeError as err:
            raise JiraError(400, f"Bad arguments for {name}: {err}.") from None
