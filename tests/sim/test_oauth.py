"""Authentication forms, OAuth grants with rotating refresh tokens, and per-operation scopes."""

from __future__ import annotations

import httpx
import pytest

from jiradrift.sim import REUSE_WINDOW_S, WRITE_CAPABLE_SCOPES, ManualClock, RunningEmulator, read_only_scopes


def _refresh(sim: RunningEmulator, refresh_token: str) -> httpx.Response:
    c = sim.credentials
    return httpx.post(
        sim.token_url,
        json={
            "grant_type": "refresh_token",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "refresh_token": refresh_token,
        },
    )


def _bearer(sim: RunningEmulator, token: str, path: str = "/field") -> httpx.Response:
    return httpx.get(sim.gateway_api_url + path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def clocked(jira_sim_factory) -> RunningEmulator:
    return jira_sim_factory(clock=ManualClock(), access_token_ttl=3600)


def test_basic_auth_on_site_form_and_401_without_it(jira_sim: RunningEmulator) -> None:
    c = jira_sim.credentials
    ok = httpx.get(jira_sim.api_url + "/field", auth=(c.email, c.api_token))
    assert ok.status_code == 200 and ok.headers["X-AAccountId"]
    assert httpx.get(jira_sim.api_url + "/field").status_code == 401
    wrong = httpx.get(jira_sim.api_url + "/field", auth=(c.email, "nope"))
    assert wrong.status_code == 401 and wrong.json()["status"] == 401


def test_oauth_token_works_on_gateway_only_and_pat_on_site_only(jira_sim: RunningEmulator) -> None:
    body = _refresh(jira_sim, jira_sim.credentials.refresh_token).json()
    assert _bearer(jira_sim, body["access_token"]).status_code == 200
    site_form = httpx.get(jira_sim.api_url + "/field", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert site_form.status_code == 401  # 3LO tokens do not work against <site>.atlassian.net
    pat = {"Authorization": f"Bearer {jira_sim.credentials.pat}"}
    assert httpx.get(jira_sim.api_url + "/field", headers=pat).status_code == 200
    wrong_cloud = httpx.get(
        f"{jira_sim.gateway_url}/ex/jira/not-a-cloud/rest/api/3/field",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert wrong_cloud.status_code == 404


def test_tenant_info_and_accessible_resources(jira_sim: RunningEmulator) -> None:
    assert httpx.get(jira_sim.base_url + "/_edge/tenant_info").json() == {"cloudId": jira_sim.cloud_id}
    token = _refresh(jira_sim, jira_sim.credentials.refresh_token).json()
    resources = httpx.get(
        jira_sim.base_url + "/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert resources[0]["id"] == jira_sim.cloud_id and resources[0]["url"] == jira_sim.base_url
    assert set(resources[0]["scopes"]) == set(token["scope"].split()) == set(read_only_scopes())


def test_authorization_code_flow(jira_sim: RunningEmulator) -> None:
    c = jira_sim.credentials
    redirect = httpx.get(
        jira_sim.base_url + "/authorize",
        params={
            "client_id": c.client_id,
            "redirect_uri": "http://127.0.0.1/cb",
            "scope": "read:field:jira offline_access",
            "state": "xyz",
            "response_type": "code",
        },
    )
    assert redirect.status_code == 302
    code = httpx.URL(redirect.headers["location"]).params["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "code": code,
        "redirect_uri": "http://127.0.0.1/cb",
    }
    first = httpx.post(jira_sim.token_url, json=form)
    assert (
        first.status_code == 200
        and first.json()["refresh_token"]
        and first.json()["scope"] == "offline_access read:field:jira"
    )
    again = httpx.post(jira_sim.token_url, json=form)  # a code works once
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_refresh_rotates_and_old_token_works_within_reuse_window(clocked: RunningEmulator) -> None:
    first = clocked.credentials.refresh_token
    one = _refresh(clocked, first).json()
    assert one["refresh_token"] != first and one["expires_in"] == 3600
    clocked.clock.advance(REUSE_WINDOW_S - 1)  # type: ignore[attr-defined]
    again = _refresh(clocked, first)
    assert again.status_code == 200
    assert _refresh(clocked, again.json()["refresh_token"]).status_code == 200


def test_reuse_after_window_revokes_the_whole_grant(clocked: RunningEmulator) -> None:
    first = clocked.credentials.refresh_token
    newest = _refresh(clocked, first).json()["refresh_token"]
    clocked.clock.advance(REUSE_WINDOW_S + 1)  # type: ignore[attr-defined]
    reuse = _refresh(clocked, first)
    assert reuse.status_code == 403 and reuse.json()["error"] == "invalid_grant"
    after = _refresh(clocked, newest)  # even the newest token of the chain is dead now
    assert after.status_code == 403 and after.json()["error"] == "invalid_grant"


def test_access_tokens_expire(clocked: RunningEmulator) -> None:
    token = _refresh(clocked, clocked.credentials.refresh_token).json()["access_token"]
    assert _bearer(clocked, token).status_code == 200
    clocked.clock.advance(3601)  # type: ignore[attr-defined]
    assert _bearer(clocked, token).status_code == 401


def test_client_credentials_grant_has_no_refresh_token(jira_sim: RunningEmulator) -> None:
    c = jira_sim.credentials
    body = httpx.post(
        jira_sim.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": c.sa_client_id,
            "client_secret": c.sa_client_secret,
        },
    ).json()
    assert "refresh_token" not in body and body["token_type"] == "Bearer"
    assert _bearer(jira_sim, body["access_token"]).status_code == 200
    bad = httpx.post(
        jira_sim.token_url,
        data={"grant_type": "client_credentials", "client_id": c.sa_client_id, "client_secret": "wrong"},
    )
    assert bad.status_code == 401


def test_scopes_are_enforced_per_operation(jira_sim: RunningEmulator) -> None:
    narrow = jira_sim.oauth.issue_access_token(["read:field:jira", "read:field-configuration:jira"])
    assert _bearer(jira_sim, narrow, "/field/search").status_code == 200
    denied = _bearer(jira_sim, narrow, "/workflows/search")
    assert denied.status_code == 403 and "read:workflow:jira" in denied.json()["errorMessages"][0]
    read_only = jira_sim.oauth.issue_access_token(read_only_scopes())
    assert _bearer(jira_sim, read_only, "/workflows/search").status_code == 200
    # The spec lists no granular scope for /priority/search: only the classic one passes.
    assert _bearer(jira_sim, read_only, "/priority/search").status_code == 403
    classic = jira_sim.oauth.issue_access_token(WRITE_CAPABLE_SCOPES)
    assert _bearer(jira_sim, classic, "/priority/search").status_code == 200
    assert all(s.startswith("read:") or s == "offline_access" for s in read_only_scopes())


def test_grants_with_chosen_scopes_report_them(jira_sim: RunningEmulator) -> None:
    refresh = jira_sim.oauth.create_grant(WRITE_CAPABLE_SCOPES)
    body = _refresh(jira_sim, refresh).json()
    assert set(body["scope"].split()) == set(WRITE_CAPABLE_SCOPES)
    over_http = httpx.post(jira_sim.base_url + "/_sim/oauth/grants", json={"scopes": "manage:jira-configuration"})
    assert _refresh(jira_sim, over_http.json()["refresh_token"]).json()["scope"] == "manage:jira-configuration"
