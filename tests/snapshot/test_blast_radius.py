"""The offline blast radius agrees with Jira's own usage endpoints on every object of an emulated site.

The radius is computed from the captured items only; the emulator answers the usage endpoints from
its own model (``jiradrift.sim.usages``): two independent paths to the same answer. The emulator is
started again with the captured site's seed and variant (sites are deterministic) to ask it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.plugins.sites import CapturedSite

from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, ChangeOp
from jiradrift.sim.emulator import Emulator
from jiradrift.snapshot.blast import BlastRadius, ReachRule, annotate, kinds_reaching

# (captured kind, usage endpoint or scheme-to-project mapping, id of the object in Jira's terms)
USAGE_ENDPOINTS = {
    "workflow": "/workflow/{}/projectUsages",
    "workflow-scheme": "/workflowscheme/{}/projectUsages",
    "status": "/statuses/{}/projectUsages",
}
SCHEME_MAPPINGS = {
    "issuetype-scheme": ("/issuetypescheme/project", "issueTypeScheme"),
    "issuetype-screen-scheme": ("/issuetypescreenscheme/project", "issueTypeScreenScheme"),
    "field-configuration-scheme": ("/fieldconfigurationscheme/project", "fieldConfigurationScheme"),
}
# (scheme-to-project pairs endpoint, scheme id field)
SCHEME_PAIRS = {
    "notification-scheme": ("/notificationscheme/project", "notificationSchemeId"),
    "issue-security-scheme": ("/issuesecurityschemes/project", "issueSecuritySchemeId"),
}


def usages(client: httpx.Client, path: str) -> set[str]:
    found: set[str] = set()
    token: str | None = None
    while True:
        params: dict[str, Any] = {"maxResults": 7}
        if token:
            params["nextPageToken"] = token
        response = client.get(path, params=params)
        response.raise_for_status()
        page = response.json()["projects"]
        found.update(p["id"] for p in page["values"])
        token = page.get("nextPageToken")
        if not token:
            return found


def scheme_pairs(client: httpx.Client, path: str, field: str) -> dict[str, set[str]]:
    """Scheme id -> project ids, from a paged list of (scheme, project) pairs."""
    out: dict[str, set[str]] = {}
    start = 0
    while True:
        page = client.get(path, params={"startAt": start, "maxResults": 50}).raise_for_status().json()
        for row in page["values"]:
            out.setdefault(str(row[field]), set()).add(str(row["projectId"]))
        start += len(page["values"])
        if page.get("isLast", True) or not page["values"]:
            return out


def permission_scheme_projects(client: httpx.Client, project_ids: list[str]) -> dict[str, set[str]]:
    """Scheme id -> project ids, asking each project for its permission scheme (404: a team-managed
    project, whose own project-scoped scheme names it)."""
    out: dict[str, set[str]] = {}
    for pid in project_ids:
        response = client.get(f"/project/{pid}/permissionscheme")
        if response.status_code == 404:
            continue
        out.setdefault(str(response.raise_for_status().json()["id"]), set()).add(pid)
    return out


def scheme_projects(client: httpx.Client, path: str, field: str, project_ids: list[str]) -> dict[str, set[str]]:
    """Scheme id -> project ids, from a scheme-to-project mapping endpoint (50 projects per call)."""
    out: dict[str, set[str]] = {}
    for start in range(0, len(project_ids), 50):
        params = [("projectId", p) for p in project_ids[start : start + 50]] + [("maxResults", "1000")]
        for row in client.get(path, params=params).raise_for_status().json()["values"]:
            if field in row:  # projects on Jira's default scheme come without one
                out.setdefault(str(row[field]["id"]), set()).update(str(p) for p in row["projectIds"])
    return out


@pytest.mark.parametrize("side", ["production", "sandbox"])
def test_offline_radius_agrees_with_the_usage_endpoints_on_every_object(
    side: str, request: pytest.FixtureRequest
) -> None:
    captured: CapturedSite = request.getfixturevalue(side)
    items = captured.items()
    radius = BlastRadius.build(items)
    compared = {kind: 0 for kind in (*USAGE_ENDPOINTS, *SCHEME_MAPPINGS, *SCHEME_PAIRS, "permission-scheme")}
    disagreements: list[str] = []
    with Emulator(size="small", seed=1, variant=side).running() as sim:
        auth = (sim.credentials.email, sim.credentials.api_token)
        with httpx.Client(base_url=sim.api_url, auth=auth, timeout=30) as client:
            project_ids = sorted(k.split("/", 1)[1] for k, _ in items if k.startswith("project/"))
            mappings = {
                kind: scheme_projects(client, path, field, project_ids)
                for kind, (path, field) in SCHEME_MAPPINGS.items()
            }
            mappings.update({kind: scheme_pairs(client, path, field) for kind, (path, field) in SCHEME_PAIRS.items()})
            mappings["permission-scheme"] = permission_scheme_projects(client, project_ids)
            scoped = {  # a team-managed project's own permission scheme: Jira names the project in its scope
                k.split("/", 1)[1]: {str(b["scope"]["project"]["id"])}
                for k, b in items
                if k.startswith("permission-scheme/") and (b.get("scope") or {}).get("project")
            }
            for sid, projects in scoped.items():
                mappings["permission-scheme"].setdefault(sid, set()).update(projects)
            for item_key, _ in items:
                kind, _, ident = item_key.partition("/")
                if kind in USAGE_ENDPOINTS:
                    truth = usages(client, USAGE_ENDPOINTS[kind].format(ident))
                elif kind in mappings:
                    truth = mappings[kind].get(ident, set())
                else:
                    continue
                compared[kind] += 1
                offline = set(radius.projects(item_key))
                if offline != truth:
                    disagreements.append(f"{item_key}: offline {sorted(offline)}, Jira {sorted(truth)}")
    assert all(compared.values()), compared
    assert sum(compared.values()) > 50
    assert not disagreements, f"{len(disagreements)} of {sum(compared.values())} disagree:\n" + "\n".join(
        disagreements[:20]
    )
    # And the answer is not trivially empty: some objects reach several projects.
    assert max(len(radius.projects(k)) for k, _ in items if k.startswith("workflow-scheme/")) >= 2


def test_changes_carry_what_they_affect_and_reach_raises_severity(production: CapturedSite) -> None:
    items = production.items()
    radius = BlastRadius.build(items)
    scheme = max((k for k, _ in items if k.startswith("workflow-scheme/")), key=lambda k: len(radius.projects(k)))
    reach = len(radius.projects(scheme))
    change = Change(scheme, ChangeOp.MODIFIED, "description", Severity.MEDIUM, "a", "b")
    [plain] = annotate([change], radius)
    assert plain.affects == reach and plain.severity is Severity.MEDIUM
    assert len(plain.affects_first) == min(reach, 5) and list(plain.affects_first) == sorted(plain.affects_first)
    assert plain.affects_text().startswith(f"{reach}: ")
    [raised] = annotate([change], radius, ReachRule(high_at=reach))
    assert raised.severity is Severity.HIGH
    [kept] = annotate([change], radius, ReachRule(high_at=reach + 1))
    assert kept.severity is Severity.MEDIUM
    assert Change.from_dict(raised.to_dict()) == raised
    # A global field context reaches every project; a project reaches itself.
    projects = [k for k, _ in items if k.startswith("project/")]
    global_context = next(k for k, b in items if k.startswith("field-context/") and b.get("isGlobalContext"))
    assert len(radius.projects(global_context)) == len(projects)
    assert radius.projects(projects[0]) == {projects[0].split("/", 1)[1]}


def test_a_radius_built_from_the_kinds_that_reach_a_change_equals_the_full_one(production: CapturedSite) -> None:
    items = production.items()
    full = BlastRadius.build(items)
    kinds = sorted({k.split("/", 1)[0] for k, _ in items})
    reached = 0
    for kind in kinds:
        needed = kinds_reaching({kind})
        pruned = BlastRadius.build((k, b) for k, b in items if k.split("/", 1)[0] in needed)
        for key, _ in items:
            if key.startswith(f"{kind}/"):
                assert pruned.projects(key) == full.projects(key), key
                reached += bool(full.projects(key))
    assert reached > 100
    assert kinds_reaching({"workflow"}) == {"workflow", "workflow-scheme", "project"}


def test_without_a_projects_snapshot_the_reach_is_unknown_not_zero() -> None:
    radius = BlastRadius.build([("workflow/w", {"id": "w", "name": "W", "statuses": [], "transitions": []})])
    change = Change("workflow/w", ChangeOp.MODIFIED, "description", Severity.MEDIUM, "a", "b")
    [kept] = annotate([change], radius, ReachRule(1))
    assert kept.affects is None and kept.affects_text() == "?" and "affects" not in kept.to_dict()
