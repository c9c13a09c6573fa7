"""One tenant's refresh against the real API server and the emulator's rotating tokens."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kubernetes import client as k8s
from tokenlib import (
    EMULATOR,
    CountingKube,
    RefreshTokenSpy,
    condition,
    create_secret,
    create_tenant,
    events_for,
    get_secret,
    get_tenant,
    oauth_secret,
    patch_secret,
    sa_secret,
    secret_values,
    set_secret_values,
    soon,
)

from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import WRITE_CAPABLE_SCOPES, RunningEmulator
from jiradrift.tokens import (
    MalformedSecret,
    Outcome,
    ReauthorizationPending,
    TokenRefresher,
    WriteScopesRefused,
    ensure_fresh_token,
    run_refresh_job,
    tenant_may_capture,
)
from jiradrift.tokens.refresh_lock import refresh_lease
from jiradrift.tokens.secret import REAUTH_ANNOTATION, parse_time

pytestmark = pytest.mark.k8s
FIVE_MIN = timedelta(minutes=5)
TOKEN_CALL = "POST /oauth/token"


def oauth_tenant(api: k8s.ApiClient, ns: str, sim: RunningEmulator, name: str = "acme", **kw: object) -> dict:
    rt = sim.oauth.create_grant(**kw)  # type: ignore[arg-type]
    create_secret(api, ns, f"{name}-creds", oauth_secret(sim, rt, expires_at=soon(1)))
    return create_tenant(api, ns, name, sim)


async def test_refresh_rotates_persists_then_reports(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim)
    spent = secret_values(k8s_api, ns, "acme-creds")["refresh_token"]
    spy = RefreshTokenSpy()
    async with spy.client() as http:
        state = await ensure_fresh_token(kube, tenant, window=FIVE_MIN, http=http, allowlist=EMULATOR)
        again = await ensure_fresh_token(
            kube, get_tenant(k8s_api, ns, "acme"), window=FIVE_MIN, http=http, allowlist=EMULATOR
        )

    stored = secret_values(k8s_api, ns, "acme-creds")
    assert state.refreshed and not again.refreshed
    assert spy.presented == [spent], "exactly one refresh, with the token that was stored"
    assert stored["refresh_token"] != spent
    assert sim.oauth.grant_of_refresh_token(stored["refresh_token"]) is not None
    assert stored["access_token"] == state.access_token == again.access_token
    assert sim.oauth.access_token(state.access_token) is not None, "the emulator accepts the new token"
    assert parse_time(stored["expires_at"]) == state.expires_at
    assert "read:workflow:jira" in stored["scope"].split()

    after = get_tenant(k8s_api, ns, "acme")
    token = after["status"]["token"]
    assert parse_time(token["expiresAt"]) == state.expires_at
    assert abs(parse_time(token["lastRefreshTime"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert token["scopesReadOnly"] is True
    fresh, scopes = condition(after, "TokenFresh"), condition(after, "ScopesReadOnly")
    assert (fresh["status"], fresh["observedGeneration"]) == ("True", after["metadata"]["generation"])
    assert scopes["status"] == "True"
    text = json.dumps(after)
    assert state.access_token not in text and stored["refresh_token"] not in text
    assert "state" not in repr(state) or state.access_token not in repr(state)


async def test_service_account_is_reminted(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    create_secret(k8s_api, ns, "sa-creds", sa_secret(sim))
    tenant = create_tenant(k8s_api, ns, "sa", sim, kind="serviceAccount", secret="sa-creds")
    state = await ensure_fresh_token(kube, tenant, window=FIVE_MIN, allowlist=EMULATOR)
    stored = secret_values(k8s_api, ns, "sa-creds")
    assert state.refreshed and stored["access_token"] == state.access_token
    assert "refresh_token" not in stored
    assert sim.oauth.access_token(state.access_token) is not None
    assert sim.requests.count(TOKEN_CALL, status=200) == 1


async def test_malformed_secret_fails_without_calling_the_token_endpoint(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    create_secret(k8s_api, ns, "acme-creds", {"client_id": sim.credentials.client_id, "client_secret": "x"})
    tenant = create_tenant(k8s_api, ns, "acme", sim)
    with pytest.raises(MalformedSecret, match="refresh_token"):
        await ensure_fresh_token(kube, tenant, window=FIVE_MIN, allowlist=EMULATOR)
    fresh = condition(get_tenant(k8s_api, ns, "acme"), "TokenFresh")
    assert (fresh["status"], fresh["reason"]) == ("False", "MalformedSecret")
    assert f"Secret {ns}/acme-creds" in fresh["message"]
    assert sim.requests.count(TOKEN_CALL) == 0


async def test_revoked_grant_reports_once_and_never_retries_until_the_secret_changes(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim)
    sim.oauth.revoke_grant_of(secret_values(k8s_api, ns, "acme-creds")["refresh_token"])

    summaries = [
        await run_refresh_job(kube, namespaces=[ns], window=timedelta(hours=24), allowlist=EMULATOR) for _ in range(5)
    ]
    assert [(s.refreshed, s.skipped, s.failed) for s in summaries] == [(0, 0, 1)] * 5
    assert {s.failures[0].reason for s in summaries} == {"ReauthorizationRequired"}
    assert sim.requests.count(TOKEN_CALL) == 1, "one call found the grant revoked; no retry storm"
    with pytest.raises(ReauthorizationPending, match="auth login"):
        await ensure_fresh_token(kube, get_tenant(k8s_api, ns, "acme"), window=FIVE_MIN, allowlist=EMULATOR)
    assert sim.requests.count(TOKEN_CALL) == 1

    after = get_tenant(k8s_api, ns, "acme")
    fresh = condition(after, "TokenFresh")
    assert (fresh["status"], fresh["reason"]) == ("False", "ReauthorizationRequired")
    assert "invalid_grant" in fresh["message"] and f"jiradrift auth login --tenant acme -n {ns}" in fresh["message"]
    assert not tenant_may_capture(after)
    warnings = events_for(k8s_api, ns, "acme", "ReauthorizationRequired")
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert warnings[0]["involvedObject"]["kind"] == "JiraTenant"

    # Someone consents again: the next run uses the new credentials at once.
    set_secret_values(k8s_api, ns, "acme-creds", {"refresh_token": sim.oauth.create_grant()})
    summary = await run_refresh_job(kube, namespaces=[ns], window=timedelta(hours=24), allowlist=EMULATOR)
    assert (summary.refreshed, summary.failed) == (1, 0)
    assert REAUTH_ANNOTATION not in (get_secret(k8s_api, ns, "acme-creds")["metadata"].get("annotations") or {})
    assert condition(get_tenant(k8s_api, ns, "acme"), "TokenFresh")["status"] == "True"
    assert tenant_may_capture(get_tenant(k8s_api, ns, "acme"))
    del tenant


async def test_write_scopes_are_refused_unless_allowed(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim, scopes=WRITE_CAPABLE_SCOPES)
    spent = secret_values(k8s_api, ns, "acme-creds")["refresh_token"]
    with pytest.raises(WriteScopesRefused, match="manage:jira-configuration"):
        await ensure_fresh_token(kube, tenant, window=FIVE_MIN, allowlist=EMULATOR)
    assert secret_values(k8s_api, ns, "acme-creds")["refresh_token"] != spent, "the rotation was still saved"
    after = get_tenant(k8s_api, ns, "acme")
    scopes = condition(after, "ScopesReadOnly")
    assert (scopes["status"], scopes["reason"]) == ("False", "WriteScopesGranted")
    assert "write:jira-work" in scopes["message"] and "read:field:jira" in scopes["message"]
    assert after["status"]["token"]["scopesReadOnly"] is False
    assert not tenant_may_capture(after)

    patched = k8s.CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
        "jiradrift.io", "v1alpha1", ns, "jiratenants", "acme", {"spec": {"auth": {"allowWriteScopes": True}}}
    )
    state = await ensure_fresh_token(kube, patched, window=FIVE_MIN, allowlist=EMULATOR)
    assert state.write_scopes and tenant_may_capture(get_tenant(k8s_api, ns, "acme"))


async def test_unrelated_secret_change_during_refresh_is_kept_and_rotation_saved(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim)
    spent = secret_values(k8s_api, ns, "acme-creds")["refresh_token"]

    async def label_the_secret(request: httpx.Request) -> None:  # lands between our read and our write
        if request.url.path.endswith("/oauth/token"):
            patch_secret(k8s_api, ns, "acme-creds", {"metadata": {"labels": {"team": "a"}}})

    async with httpx.AsyncClient(event_hooks={"request": [label_the_secret]}) as http:
        result = await TokenRefresher(kube, http=http, allowlist=EMULATOR).refresh(tenant, window=FIVE_MIN)
    body = get_secret(k8s_api, ns, "acme-creds")
    stored = secret_values(k8s_api, ns, "acme-creds")
    assert result.outcome is Outcome.REFRESHED
    assert body["metadata"]["labels"] == {"team": "a"}
    assert stored["refresh_token"] != spent and result.state is not None
    assert stored["access_token"] == result.state.access_token


async def test_credentials_replaced_during_refresh_are_never_overwritten(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim)
    theirs = sim.oauth.create_grant()
    their_access = sim.oauth.issue_access_token()

    async def replace_credentials(request: httpx.Request) -> None:  # another writer wins the race
        if request.url.path.endswith("/oauth/token"):
            set_secret_values(
                k8s_api,
                ns,
                "acme-creds",
                oauth_secret(sim, theirs, expires_at=soon(60), access_token=their_access),
            )

    async with httpx.AsyncClient(event_hooks={"request": [replace_credentials]}) as http:
        result = await TokenRefresher(kube, http=http, allowlist=EMULATOR).refresh(tenant, window=FIVE_MIN)
    stored = secret_values(k8s_api, ns, "acme-creds")
    assert stored["refresh_token"] == theirs and stored["access_token"] == their_access
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, "RefreshedConcurrently")
    assert result.state is not None and result.state.access_token == their_access


async def test_a_long_window_does_not_rotate_again_what_the_lease_holder_just_rotated(
    kube: Kube, counting_kube: CountingKube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    """The job (24 h window) waits for the operator's Lease; the 1 h token it then finds is enough."""
    ns, sim = k8s_namespace, jira_sim
    tenant = oauth_tenant(k8s_api, ns, sim)
    operator = refresh_lease(kube, ns, "acme", "operator-test", duration_seconds=60)
    assert await operator.try_acquire()
    spy = RefreshTokenSpy()
    lease_reads = ("GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{operator.name}")
    async with spy.client() as http:
        job = asyncio.create_task(
            TokenRefresher(counting_kube, http=http, allowlist=EMULATOR).refresh(tenant, window=timedelta(hours=24))
        )
        # Wait until the job has read the Secret and found the Lease held (it reads before it asks).
        deadline = time.monotonic() + 30
        while lease_reads not in counting_kube.requests:
            assert not job.done(), f"the job finished without waiting for the Lease: {job.result()}"
            assert time.monotonic() < deadline, "the job did not look at the held Lease within 30 s"
            await asyncio.sleep(0.02)
        assert not job.done()
        set_secret_values(k8s_api, ns, "acme-creds", oauth_secret(sim, sim.oauth.create_grant(), expires_at=soon(60)))
        assert await operator.release()
        result = await asyncio.wait_for(job, 30)
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, "RefreshedConcurrently")
    assert spy.presented == []
