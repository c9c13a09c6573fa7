"""Jira's usage endpoints: which projects use a workflow, a workflow scheme or a status.

    GET /workflow/{workflowId}/projectUsages
    GET /workflowscheme/{workflowSchemeId}/projectUsages
    GET /statuses/{statusId}/projectUsages

Computed from the site's own model (project -> scheme assignments, a scheme's workflows by name, a
workflow's statuses), not from anything the operator captured, so a test can hold the operator's
offline blast radius against them. Paged by ``nextPageToken`` (an opaque offset) and ``maxResults``
(1..200, default 50). A team-managed project uses its own project-scoped workflows and statuses;
company-managed projects use what their workflow scheme names.
"""

from __future__ import annotations

from jiradrift.sim.errors import JiraError
from jiradrift.sim.routes import Call, op
from jiradrift.sim.site import Json, Site

MAX_RESULTS = 200
DEFAULT_RESULTS = 50


def workflow_scheme_projects(site: Site, scheme_id: str) -> list[str]:
    return [pid for pid, schemes in site.project_schemes.items() if schemes.get("workflowscheme") == scheme_id]


def workflow_projects(site: Site, workflow: Json) -> list[str]:
    found: set[str] = set()
    for scheme in site.workflow_schemes:
        names = {scheme["defaultWorkflow"], *scheme["issueTypeMappings"].values()}
        if workflow["name"] in names:
            found.update(workflow_scheme_projects(site, str(scheme["id"])))
    if workflow["scope"]["type"] == "PROJECT":
        found.add(str(workflow["scope"]["project"]["id"]))
    return sorted(found, key=int)


def status_projects(site: Site, status_id: str) -> list[str]:
    found: set[str] = set()
    for workflow in site.workflows:
        uses = any(s["statusReference"] == status_id for s in workflow["statuses"])
        if uses and workflow["scope"]["type"] == "GLOBAL":
            found.update(workflow_projects(site, workflow))
    status = site.status_by_id.get(status_id)
    if status is not None and status["scope"]["type"] == "PROJECT":
        found.add(str(status["scope"]["project"]["id"]))
    return sorted(found, key=int)


def _page(call: Call, project_ids: list[str]) -> Json:
    raw = call.query.get("maxResults")
    size = DEFAULT_RESULTS if raw is None else int(raw) if raw.isdigit() else -1
    if not 1 <= size <= MAX_RESULTS:
        raise JiraError(400, f"maxResults must be an integer between 1 and {MAX_RESULTS}.")
    token = call.query.get("nextPageToken") or "0"
    if not token.isdigit():
        raise JiraError(400, "The nextPageToken is not valid; pass the one the previous page returned.")
    start = int(token)
    page: Json = {"values": [{"id": pid} for pid in project_ids[start : start + size]]}
    if start + size < len(project_ids):
        page["nextPageToken"] = str(start + size)
    return page


@op("GET", "/workflow/{workflowId}/projectUsages")
def workflow_usages(call: Call) -> Json:
    wid = call.params["workflowId"]
    workflow = next((w for w in call.site.workflows if w["id"] == wid), None)
    if workflow is None:
        raise JiraError(404, f"The workflow with ID {wid} was not found.")
    return {"workflowId": wid, "projects": _page(call, workflow_projects(call.site, workflow))}


@op("GET", "/workflowscheme/{workflowSchemeId}/projectUsages")
def workflow_scheme_usages(call: Call) -> Json:
    sid = call.params["workflowSchemeId"]
    if not any(str(s["id"]) == sid for s in call.site.workflow_schemes):
        raise JiraError(404, f"The workflow scheme with ID {sid} was not found.")
    ids = sorted(workflow_scheme_projects(call.site, sid), key=int)
    return {"workflowSchemeId": sid, "projects": _page(call, ids)}


@op("GET", "/statuses/{statusId}/projectUsages")
def status_usages(call: Call) -> Json:
    sid = call.params["statusId"]
    if sid not in call.site.status_by_id:
        raise JiraError(404, f"The status with ID {sid} was not found.")
    return {"statusId": sid, "projects": _page(call, status_projects(call.site, sid))}
