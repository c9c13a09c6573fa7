"""The emulator's optional per-endpoint burst limit, and the client honouring it without a 429 storm."""

from __future__ import annotations

import asyncio

import httpx

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.sim import Emulator
from jiradrift.sim.burst import BurstLimiter


def test_limiter_admits_n_per_second_per_operation() -> None:
    now = [0.0]
    limiter = BurstLimiter(3, clock=lambda: now[0])
    assert [limiter.admit("GET /a") for _ in range(4)] == [True, True, True, False]
    assert limiter.admit("GET /b")  # another endpoint has its own window
    now[0] = 1.01
    assert limiter.admit("GET /a")
    assert limiter.rejected == 1


def test_over_the_limit_jira_answers_429_burst() -> None:
    with Emulator(size="tiny", burst_limit=5).running() as jira:
        auth = (jira.credentials.email, jira.credentials.api_token)
        with httpx.Client() as http:
            statuses = [http.get(f"{jira.api_url}/priority", auth=auth).status_code for _ in range(8)]
            assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
            blocked = http.get(f"{jira.api_url}/priority", auth=auth)
            if blocked.status_code == 429:
                assert blocked.headers["RateLimit-Reason"] == "jira-burst-based"
                assert blocked.headers["Retry-After"] == "1"
            assert http.get(f"{jira.api_url}/resolution/search", auth=auth).status_code == 200


def test_a_paced_client_sees_no_429() -> None:
    async def run(api_url: str, site: str, email: str, token: str) -> tuple[int, int]:
        # Paced well under the limit: 12/s plus a burst of 3 is at most 15 in any second, so a stall
        # that lets queued requests reach the server together (a loaded machine) still stays under 25.
        settings = ClientSettings(max_concurrency=8, requests_per_second=1000, endpoint_requests_per_second=12)
        client = await JiraClient.connect(site, ApiTokenAuth(email, token), settings=settings)
        async with client:
            await asyncio.gather(*(client.get_json("/priority") for _ in range(30)))
            return client.stats.requests_total, int(client.stats.requests_by_status.get("429", 0))

    with Emulator(size="tiny", burst_limit=25).running() as jira:
        total, throttled = asyncio.run(
            run(jira.api_url, jira.base_url, jira.credentials.email, jira.credentials.api_token)
        )
    assert total == 30 and throttled == 0
