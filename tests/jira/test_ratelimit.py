"""Retry and pacing decisions with a fake clock: nothing here really waits."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from jiradrift.clock import FakeClock
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.errors import RateLimited, ServerError
from jiradrift.jira.ratelimit import RetryPolicy, TokenBucket, decide, retry_after_seconds
from jiradrift.jira.token_source import StaticAuthorization

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
POLICY = RetryPolicy()


def test_backoff_doubles_from_5_to_30_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate([5, 10, 20, 30, 30]):
        delay = POLICY.backoff(attempt, rng)
        assert 0.7 * base <= delay <= 1.3 * base


def test_retry_after_and_beta_fallback() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"beta-retry-after": "3"}) == 3
    assert retry_after_seconds({"Retry-After": "Mon, 02 Mar 2026 10:15:30 GMT"}, NOW) == 30
    assert retry_after_seconds({}) is None


def test_decide() -> None:
    rng = random.Random(1)
    assert decide(429, {"Retry-After": "2"}, 0, POLICY, rng, NOW).delay == 2
    quota = decide(429, {"RateLimit-Reason": "jira-quota-tenant-based"}, 0, POLICY, rng, NOW, max_wait=3600)
    assert quota.pause_tenant and quota.delay == 45 * 60  # until the UTC hour resets
    capped = decide(429, {"RateLimit-Reason": "jira-quota-tenant-based"}, 0, POLICY, rng, NOW)
    assert capped.too_long and not capped.retry and capped.asked.startswith("2700 s")  # default cap: 300 s
    burst = decide(429, {"RateLimit-Reason": "jira-burst-based"}, 1, POLICY, rng, NOW)
    assert burst.retry and not burst.pause_tenant and 7 <= burst.delay <= 13
    assert not decide(503, {}, 0, POLICY, rng, NOW).retry  # 5xx only with Retry-After
    assert decide(503, {"Retry-After": "1"}, 0, POLICY, rng, NOW).retry
    assert not decide(429, {"Retry-After": "1"}, 4, POLICY, rng, NOW).retry  # 4 retries, then give up
    assert not decide(404, {}, 0, POLICY, rng, NOW).retry


@pytest.mark.parametrize(
    ("value", "asked"),
    [
        ("inf", "forever"),
        ("Infinity", "forever"),
        ("1e400", "forever"),
        ("99999999999", "99999999999 s"),
        ("301", "301 s"),
        ("Fri, 01 Jan 9999 00:00:00 GMT", " s (Retry-After: Fri, 01 Jan 9999"),
    ],
)
def test_waits_beyond_the_cap_give_up(value: str, asked: str) -> None:
    for status in (429, 503):
        decision = decide(status, {"Retry-After": value}, 0, POLICY, random.Random(1), NOW)
        assert decision.too_long and not decision.retry, value
        assert asked in decision.asked


@pytest.mark.parametrize("value", ["nan", "-5", "-inf", "soon", "Fri, 99 Foo 2026 99:99:99 GMT"])
def test_nonsense_retry_after_is_ignored(value: str) -> None:
    assert retry_after_seconds({"Retry-After": value}, NOW) is None
    burst = decide(429, {"Retry-After": value}, 0, POLICY, random.Random(1), NOW)
    assert burst.retry and burst.reason == "backoff" and 3.5 <= burst.delay <= 6.5


def test_a_wait_at_the_cap_is_honoured() -> None:
    decision = decide(429, {"Retry-After": "300"}, 0, POLICY, random.Random(1), NOW)
    assert decision.retry and decision.delay == 300 and not decision.too_long


async def test_token_bucket_caps_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=1, clock=clock)
    for _ in range(21):
        await bucket.acquire()
    assert sum(clock.sleeps) == pytest.approx(2.0)


Script = Callable[[httpx.Request, int], httpx.Response]


class Scripted(httpx.AsyncBaseTransport):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.script(request, self.count)


def _client(script: Script, clock: FakeClock) -> tuple[JiraClient, Scripted]:
    wire = Scripted(script)
    jira = JiraClient(
        api_base="https://acme.atlassian.net/rest/api/3",
        token_source=StaticAuthorization("Basic x"),
        transport=wire,
        clock=clock,
        rng=random.Random(3),
        settings=ClientSettings(requests_per_second=1000),
    )
    return jira, wire


async def test_429_storm_backs_off_then_gives_up_with_html_body() -> None:
    clock = FakeClock()
    html = b"<html><head><title>Oops - an error has occurred</title></head><body>rate</body></html>"
    jira, wire = _client(lambda r, n: httpx.Response(429, content=html, headers={"Content-Type": "text/html"}), clock)
    async with jira:
        with pytest.raises(RateLimited, match="Oops - an error has occurred") as info:
            await jira.get_json("/field")
    assert "/rest/api/3/field" in str(info.value)
    assert wire.count == 5  # first try + 4 retries
    assert len(clock.sleeps) == 4
    for delay, base in zip(clock.sleeps, [5, 10, 20, 30], strict=True):
        assert 0.7 * base <= delay <= 1.3 * base
    assert jira.stats.rate_limit_waits == 4
    assert jira.stats.requests_by_status["429"] == 5


async def test_retry_after_is_honoured_exactly() -> None:
    clock = FakeClock()
    jira, _ = _client(
        lambda r, n: httpx.Response(429, headers={"Retry-After": "3"}) if n == 1 else httpx.Response(200, json=[1]),
        clock,
    )
    async with jira:
        assert await jira.get_json("/field") == [1]
    assert clock.sleeps == [3.0]
    assert jira.stats.rate_limit_wait_seconds == 3.0


async def test_quota_pauses_the_whole_tenant() -> None:
    clock = FakeClock()
    sent_at: list[float] = []

    def script(request: httpx.Request, n: int) -> httpx.Response:
        sent_at.append(clock.monotonic())
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": "200", "RateLimit-Reason": "jira-quota-tenant-based"})
        return httpx.Response(200, json={})

    jira, _ = _client(script, clock)
    async with jira:
        await jira.get_json("/field")
        await jira.get_json("/issuetype")  # a different endpoint waits too: the pause is tenant-wide
    assert jira.stats.quota_pauses == 1
    assert sent_at[1] - sent_at[0] >= 200
    assert sent_at[2] >= sent_at[0] + 200


async def test_5xx_without_retry_after_is_not_retried() -> None:
    clock = FakeClock()
    jira, wire = _client(lambda r, n: httpx.Response(502, json={"errorMessages": ["bad gateway"]}), clock)
    async with jira:
        with pytest.raises(ServerError, match="bad gateway"):
            await jira.get_json("/field")
    assert wire.count == 1 and clock.sleeps == []


async def test_5xx_with_retry_after_is_retried() -> None:
    clock = FakeClock()
    jira, wire = _client(
        lambda r, n: httpx.Response(503, headers={"Retry-After": "2"}) if n < 3 else httpx.Response(200, json=[]),
        clock,
    )
    async with jira:
        assert await jira.get_json("/field") == []
    assert wire.count == 3 and clock.sleeps == [2.0, 2.0]


async def test_language_is_pinned() -> None:
    seen: list[httpx.Headers] = []

    def script(request: httpx.Request, n: int) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={})

    jira, _ = _client(script, FakeClock())
    async with jira:
        await jira.get_json("/status")
    assert seen[0]["Accept-Language"] == "en-US"
    assert seen[0]["X-Force-Accept-Language"] == "true"
    assert seen[0]["Authorization"] == "Basic x"


async def test_endpoint_rate_paces_each_endpoint_template_separately() -> None:
    """Jira's burst limit is per endpoint: 20 role reads at 8 rps wait ~2.25 s; other endpoints do not."""
    clock = FakeClock()
    jira = JiraClient(
        api_base="https://acme.atlassian.net/rest/api/3",
        token_source=StaticAuthorization("Basic x"),
        transport=Scripted(lambda r, n: httpx.Response(200, json={})),
        clock=clock,
        rng=random.Random(3),
        settings=ClientSettings(requests_per_second=1000, endpoint_requests_per_second=8),
    )
    async with jira:
        for i in range(20):
            await jira.get_json(f"/project/{10000 + i}/role/{10002 + i % 5}")
        roles_waited = jira.stats.throttle_wait_seconds
        # burst of 8/4 = 2, then 18 more at 8 per second
        assert roles_waited == pytest.approx(18 / 8, rel=0.01)
        await jira.get_json("/field/customfield_10001/context")
        await jira.get_json("/project/10001/components")
        assert jira.stats.throttle_wait_seconds == pytest.approx(roles_waited)
    assert set(jira._endpoint_buckets) == {
        "GET /project/{}/role/{}",
        "GET /field/{}/context",
        "GET /project/{}/components",
    }
