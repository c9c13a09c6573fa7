"""Every response body the emulator serves validates against Atlassian's OpenAPI document.

Covers every emulated operation at every site size. Big sites are sampled (first and last page,
a handful of objects per per-object endpoint) to keep the test fast; the shapes do not change
with size, only the counts.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from jiradrift.sim import SIZES, Emulator, RunningEmulator
from jiradrift.sim.mutations import example_calls
from jiradrift.sim.routes import OPERATIONS
from jiradrift.sim.site import CUSTOM_TYPES
from jiradrift.sim.users import GONE_ACCOUNT_ID

SPEC_PATH = Path("/work/shared/reference/jira-openapi-v3.json")
if not SPEC_PATH.exists():  # the repo copy, when the shared reference is not mounted
    SPEC_PATH = Path(__file__).resolve().parents[2] / "reference" / "jira-openapi-v3.json"
SPEC_HOST = "https://your-domain.atlassian.net"

# Where the published document contradicts what Jira actually returns, the spec is patched here and
# the reason is written down. Each entry is a known defect of the document, not of the emulator; the
# patch is as narrow as possible (one schema, one keyword).
SPEC_ERRATA: list[tuple[str, str, str]] = [
    # (schema, patch, why)
    (
        "PageBeanFieldConfigurationDetails",
        "values.items -> FieldConfiguration",
        "GET /fieldconfiguration returns id/name/description/isDefault; the document points at the *create* "
        "body (name, description, additionalProperties false), which would forbid the id every client needs",
    ),
    (
        "ScreenTypes",
        "drop writeOnly",
        "GET /screenscheme returns `screens` (the scheme's whole content); the type is shared with "
        "the create body and marked writeOnly",
    ),
    (
        "CustomFieldContextDefaultValue",
        "drop additionalProperties",
        "a oneOf of the typed defaults with additionalProperties false and no properties of its own matches "
        "no non-empty object, so the documented example itself fails",
    ),
]

Plan = list[tuple[str, str, dict[str, Any], Any]]  # (method, spec path suffix, query, json body)


def _date_time(value: str) -> bool:
    """RFC 3339, or Jira's own form with a colon-less offset (``2014-03-19T18:45:42.967+0000``):
    the document says ``format: date-time`` but Jira has always sent ``+0000``."""
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


@cache
def _openapi() -> OpenAPI:
    spec = orjson.loads(SPEC_PATH.read_bytes())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    schemas["PageBeanFieldConfigurationDetails"]["properties"]["values"]["items"] = {
        "$ref": "#/components/schemas/FieldConfiguration"
    }
    del schemas["ScreenTypes"]["writeOnly"]
    del schemas["CustomFieldContextDefaultValue"]["additionalProperties"]
    spec["components"]["schemas"] = schemas
    config = Config(spec_validator_cls=None, extra_format_validators={"date-time": _date_time})
    return OpenAPI.from_dict(spec, config=config)


def _sample(items: list[Any], n: int = 3) -> list[Any]:
    """First, last and a middle element: enough to meet every shape variant the generator makes."""
    if len(items) <= n:
        return items
    return [items[0], items[len(items) // 2], items[-1]]


def _plan(sim: RunningEmulator) -> Plan:
    site = sim.site
    custom = [f for f in site.fields if f["custom"] and "scope" not in f]
    # one field of every custom type, so every option/default-value variant is served
    by_type = {f["schema"]["custom"]: f for f in custom}
    fields = list(by_type.values())[: len(CUSTOM_TYPES)]
    projects = _sample([p for p in site.projects if not p["simplified"]]) + _sample(
        [p for p in site.projects if p["simplified"]], 1
    )
    project_ids = [p["id"] for p in site.projects[:60]]
    plan: Plan = []

    def get(path: str, **query: Any) -> None:
        plan.append(("GET", path, query, None))

    for path in (
        "/serverInfo",
        "/myself",
        "/configuration",
        "/application-properties/advanced-settings",
        "/applicationrole",
        "/events",
        "/permissions",
        "/configuration/timetracking",
        "/configuration/timetracking/options",
        "/field",
        "/issuetype",
        "/statuscategory",
        "/status",
        "/priority",
        "/resolution",
        "/issueLinkType",
        "/permissionscheme",
        "/issuesecurityschemes",
        "/projectCategory",
        "/role",
        "/project",
    ):
        get(path)
    get("/permissionscheme", expand="all")
    get("/project", expand="description,lead,issueTypes,url,insight")
    for path in (
        "/field/search",
        "/field/search/trashed",
        "/issuetypescheme",
        "/issuetypescheme/mapping",
        "/issuetypescreenscheme",
        "/issuetypescreenscheme/mapping",
        "/screens",
        "/screenscheme",
        "/fieldconfiguration",
        "/fieldconfigurationscheme",
        "/fieldconfigurationscheme/mapping",
        "/statuses/search",
        "/workflows/search",
        "/workflowscheme",
        "/priority/search",
        "/priorityscheme",
        "/resolution/search",
        "/notificationscheme",
        "/notificationscheme/project",
        "/issuesecurityschemes/level",
        "/issuesecurityschemes/level/member",
        "/issuesecurityschemes/project",
        "/project/search",
        "/screens/tabs",
    ):
        size = "maxResult" if path == "/screens/tabs" else "maxResults"
        get(path, **{size: 1000})
        get(path, startAt=10**6)  # past the end: an empty last page
    get(
        "/field/search",
        expand="key,stableId,lastUsed,screensCount,contextsCount,isLocked,searcherKey",
        type="custom",
        orderBy="-name",
    )
    get("/workflows/search", expand="values.transitions", orderBy="name")
    get("/screenscheme", expand="issueTypeScreenSchemes")
    get("/priorityscheme", expand="priorities,projects")
    get("/notificationscheme", expand="all")
    get("/project/search", expand="description,lead,issueTypes,url,insight,projectKeys", status="live")
    for path in (
        "/issuetypescheme/project",
        "/issuetypescreenscheme/project",
        "/fieldconfigurationscheme/project",
        "/workflowscheme/project",
    ):
        get(path, projectId=project_ids[:100])
    for f in fields:
        fid = f["id"]
        for sub in ("", "/issuetypemapping", "/projectmapping", "/defaultValue"):
            get(f"/field/{{fieldId}}/context{sub}".replace("{fieldId}", fid))
        for ctx in site.contexts(fid)[:2]:
            get(f"/field/{fid}/context/{ctx.body['id']}/option", maxResults=1000)
        plan.append(
            (
                "POST",
                f"/field/{fid}/context/mapping",
                {},
                {"mappings": [{"projectId": p["id"], "issueTypeId": site.issue_types[0]["id"]} for p in projects]},
            )
        )
    for s in _sample(site.screens):
        get(f"/screens/{s['id']}/tabs")
        for t in site.tabs(s["id"]):
            get(f"/screens/{s['id']}/tabs/{t['id']}/fields")
    for fc in _sample(site.field_configurations):
        get(f"/fieldconfiguration/{fc['id']}/fields", maxResults=1000)
    plan.append(("POST", "/workflows", {}, {"workflowIds": [w["id"] for w in _sample(site.workflows, 25)]}))
    plan.append(
        (
            "POST",
            "/workflowscheme/read",
            {},
            {
                "workflowSchemeIds": [str(s["id"]) for s in _sample(site.workflow_schemes)],
                "projectIds": [p["id"] for p in projects],
            },
        )
    )
    for ps in _sample(site.priority_schemes):
        get(f"/priorityscheme/{ps['id']}/priorities")
        get(f"/priorityscheme/{ps['id']}/projects")
    for s in _sample(site.permission_schemes):
        get(f"/permissionscheme/{s['id']}/permission")
    for p in projects:
        for sub in ("", "/role", "/roledetails", "/role/10002", "/role/10001", "/components", "/versions"):
            get(f"/project/{p['key']}{sub}")
        if not p.get("simplified"):
            get(f"/project/{p['key']}/permissionscheme")
    for w in _sample(site.workflows):
        get(f"/workflow/{w['id']}/projectUsages", maxResults=2)
    for ws in _sample(site.workflow_schemes):
        get(f"/workflowscheme/{ws['id']}/projectUsages")
    for st in _sample(site.statuses):
        get(f"/statuses/{st['id']}/projectUsages", maxResults=200)
    # what incremental capture asks (jira.changeprobe, snapshot.incremental): one page ordered by
    # last update, listings narrowed to some ids
    get("/workflows/search", orderBy="-updated", startAt=0, maxResults=50)
    get("/fieldconfiguration", id=[str(fc["id"]) for fc in site.field_configurations[:3]])
    get("/screens", id=[str(s["id"]) for s in site.screens[:3]])
    get(
        "/project/search",
        expand="description,lead,issueTypes,projectKeys,url",
        status="live",
        id=[p["id"] for p in projects],
    )
    get("/auditing/record", limit=50)
    get("/auditing/record", offset=10, limit=1000, filter="workflow")
    # who the audit log names (jira.users): a user whose e-mail is hidden, one whose is shown, and a
    # deleted one (left out of the bulk page)
    for account in site.users:
        get("/user", accountId=account)
    get("/user/bulk", accountId=[*site.users, GONE_ACCOUNT_ID], maxResults=1)
    get("/user/bulk", accountId=[*site.users, GONE_ACCOUNT_ID], startAt=1)
    return plan


def _spec_template(method: str, concrete: str) -> tuple[str, str]:
    """Map a concrete path to the registered operation (method, template)."""
    parts = concrete.strip("/").split("/")
    for m, template in OPERATIONS:
        tparts = template.strip("/").split("/")
        if (
            m == method
            and len(tparts) == len(parts)
            and all(t.startswith("{") or t == p for t, p in zip(tparts, parts, strict=True))
        ):
            return m, template
    raise AssertionError(f"no operation for {method} {concrete}")


def _run_plan(sim: RunningEmulator, plan: Plan) -> Iterator[tuple[str, str, httpx.Response]]:
    auth = (sim.credentials.email, sim.credentials.api_token)
    with httpx.Client(base_url=sim.api_url, auth=auth, timeout=30) as client:
        for method, path, query, body in plan:
            response = client.request(method, path, params=query, json=body)
            yield method, path, response


def _validate(method: str, path: str, response: httpx.Response) -> None:
    request = MockRequest(SPEC_HOST, method.lower(), "/rest/api/3" + path)
    mock = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=response.headers["content-type"].split(";")[0],
    )
    _openapi().validate_response(request, mock)


@pytest.mark.parametrize("size", SIZES)
def test_every_operation_validates_against_the_spec(size: str) -> None:
    failures: list[str] = []
    covered: set[tuple[str, str]] = set()
    started = time.perf_counter()
    with Emulator(size=size, seed=11).running() as sim:
        for method, path, response in _run_plan(sim, _plan(sim)):
            covered.add(_spec_template(method, path.split("?")[0]))
            if response.status_code != 200:
                failures.append(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
                continue
            try:
                _validate(method, path, response)
            except Exception as err:  # collect all, report together
                failures.append(f"{method} {path}: {str(err)[:600]}")
    assert not failures, f"{len(failures)} invalid responses:\n" + "\n".join(failures[:30])
    assert covered == set(OPERATIONS), f"operations never exercised: {sorted(set(OPERATIONS) - covered)}"
    assert time.perf_counter() - started < 60


def test_error_bodies_validate_against_the_spec(jira_sim: RunningEmulator) -> None:
    auth = (jira_sim.credentials.email, jira_sim.credentials.api_token)
    cases = [
        ("GET", "/project/NOPE"),
        ("GET", "/field/customfield_1/context"),
        ("GET", "/issuetypescheme/project"),
    ]
    for method, path in cases:
        response = httpx.request(method, jira_sim.api_url + path, auth=auth)
        assert response.status_code in (400, 404)
        assert set(response.json()) == {"errorMessages", "errors", "status"}
        _validate(method, path.split("?")[0], response)


def test_audit_records_of_every_mutation_validate_against_the_spec() -> None:
    """Records written by admin mutations (object ids, parents, associated items, changed values),
    read with ``from``/``to``/``filter``/``offset``/``limit``, are ``AuditRecords`` as documented."""
    with Emulator(size="small", seed=11, unaudited_kinds=frozenset()).running() as sim:
        first = sim.site.audit_records[-1]["created"]
        for call in example_calls(sim.site):
            sim.admin.call(call.mutation, call.kwargs)
        assert len(sim.site.audit_records) > 120
        plan: Plan = [
            ("GET", "/auditing/record", {"from": first, "to": "2100-01-01T00:00:00.000+0000"}, None),
            ("GET", "/auditing/record", {"from": first, "offset": 3, "limit": 5}, None),
            ("GET", "/auditing/record", {"filter": "custom_field"}, None),
            ("GET", "/auditing/record", {"from": "2100-01-01T00:00:00.000+0000", "to": first}, None),
        ]
        for method, path, response in _run_plan(sim, plan):
            assert response.status_code == 200, response.text
            _validate(method, path, response)
        assert any(
            r["associatedItems"]
            for r in httpx.get(
                sim.api_url + "/auditing/record",
                params={"from": first},
                auth=(sim.credentials.email, sim.credentials.api_token),
            ).json()["records"]
        )
