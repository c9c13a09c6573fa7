"""The token endpoint is a URL a tenant names: a hostile one gets the same bounds as a Jira site
(size after decompression, a wall-clock deadline), through the refresh job's shared client and the
client a single refresh makes for itself (both :func:`jiradrift.net.transport.outbound_client`), and
the job's client honours HTTP(S)_PROXY."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from jiradrift.jira.errors import OAuthError
from jiradrift.jira.limits import ResponseLimits
from jiradrift.jira.oauth import TOKEN_LIMITS, refresh_access_token
from jiradrift.net.transport import outbound_client
from jiradrift.sim.emulator import RunningEmulator

MiB = 1024 * 1024


async def _refresh(sim: RunningEmulator, *, job_client: bool, limits: ResponseLimits | None = None) -> None:
    c = sim.credentials
    http = outbound_client(max_connections=2) if job_client else None
    try:
        await refresh_access_token(
            client_id=c.client_id,
            client_secret=c.client_secret,
            refresh_token=c.refresh_token,
            token_url=sim.token_url,
            http=http,
            limits=limits or TOKEN_LIMITS,
        )
    finally:
        if http is not None:
            await http.aclose()


@pytest.mark.parametrize("job_client", [True, False], ids=["job-client", "own-client"])
async def test_a_gzip_bomb_is_refused_in_bounded_memory(jira_sim: RunningEmulator, job_client: bool) -> None:
    jira_sim.faults.gzip_bomb(size=100 * MiB, path="/oauth/token")
    tracemalloc.start()
    try:
        with pytest.raises(OAuthError, match=r"unusable_response.*exceeded 1\.0 MiB after decompression"):
            await _refresh(jira_sim, job_client=job_client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB"


@pytest.mark.parametrize("job_client", [True, False], ids=["job-client", "own-client"])
async def test_an_oversized_answer_is_refused(jira_sim: RunningEmulator, job_client: bool) -> None:
    jira_sim.faults.oversized(size=50 * MiB, path="/oauth/token")
    with pytest.raises(OAuthError, match=r"unusable_response.*the response body exceeded 1\.0 MiB"):
        await _refresh(jira_sim, job_client=job_client)


async def test_a_trickled_answer_hits_the_deadline(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.trickle(seconds=1.0, path="/oauth/token")
    start = time.monotonic()
    with pytest.raises(OAuthError, match=r"unusable_response.*no complete response within the 2 s deadline"):
        await _refresh(jira_sim, job_client=True, limits=ResponseLimits(max_body_bytes=MiB, request_deadline=2.0))
    assert time.monotonic() - start < 10


async def test_a_deeply_nested_answer_is_refused(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.deep_json(depth=1000, path="/oauth/token")
    with pytest.raises(OAuthError, match=r"nests deeper than 64 levels"):
        await _refresh(jira_sim, job_client=True)


@pytest.fixture
async def forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain-HTTP forward proxy on loopback that answers token requests itself, recording each
    request line's absolute URL (what only a proxied request carries)."""
    seen: list[str] = []

    async def token(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        body = {
            "access_token": "via-proxy",
            "refresh_token": "r2-refresh",
            "expires_in": 3600,
            "scope": "read:jira-work",
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.add_routes([web.post("/oauth/token", token)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_the_job_client_honours_the_proxy_environment(
    forward_proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, seen = forward_proxy
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    unreachable = "http://127.0.0.1:9/oauth/token"  # nothing listens there: only the proxy can answer
    http = outbound_client(max_connections=2)
    try:
        tokens = await refresh_access_token(
            client_id="c", client_secret="s", refresh_token="r1", token_url=unreachable, http=http
        )
    finally:
        await http.aclose()
    assert tokens.access_token == "via-proxy"
    assert seen == [unreachable]
