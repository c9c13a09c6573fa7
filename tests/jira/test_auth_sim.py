"""Every auth variant and the OAuth token endpoint, against the emulator on loopback."""

from __future__ import annotations

import httpx
import pytest

from jiradrift.clock import FakeClock
from jiradrift.jira.auth import (
    ApiTokenAuth,
    OAuthAuth,
    PatAuth,
    ServiceAccountAuth,
    api_base,
    normalise_origin,
)
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.discovery import accessible_resources_cloud_id, tenant_info_cloud_id
from jiradrift.jira.errors import (
    AuthenticationFailed,
    ConfigurationError,
    DiscoveryError,
    ReauthorizationRequired,
)
from jiradrift.jira.oauth import (
    exchange_authorization_code,
    is_write_scope,
    refresh_access_token,
    request_client_credentials_token,
    write_scopes,
)
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.emulator import RunningEmulator


def test_base_url_forms() -> None:
    site = "https://acme.atlassian.net/"
    assert api_base(site, ApiTokenAuth("a", "b"), cloud_id=None) == "https://acme.atlassian.net/rest/api/3"
    assert api_base(site, PatAuth("p"), cloud_id=None) == "https://acme.atlassian.net/rest/api/2"
    assert api_base(site, OAuthAuth("t"), cloud_id="c1") == "https://api.atlassian.com/ex/jira/c1/rest/api/3"
    assert api_base(site, ServiceAccountAuth("i", "s"), cloud_id="c1", gateway="https://gw.example") == (
        "https://gw.example/ex/jira/c1/rest/api/3"
    )
    assert normalise_origin("https://jira.corp/jira/rest/api/2", "site") == "https://jira.corp/jira"
    with pytest.raises(ConfigurationError, match="plain http"):
        normalise_origin("http://acme.atlassian.net", "site URL")
    with pytest.raises(ConfigurationError, match="cloudId"):
        api_base(site, OAuthAuth("t"), cloud_id=None)


def test_credentials_never_print_secrets() -> None:
    text = repr(ApiTokenAuth("me@x", "s3cret")) + repr(PatAuth("s3cret")) + repr(ServiceAccountAuth("id", "s3cret"))
    assert "s3cret" not in text


def test_scope_classification() -> None:
    assert is_write_scope("write:jira-work") and is_write_scope("manage:jira-configuration")
    assert is_write_scope("write:issue:jira") and is_write_scope("delete:project:jira")
    assert not is_write_scope("read:jira-work") and not is_write_scope("read:workflow:jira")
    assert not is_write_scope("offline_access")
    assert write_scopes("read:field:jira manage:jira-project offline_access write:jira-work") == [
        "manage:jira-project",
        "write:jira-work",
    ]


async def test_basic_auth_site_form(jira_sim: RunningEmulator, fast: ClientSettings) -> None:
    c = jira_sim.credentials
    async with await JiraClient.connect(jira_sim.base_url, ApiTokenAuth(c.email, c.api_token), settings=fast) as jira:
        assert jira.api_base == jira_sim.base_url + "/rest/api/3"
        assert isinstance(await jira.get_json("/field"), list)
    ops = [r.path for r in jira_sim.requests]
    assert ops == ["/rest/api/3/field"]


async def test_wrong_api_token_is_authentication_failed(jira_sim: RunningEmulator, fast: ClientSettings) -> None:
    async with await JiraClient.connect(
        jira_sim.base_url, ApiTokenAuth("admin@example.com", "nope"), settings=fast
    ) as jira:
        with pytest.raises(AuthenticationFailed, match=r"GET .*/rest/api/3/field -> HTTP 401.*update the Secret"):
            await jira.get_json("/field")


async def test_pat_uses_v2_site_form(jira_sim: RunningEmulator, fast: ClientSettings) -> None:
    async with await JiraClient.connect(jira_sim.base_url, PatAuth(jira_sim.credentials.pat), settings=fast) as jira:
        assert jira.api_base.endswith("/rest/api/2")
        assert isinstance(await jira.get_json("/issuetype"), list)
    assert [r.path for r in jira_sim.requests] == ["/rest/api/2/issuetype"]


async def test_cloud_id_discovery(jira_sim: RunningEmulator) -> None:
    assert await tenant_info_cloud_id(jira_sim.base_url) == jira_sim.cloud_id
    c = jira_sim.credentials
    tokens = await request_client_credentials_token(
        client_id=c.sa_client_id, client_secret=c.sa_client_secret, token_url=jira_sim.token_url
    )
    found = await accessible_resources_cloud_id(
        jira_sim.base_url, gateway=jira_sim.gateway_url, authorization=f"Bearer {tokens.access_token}"
    )
    assert found == jira_sim.cloud_id
    with pytest.raises(DiscoveryError, match=r"cannot reach https://other\.atlassian\.net"):
        await accessible_resources_cloud_id(
            "https://other.atlassian.net",
            gateway=jira_sim.gateway_url,
            authorization=f"Bearer {tokens.access_token}",
        )


async def test_oauth_3lo_code_exchange_refresh_and_gateway(jira_sim_factory: object, fast: ClientSettings) -> None:
    clock = ManualClock()
    sim: RunningEmulator = jira_sim_factory(clock=clock)  # type: ignore[operator]
    c = sim.credentials
    code = sim.oauth.issue_code()
    first = await exchange_authorization_code(
        client_id=c.client_id,
        client_secret=c.client_secret,
        code=code,
        redirect_uri="http://127.0.0.1/cb",
        token_url=sim.token_url,
    )
    assert first.refresh_token and first.expires_in > 0 and first.scopes
    assert "ey" not in repr(first) and first.access_token not in repr(first)
    rotated = await refresh_access_token(
        client_id=c.client_id,
        client_secret=c.client_secret,
        refresh_token=first.refresh_token,
        token_url=sim.token_url,
    )
    assert rotated.refresh_token and rotated.refresh_token != first.refresh_token
    async with await JiraClient.connect(
        sim.base_url, OAuthAuth(rotated.access_token), gateway=sim.gateway_url, settings=fast
    ) as jira:
        assert jira.cloud_id == sim.cloud_id
        assert jira.api_base == sim.gateway_api_url
        assert isinstance(await jira.get_json("/issuetype"), list)
    # Reusing the rotated-out refresh token after the 10-minute leeway revokes the grant: terminal.
    clock.advance(11 * 60)
    with pytest.raises(ReauthorizationRequired, match=r"invalid_grant.*re-authorise"):
        await refresh_access_token(
            client_id=c.client_id,
            client_secret=c.client_secret,
            refresh_token=first.refresh_token,
            token_url=sim.token_url,
        )
    with pytest.raises(ReauthorizationRequired):
        await refresh_access_token(
            client_id=c.client_id,
            client_secret=c.client_secret,
            refresh_token=rotated.refresh_token,
            token_url=sim.token_url,
        )


async def test_service_account_mints_and_reminted_after_expiry(jira_sim_factory: object, fast: ClientSettings) -> None:
    clock = ManualClock()
    sim: RunningEmulator = jira_sim_factory(clock=clock, access_token_ttl=600)  # type: ignore[operator]
    c = sim.credentials
    fake = FakeClock()
    creds = ServiceAccountAuth(c.sa_client_id, c.sa_client_secret)
    async with await JiraClient.connect(
        sim.base_url, creds, gateway=sim.gateway_url, token_url=sim.token_url, settings=fast, clock=fake
    ) as jira:
        assert jira.api_base == sim.gateway_api_url
        assert isinstance(await jira.get_json("/field"), list)
        clock.advance(700)  # the emulator expired the token; our clock did not notice
        assert isinstance(await jira.get_json("/field"), list)  # 401 -> re-mint once -> retried
        assert jira._tokens.minted == 2  # type: ignore[attr-defined]
    assert sim.requests.count("POST /oauth/token") == 2
    statuses = [r.status for r in sim.requests if r.path.endswith("/field")]
    assert statuses == [200, 401, 200]


async def test_bad_service_account_secret_is_terminal(jira_sim: RunningEmulator) -> None:
    with pytest.raises(ReauthorizationRequired):
        await request_client_credentials_token(
            client_id=jira_sim.credentials.sa_client_id, client_secret="wrong", token_url=jira_sim.token_url
        )


async def test_gateway_rejects_basic_auth_token_url_errors_are_typed(jira_sim: RunningEmulator) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ReauthorizationRequired):
            await refresh_access_token(
                client_id=jira_sim.credentials.client_id,
                client_secret=jira_sim.credentials.client_secret,
                refresh_token="never-issued",
                token_url=jira_sim.token_url,
                http=http,
            )
