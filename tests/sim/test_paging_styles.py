"""Paging styles and caps of the emulator, as Jira documents them."""

from __future__ import annotations

import httpx

from jiradrift.sim import PAGE_LIMITS, Emulator, RunningEmulator


def _get(sim: RunningEmulator, path: str, **params: object) -> httpx.Response:
    auth = (sim.credentials.email, sim.credentials.api_token)
    return httpx.get(sim.api_url + path, params=params, auth=auth, timeout=10)  # type: ignore[arg-type]


def _walk(sim: RunningEmulator, path: str, size_param: str = "maxResults", size: int = 1000) -> tuple[list[dict], int]:
    start, values, pages = 0, [], 0
    for _ in range(10_000):  # bounded
        body = _get(sim, path, startAt=start, **{size_param: size}).json()
        pages += 1
        values += body["values"]
        start += len(body["values"])
        if body["isLast"] or not body["values"]:
            break
    return values, pages


def test_oversized_max_results_is_quietly_lowered_to_the_cap(jira_sim: RunningEmulator) -> None:
    body = _get(jira_sim, "/project/search", maxResults=5000).json()
    assert body["maxResults"] == PAGE_LIMITS["/project/search"][1] == 100
    assert body["total"] == len(jira_sim.site.projects)


def test_defaults_differ_per_endpoint(jira_sim: RunningEmulator) -> None:
    assert _get(jira_sim, "/screenscheme").json()["maxResults"] == 25
    assert _get(jira_sim, "/screens").json()["maxResults"] == 100
    assert _get(jira_sim, "/statuses/search").json()["maxResults"] == 200
    assert _get(jira_sim, "/field/search").json()["maxResults"] == 50


def test_walking_pages_by_len_values_returns_every_item_once(jira_sim_factory) -> None:
    sim = jira_sim_factory(size="medium")
    values, pages = _walk(sim, "/field/search")
    assert [v["id"] for v in values] == [f["id"] for f in sim.site.fields]
    assert pages == -(-len(sim.site.fields) // 100)  # undocumented cap is 100


def test_screen_tabs_uses_singular_max_result(jira_sim: RunningEmulator) -> None:
    screen_ids = [s["id"] for s in jira_sim.site.screens[:3]]
    one = _get(jira_sim, "/screens/tabs", screenId=screen_ids, maxResult=1).json()
    assert one["maxResults"] == 1 and len(one["values"]) == 1
    ignored = _get(jira_sim, "/screens/tabs", screenId=screen_ids, maxResults=1).json()
    assert ignored["maxResults"] == 100  # the plural name is not this endpoint's parameter
    assert {"screenId", "tabId", "tabName"} <= set(ignored["values"][0])


def test_plain_arrays_and_wrapper_objects(jira_sim: RunningEmulator) -> None:
    assert isinstance(_get(jira_sim, "/field").json(), list)
    schemes = _get(jira_sim, "/permissionscheme").json()
    assert set(schemes) == {"permissionSchemes"}
    assert "permissions" not in schemes["permissionSchemes"][0]
    expanded = _get(jira_sim, "/permissionscheme", expand="all").json()
    assert expanded["permissionSchemes"][0]["permissions"]
    assert set(_get(jira_sim, "/issuesecurityschemes").json()) == {"issueSecuritySchemes"}
    assert set(_get(jira_sim, "/issueLinkType").json()) == {"issueLinkTypes"}


def test_workflow_search_expand_adds_transitions(jira_sim: RunningEmulator) -> None:
    plain = _get(jira_sim, "/workflows/search").json()
    assert "transitions" not in plain["values"][0] and plain["statuses"]
    full = _get(jira_sim, "/workflows/search", expand="values.transitions").json()
    assert full["values"][0]["transitions"]


def test_bulk_read_posts(jira_sim: RunningEmulator) -> None:
    auth = (jira_sim.credentials.email, jira_sim.credentials.api_token)
    ids = [w["id"] for w in jira_sim.site.workflows[:3]]
    body = httpx.post(jira_sim.api_url + "/workflows", json={"workflowIds": ids}, auth=auth).json()
    assert [w["id"] for w in body["workflows"]] == ids
    schemes = httpx.post(
        jira_sim.api_url + "/workflowscheme/read",
        json={"workflowSchemeIds": [str(jira_sim.site.workflow_schemes[0]["id"])]},
        auth=auth,
    ).json()
    assert schemes[0]["defaultWorkflow"]["id"] in {w["id"] for w in jira_sim.site.workflows}


def test_order_by_and_bad_order_by(jira_sim: RunningEmulator) -> None:
    names = [p["name"] for p in _get(jira_sim, "/project/search", orderBy="-name", maxResults=100).json()["values"]]
    assert names == sorted(names, reverse=True)
    bad = _get(jira_sim, "/screens", orderBy="colour")
    assert bad.status_code == 400 and "orderBy" in bad.json()["errorMessages"][0]


def test_audit_log_uses_offset_and_limit(jira_sim: RunningEmulator) -> None:
    body = _get(jira_sim, "/auditing/record", offset=5, limit=10).json()
    assert (body["offset"], body["limit"], len(body["records"])) == (5, 10, 10)
    assert body["total"] == len(jira_sim.site.audit_records)


def test_same_seed_and_size_give_the_same_site() -> None:
    a, b = Emulator(size="small", seed=7), Emulator(size="small", seed=7)
    with a.running() as one, b.running() as two:
        for path in ("/field", "/workflows/search", "/permissionscheme?expand=all"):
            assert _get(one, path).text.replace(one.base_url, "") == _get(two, path).text.replace(two.base_url, "")
