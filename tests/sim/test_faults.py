"""Each switchable fault, as a client sees it."""

from __future__ import annotations

import httpx
import pytest

from jiradrift.sim import RunningEmulator


def _get(sim: RunningEmulator, path: str, timeout: float = 10, **params: object) -> httpx.Response:
    return httpx.get(
        sim.api_url + path,
        params=params,
        timeout=timeout,  # type: ignore[arg-type]
        auth=(sim.credentials.email, sim.credentials.api_token),
    )


def test_burst_rate_limit_with_retry_after_then_recovers(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.rate_limit(times=2, retry_after=3, path="/rest/api/3/field")
    for _ in range(2):
        limited = _get(jira_sim, "/field")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
        assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
        assert limited.json()["status"] == 429
    assert _get(jira_sim, "/field").status_code == 200
    assert _get(jira_sim, "/issuetype").status_code == 200  # other endpoints were never limited


def test_quota_rate_limit_names_the_quota(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.quota(retry_after=1800)
    limited = _get(jira_sim, "/field")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1800"
    assert limited.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert "Beta-RateLimit" in limited.headers


def test_html_429(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.rate_limit(html=True, retry_after=None)
    limited = _get(jira_sim, "/field")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.headers["content-type"].startswith("text/html") and "Oops" in limited.text


@pytest.mark.parametrize("retry_after", [None, 2])
def test_server_error_with_and_without_retry_after(jira_sim: RunningEmulator, retry_after: int | None) -> None:
    jira_sim.faults.server_error(status=503, retry_after=retry_after)
    failed = _get(jira_sim, "/field")
    assert failed.status_code == 503
    assert failed.headers.get("Retry-After") == (None if retry_after is None else "2")
    assert _get(jira_sim, "/field").status_code == 200


def test_timeout(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.timeout(seconds=1)
    with pytest.raises(httpx.ReadTimeout):
        _get(jira_sim, "/field", timeout=0.2)
    assert _get(jira_sim, "/field").status_code == 200


def test_truncated_json(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.truncate(path="/rest/api/3/project/search")
    broken = _get(jira_sim, "/project/search")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()


def test_total_changes_between_pages(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.changing_total(step=5, path="/rest/api/3/field/search")
    totals = [_get(jira_sim, "/field/search", startAt=s, maxResults=10).json()["total"] for s in (0, 10, 20)]
    assert totals[1] - totals[0] == 5 and totals[2] - totals[1] == 5


def test_one_object_fails_while_siblings_succeed(jira_sim: RunningEmulator) -> None:
    fields = [f["id"] for f in jira_sim.site.custom_fields if "scope" not in f][:3]
    jira_sim.faults.fail_object(f"/rest/api/3/field/{fields[1]}/context")
    statuses = [_get(jira_sim, f"/field/{f}/context").status_code for f in fields]
    assert statuses == [200, 500, 200]
    assert _get(jira_sim, f"/field/{fields[1]}/context").status_code == 500  # persistent until cleared
    jira_sim.faults.clear()
    assert _get(jira_sim, f"/field/{fields[1]}/context").status_code == 200


def test_latency_and_request_log(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.latency(150, path="/rest/api/3/issuetype")
    slow = _get(jira_sim, "/issuetype")
    assert slow.elapsed.total_seconds() >= 0.15
    records = [r for r in jira_sim.requests if r.operation == "GET /rest/api/3/issuetype"]
    assert records[-1].status == 200 and records[-1].principal == f"user:{jira_sim.credentials.email}"
    assert jira_sim.requests.counts["GET /rest/api/3/issuetype"] == 1


def test_faults_over_http(jira_sim: RunningEmulator) -> None:
    added = httpx.post(jira_sim.base_url + "/_sim/faults/rate_limit", json={"times": 1, "retry_after": 4})
    assert added.status_code == 200
    assert _get(jira_sim, "/field").headers["Retry-After"] == "4"
    httpx.post(jira_sim.base_url + "/_sim/faults/server_error", json={"times": None})
    assert httpx.delete(jira_sim.base_url + "/_sim/faults").status_code == 200
    assert _get(jira_sim, "/field").status_code == 200
    log = httpx.get(jira_sim.base_url + "/_sim/requests").json()
    assert log["counts"]["GET /rest/api/3/field"] == 2
