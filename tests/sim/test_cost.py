"""The emulated cost-based quota: points per request and per object returned, X-RateLimit-*
headers on every answer, 429 with Retry-After and RateLimit-Reason once a window is spent."""

from __future__ import annotations

import httpx

from jiradrift.sim import Emulator, RunningEmulator
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.cost import objects_returned


def _get(sim: RunningEmulator, path: str) -> httpx.Response:
    return httpx.get(sim.api_url + path, auth=(sim.credentials.email, sim.credentials.api_token))


def test_objects_returned_counts_what_a_body_lists() -> None:
    assert objects_returned([1, 2, 3]) == 3
    assert objects_returned({"values": [1, 2], "total": 2}) == 2
    assert objects_returned({"permissionSchemes": [1, 2, 3, 4]}) == 4
    assert objects_returned({"baseUrl": "x"}) == 1


def test_points_are_charged_per_request_and_object_until_the_window_is_spent() -> None:
    clock = ManualClock(1_767_700_000.0)  # on a window boundary of 100 s
    with Emulator(clock=clock).running() as sim:
        assert "X-RateLimit-Limit" not in _get(sim, "/serverInfo").headers  # off by default
        budget = sim.set_cost_budget(40, window_seconds=100, per_request=1, per_object=2)
        assert budget is not None
        priorities = len(sim.site.priorities)
        first = _get(sim, "/priority")  # 1 + 2 per priority
        assert first.status_code == 200
        assert first.headers["X-RateLimit-Limit"] == "40"
        assert int(first.headers["X-RateLimit-Remaining"]) == 40 - (1 + 2 * priorities)
        answered = [first]
        while (response := _get(sim, "/serverInfo")).status_code == 200:  # 3 points each
            answered.append(response)
        assert len(answered) < 40
        assert response.status_code == 429
        assert response.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
        assert response.headers["Retry-After"] == "100"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["X-RateLimit-Reset"] == "2026-01-06T11:48Z"  # the window's end, Jira's form
        assert any(r.headers.get("X-RateLimit-NearLimit") == "true" for r in answered)
        assert budget.peak() <= 40 and budget.rejected == 1
        clock.advance(99)
        assert _get(sim, "/serverInfo").headers["Retry-After"] == "1"
        clock.advance(1)  # a new window: paid again
        assert _get(sim, "/serverInfo").status_code == 200
        assert budget.peak() <= 40
        sim.set_cost_budget(None)
        assert "X-RateLimit-Limit" not in _get(sim, "/serverInfo").headers


def test_cost_budget_over_http(jira_sim: RunningEmulator) -> None:
    url = jira_sim.base_url + "/_sim/cost"
    assert httpx.get(url).json() == {"points": None}
    on = httpx.post(url, json={"points": 5, "window_seconds": 3600})
    assert on.json() == {"points": 5, "window_seconds": 3600, "peak": 0, "rejected": 0}
    while _get(jira_sim, "/serverInfo").status_code == 200:
        pass
    assert httpx.get(url).json()["rejected"] == 1
    assert httpx.post(url, json={"window_seconds": 1}).status_code == 400  # no points: says so
    assert httpx.post(url, json={"points": None}).json() == {"points": None}
    assert _get(jira_sim, "/serverInfo").status_code == 200
