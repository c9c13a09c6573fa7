"""One concrete call of every admin mutation against a generated site, with the kind it changes
and the id Jira's audit log names: the change suite tests and benchmarks drive the emulator with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiradrift.sim.admin import MUTATIONS
from jiradrift.sim.site import Site


@dataclass(frozen=True)
class MutationCall:
    mutation: str  # a name in admin.MUTATIONS
    kwargs: dict[str, Any]
    kind: str  # the catalog kind it changes (a key of sim.auditlog.AUDIT_TYPES)
    object_id: str  # the id the audit record's objectItem carries


def example_calls(site: Site, tag: str = "x") -> list[MutationCall]:
    """One call per mutation, in ``MUTATIONS`` order; ``tag`` makes repeated suites distinct."""
    workflow = next(w for w in site.workflows if w["scope"]["type"] == "GLOBAL")
    option_field = next(
        f for f in site.custom_fields if f["schema"]["type"] == "option" and "scope" not in f and site.contexts(f["id"])
    )
    text_field = next(f for f in site.custom_fields if "scope" not in f)
    scheme = site.permission_schemes[-1]
    grant = scheme["permissions"][0]
    project = next(p for p in site.projects if not p["simplified"])
    other = next(
        s for s in site.workflow_schemes if str(s["id"]) != site.project_schemes[project["id"]]["workflowscheme"]
    )
    calls = [
        MutationCall(
            "change_workflow", {"workflow": workflow["id"], "description": f"edited {tag}"}, "workflow", workflow["id"]
        ),
        MutationCall(
            "rename_status",
            {"status_id": site.statuses[0]["id"], "name": f"Status {tag}"},
            "status",
            site.statuses[0]["id"],
        ),
        MutationCall(
            "add_field_option",
            {"field_id": option_field["id"], "value": f"Option {tag}"},
            "field-context",
            option_field["id"],
        ),
        MutationCall("rename_field", {"field_id": text_field["id"], "name": f"Field {tag}"}, "field", text_field["id"]),
        MutationCall(
            "grant_permission",
            {
                "scheme_id": scheme["id"],
                "permission": "BROWSE_PROJECTS",
                "holder_type": "group",
                "parameter": f"g-{tag}",
            },
            "permission-scheme",
            str(scheme["id"]),
        ),
        MutationCall(
            "revoke_permission",
            {"scheme_id": scheme["id"], "grant_id": grant["id"]},
            "permission-scheme",
            str(scheme["id"]),
        ),
        MutationCall(
            "set_project_scheme",
            {"project": project["key"], "kind": "workflowscheme", "scheme_id": str(other["id"])},
            "project",
            project["id"],
        ),
        MutationCall("add_custom_field", {"name": f"New field {tag}"}, "field", ""),  # the id is minted by the call
        MutationCall(
            "toggle_setting",
            {"name": "votingEnabled", "value": not site.configuration["votingEnabled"]},
            "configuration",
            "votingEnabled",
        ),
        MutationCall("rename_project", {"project": project["key"], "name": f"Project {tag}"}, "project", project["id"]),
        MutationCall(
            "rename_priority",
            {"priority_id": site.priorities[0]["id"], "name": f"Priority {tag}"},
            "priority",
            site.priorities[0]["id"],
        ),
        MutationCall(
            "rename_resolution",
            {"resolution_id": site.resolutions[0]["id"], "name": f"Resolution {tag}"},
            "resolution",
            site.resolutions[0]["id"],
        ),
        MutationCall(
            "rename_field_configuration",
            {"field_configuration_id": site.field_configurations[0]["id"], "name": f"Field configuration {tag}"},
            "field-configuration",
            str(site.field_configurations[0]["id"]),
        ),
    ]
    missing = set(MUTATIONS) - {c.mutation for c in calls}
    if missing:
        raise RuntimeError(f"example_calls lacks a call of {sorted(missing)}; add one per new admin mutation")
    return calls
