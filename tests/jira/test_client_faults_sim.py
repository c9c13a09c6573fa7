"""Every fault the emulator can inject, against the client (retry sleeps use a FakeClock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from jiradrift.clock import FakeClock
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.errors import (
    DeadlineExceeded,
    JiraTimeout,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
)
from jiradrift.jira.limits import ResponseLimits
from jiradrift.jira.paging import offset_pages
from jiradrift.sim.emulator import RunningEmulator

Factory = Callable[..., Awaitable[JiraClient]]
FIELD = "/rest/api/3/field"


async def test_burst_429_with_retry_after(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.rate_limit(times=2, retry_after=4, path=FIELD)
    clock = FakeClock()
    async with await basic_client(jira_sim, clock=clock) as jira:
        assert isinstance(await jira.get_json("/field"), list)
    assert clock.sleeps == [4.0, 4.0]
    assert jira.stats.rate_limit_waits == 2 and jira.stats.requests_by_status == {"429": 2, "200": 1}
    assert jira_sim.requests.count("GET /rest/api/3/field") == 3


async def test_html_429_without_retry_after_backs_off_then_fails(
    jira_sim: RunningEmulator, basic_client: Factory
) -> None:
    jira_sim.faults.rate_limit(times=None, retry_after=None, html=True, path=FIELD)
    clock = FakeClock()
    async with await basic_client(jira_sim, clock=clock) as jira:
        with pytest.raises(RateLimited, match=r"Oops - an error has occurred.*lower rateLimit"):
            await jira.get_json("/field")
    assert len(clock.sleeps) == 4 and 3.5 <= clock.sleeps[0] <= 6.5 and clock.sleeps[-1] >= 21
    assert jira_sim.requests.count("GET /rest/api/3/field") == 5  # no storm: 1 + 4 retries


async def test_quota_429_pauses_every_endpoint(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.quota(times=1, retry_after=240, path=FIELD)  # under the 300 s cap
    clock = FakeClock()
    async with await basic_client(jira_sim, clock=clock) as jira:
        t0 = clock.monotonic()
        assert isinstance(await jira.get_json("/field"), list)
        assert clock.monotonic() - t0 >= 240
        assert jira.stats.quota_pauses == 1
        assert isinstance(await jira.get_json("/issuetype"), list)
    assert jira_sim.requests.count("GET /rest/api/3/field") == 2


async def test_5xx_with_and_without_retry_after(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.server_error(status=503, times=1, retry_after=2, path=FIELD)
    clock = FakeClock()
    async with await basic_client(jira_sim, clock=clock) as jira:
        assert isinstance(await jira.get_json("/field"), list)
        assert clock.sleeps == [2.0]
        jira_sim.faults.server_error(status=500, times=1, path="/rest/api/3/issuetype")
        with pytest.raises(ServerError, match="HTTP 500"):
            await jira.get_json("/issuetype")
    assert jira_sim.requests.count("GET /rest/api/3/issuetype") == 1  # not retried


async def test_timeout_is_retried(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    # The held response outlasts the client's timeout by far; the timeout leaves the retry, a
    # normal loopback request, ample time on a loaded machine (it must not time out too).
    jira_sim.faults.timeout(seconds=4.0, times=1, path=FIELD)
    settings = ClientSettings(requests_per_second=10_000, timeout=1.5)
    async with await basic_client(jira_sim, settings=settings) as jira:
        assert isinstance(await jira.get_json("/field"), list)
        assert jira.stats.requests_by_status["timeout"] == 1
        jira_sim.faults.timeout(seconds=1.0, times=None, path="/rest/api/3/issuetype")
        # A deadline long enough for every retry (the backoff sleeps sum to about 65 fake seconds).
        short = ClientSettings(requests_per_second=10_000, timeout=0.2, limits=ResponseLimits(request_deadline=600))
    async with await basic_client(jira_sim, settings=short) as jira2:
        with pytest.raises(JiraTimeout, match="timed out 5 time"):
            await jira2.get_json("/issuetype")


async def test_retries_stop_at_the_request_deadline(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    # A site that never sends headers: each attempt times out, and the backoff between attempts
    # (5, 10, 20, 30 s on the fake clock) would run the read far past its 60 s deadline.
    jira_sim.faults.no_headers(path="/rest/api/3/issuetype")
    clock = FakeClock()
    settings = ClientSettings(requests_per_second=10_000, timeout=0.2)
    async with await basic_client(jira_sim, clock=clock, settings=settings) as jira:
        with pytest.raises(DeadlineExceeded, match=r"within the 60 s deadline .* retries stop at the deadline"):
            await jira.get_json("/issuetype")
    assert sum(clock.sleeps) < 60  # never slept past the deadline
    assert 2 <= jira.stats.requests_by_status["timeout"] < 5  # retried, but fewer than max_retries + 1 times


async def test_truncated_json_is_retried_then_reported(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.truncate(times=1, path=FIELD)
    async with await basic_client(jira_sim) as jira:
        assert isinstance(await jira.get_json("/field"), list)
        jira_sim.faults.truncate(times=None, path="/rest/api/3/issuetype")
        with pytest.raises(MalformedResponse, match="issuetype returned an unusable body"):
            await jira.get_json("/issuetype")


async def test_changing_total_and_clamped_pages(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.changing_total(step=7, path="/rest/api/3/screens")
    async with await basic_client(jira_sim) as jira:
        seen: list[str] = []
        async for page in offset_pages(jira, "/screens", page_size=10):  # the emulator clamps nothing at 10
            seen.extend(str(s["id"]) for s in page)
    expected = [str(s["id"]) for s in jira_sim.site.screens]
    assert seen == expected
    assert jira_sim.requests.count("GET /rest/api/3/screens") == -(-len(expected) // 10)


async def test_clamped_page_size_advances_by_real_length(
    jira_sim_factory: Callable[..., RunningEmulator], basic_client: Factory
) -> None:
    sim = jira_sim_factory(size="medium")
    async with await basic_client(sim) as jira:
        ids: list[str] = []
        async for page in offset_pages(jira, "/project/search", page_size=1000):  # clamped to 100
            ids.extend(p["id"] for p in page)
    assert len(ids) == len(set(ids)) == len(sim.site.projects)
    assert sim.requests.count("GET /rest/api/3/project/search") == -(-len(ids) // 100)


async def test_failing_object_and_latency(jira_sim: RunningEmulator, basic_client: Factory) -> None:
    jira_sim.faults.fail_object("/rest/api/3/field/customfield_10000/context", status=404)
    jira_sim.faults.latency(50, path=FIELD, times=1)
    async with await basic_client(jira_sim) as jira:
        with pytest.raises(NotFound, match="customfield_10000/context"):
            await jira.get_json("/field/customfield_10000/context")
        assert (await jira.get_json("/field/customfield_10001/context"))["values"]
        assert isinstance(await jira.get_json("/field"), list)
