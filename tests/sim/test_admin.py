"""Admin mutations change what the next read sees, and leave an audit record."""

from __future__ import annotations

import httpx

from jiradrift.sim import RunningEmulator


def _get(sim: RunningEmulator, path: str, **params: object) -> httpx.Response:
    return httpx.get(
        sim.api_url + path,
        params=params,  # type: ignore[arg-type]
        auth=(sim.credentials.email, sim.credentials.api_token),
    )


def test_change_workflow_is_visible_and_audited(jira_sim: RunningEmulator) -> None:
    wf = jira_sim.site.workflows[1]
    before = httpx.post(
        jira_sim.api_url + "/workflows",
        json={"workflowIds": [wf["id"]]},
        auth=(jira_sim.credentials.email, jira_sim.credentials.api_token),
    ).json()["workflows"][0]
    jira_sim.admin.change_workflow(
        wf["name"], description="changed by test", add_status=jira_sim.site.statuses[-1]["id"]
    )
    after = httpx.post(
        jira_sim.api_url + "/workflows",
        json={"workflowIds": [wf["id"]]},
        auth=(jira_sim.credentials.email, jira_sim.credentials.api_token),
    ).json()["workflows"][0]
    assert after["description"] == "changed by test"
    assert len(after["transitions"]) == len(before["transitions"]) + 1
    assert after["version"]["versionNumber"] == before["version"]["versionNumber"] + 1
    audit = _get(jira_sim, "/auditing/record", limit=1).json()["records"][0]
    assert audit["summary"] == "Workflow updated" and audit["objectItem"]["name"] == wf["name"]


def test_add_field_option_rename_status_grant_permission(jira_sim: RunningEmulator) -> None:
    field = next(f for f in jira_sim.site.custom_fields if f["schema"]["type"] == "option" and "scope" not in f)
    ctx = jira_sim.site.contexts(field["id"])[0].body["id"]
    jira_sim.admin.add_field_option(field["id"], "Brand new")
    options = _get(jira_sim, f"/field/{field['id']}/context/{ctx}/option", maxResults=1000).json()["values"]
    assert options[-1]["value"] == "Brand new"
    jira_sim.admin.rename_status("10001", "Doing")
    assert any(s["name"] == "Doing" for s in _get(jira_sim, "/statuses/search").json()["values"])
    scheme = jira_sim.site.permission_schemes[0]
    grant = jira_sim.admin.grant_permission(scheme["id"], "BROWSE_PROJECTS", "group", "everyone-ünïcode")
    grants = _get(jira_sim, f"/permissionscheme/{scheme['id']}/permission").json()["permissions"]
    assert grants[-1]["id"] == grant["id"] and grants[-1]["holder"]["parameter"] == "everyone-ünïcode"


def test_mutations_over_http_and_helpful_errors(jira_sim: RunningEmulator) -> None:
    key = jira_sim.site.projects[0]["key"]
    ok = httpx.post(jira_sim.base_url + "/_sim/admin/rename_project", json={"project": key, "name": "Renamed"})
    assert ok.status_code == 200
    assert _get(jira_sim, f"/project/{key}").json()["name"] == "Renamed"
    unknown = httpx.post(jira_sim.base_url + "/_sim/admin/drop_database", json={})
    assert unknown.status_code == 404 and "rename_status" in unknown.json()["errorMessages"][0]
    bad = httpx.post(jira_sim.base_url + "/_sim/admin/rename_status", json={"status_id": "nope", "name": "x"})
    assert bad.status_code == 404 and "nope" in bad.json()["errorMessages"][0]


def test_team_managed_objects_are_marked_by_scope(jira_sim_factory) -> None:
    sim = jira_sim_factory(size="medium")
    fields = _get(sim, "/field").json()
    assert any(f.get("scope", {}).get("type") == "PROJECT" for f in fields)
    statuses = _get(sim, "/statuses/search").json()["values"]
    assert any(s["scope"]["type"] == "PROJECT" for s in statuses)
    workflows = _get(sim, "/workflows/search", maxResults=200).json()["values"]
    assert any(w["scope"]["type"] == "PROJECT" for w in workflows)
    names = [f["name"] for f in fields if f["custom"]]
    assert len(names) != len(set(names))  # duplicates by name with different ids
    assert any(not n.isascii() for n in names) and max(map(len, names)) > 200
