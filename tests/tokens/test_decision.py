"""Pure token logic: the decision table, Secret parsing, status patches and the capture gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from tokenlib import b64, unb64

from jiradrift.tokens import Action, AuthKind, decide, tenant_may_capture
from jiradrift.tokens.cli import parse_window
from jiradrift.tokens.secret import (
    REAUTH_ANNOTATION,
    credentials_fingerprint,
    parse_secret,
    updated_secret_body,
)
from jiradrift.tokens.tenant import TokenFreshness, tenant_auth, token_status_patch

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)


def secret(values: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "acme-creds",
            "namespace": "team-a",
            "resourceVersion": "7",
            "annotations": annotations or {},
        },
        "data": {k: b64(v) for k, v in values.items()},
    }


# credentials of 8 characters or more: shorter ones are refused as unredactable (issue 23)
OAUTH = {"client_id": "cid", "client_secret": "cs-secret-1", "refresh_token": "rt-1-refresh"}


def oauth_with_expiry(expires_at: datetime) -> dict[str, Any]:
    return secret({**OAUTH, "access_token": "at-access-1", "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")})


# --- the decision table ---------------------------------------------------------------------


def test_expiring_within_the_window_is_refreshed() -> None:
    decision = decide(oauth_with_expiry(NOW + timedelta(hours=3)), AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert (decision.action, decision.reason) == (Action.REFRESH, "ExpiresWithinWindow")
    assert "2026-03-01T15:00:00Z" in decision.message and "24h" in decision.message


def test_already_expired_is_refreshed() -> None:
    decision = decide(oauth_with_expiry(NOW - timedelta(minutes=1)), AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert decision.action is Action.REFRESH
    assert "expired at" in decision.message


def test_not_expiring_within_the_window_is_skipped() -> None:
    decision = decide(oauth_with_expiry(NOW + timedelta(hours=25)), AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert (decision.action, decision.reason) == (Action.SKIP, "Fresh")
    assert decision.secret is not None and decision.secret.expires_at == NOW + timedelta(hours=25)


def test_window_boundary_is_inclusive() -> None:
    exactly = decide(oauth_with_expiry(NOW + WINDOW), AuthKind.OAUTH, now=NOW, window=WINDOW)
    beyond = decide(oauth_with_expiry(NOW + WINDOW + timedelta(seconds=1)), AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert (exactly.action, beyond.action) == (Action.REFRESH, Action.SKIP)


def test_no_expiry_recorded_is_refreshed() -> None:
    decision = decide(secret(OAUTH), AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert (decision.action, decision.reason) == (Action.REFRESH, "NoExpiryRecorded")


def test_expiry_without_access_token_is_refreshed() -> None:
    body = secret({**OAUTH, "expires_at": "2027-01-01T00:00:00Z"})
    assert decide(body, AuthKind.OAUTH, now=NOW, window=WINDOW).reason == "NoExpiryRecorded"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (secret({"client_id": "cid", "client_secret": "cs-secret-1"}), "refresh_token"),
        (secret({**OAUTH, "refresh_token": "   "}), "refresh_token"),
        (secret({**OAUTH, "access_token": "at-access-1", "expires_at": "next tuesday"}), "expires_at"),
        ({"metadata": {"name": "acme-creds", "namespace": "team-a"}, "data": {"client_id": "%%%"}}, "base64"),
    ],
)
def test_malformed_secret_fails_with_a_reason_naming_the_key(body: dict[str, Any], fragment: str) -> None:
    decision = decide(body, AuthKind.OAUTH, now=NOW, window=WINDOW)
    assert (decision.action, decision.reason) == (Action.FAIL, "MalformedSecret")
    assert fragment in decision.message
    assert "rt-1-refresh" not in decision.message and "cs-secret-1" not in decision.message.split()


def test_missing_secret_fails() -> None:
    decision = decide(None, AuthKind.OAUTH, now=NOW, window=WINDOW, secret_ref="team-a/acme-creds")
    assert (decision.action, decision.reason) == (Action.FAIL, "SecretNotFound")
    assert "team-a/acme-creds" in decision.message


def test_service_account_needs_no_refresh_token() -> None:
    body = secret({"client_id": "sa", "client_secret": "s-secret-1"})
    assert decide(body, AuthKind.SERVICE_ACCOUNT, now=NOW, window=WINDOW).action is Action.REFRESH


def test_revoked_credentials_are_not_retried_until_they_change() -> None:
    marker = credentials_fingerprint("cid", "cs-secret-1", "rt-1-refresh")
    unchanged = secret(OAUTH, {REAUTH_ANNOTATION: marker})
    changed = secret({**OAUTH, "refresh_token": "rt-new-refresh"}, {REAUTH_ANNOTATION: marker})
    assert decide(unchanged, AuthKind.OAUTH, now=NOW, window=WINDOW).reason == "ReauthorizationRequired"
    assert decide(changed, AuthKind.OAUTH, now=NOW, window=WINDOW).action is Action.REFRESH


# --- Secret reading and writing -------------------------------------------------------------


def test_parsed_secret_never_shows_credentials() -> None:
    parsed = parse_secret(oauth_with_expiry(NOW), AuthKind.OAUTH)
    text = repr(parsed)
    assert parsed.refresh_token == "rt-1-refresh"
    assert "rt-1-refresh" not in text and "'cs-secret-1'" not in text and "'at-access-1'" not in text


def test_expiry_without_offset_is_utc() -> None:
    parsed = parse_secret(
        secret({**OAUTH, "access_token": "at-access-1", "expires_at": "2026-03-01T13:00:00"}), AuthKind.OAUTH
    )
    assert parsed.expires_at == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


def test_updated_body_keeps_other_keys_and_the_precondition() -> None:
    current = secret({**OAUTH, "note": "keep me"}, {REAUTH_ANNOTATION: "x", "other": "y"})
    body = updated_secret_body(current, {"refresh_token": "rt-2-refresh"}, annotations={REAUTH_ANNOTATION: None})
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["metadata"]["annotations"] == {"other": "y"}
    assert unb64(body["data"]["refresh_token"]) == "rt-2-refresh"
    assert unb64(body["data"]["note"]) == "keep me"


# --- status and the capture gate ------------------------------------------------------------


def tenant(status: dict[str, Any] | None = None, *, allow: bool = False) -> dict[str, Any]:
    auth: dict[str, Any] = {"oauth": {"secretRef": {"name": "acme-creds"}}}
    if allow:
        auth["allowWriteScopes"] = True
    return {
        "metadata": {"name": "acme", "namespace": "team-a", "generation": 3, "resourceVersion": "42"},
        "spec": {"site": "https://acme.atlassian.net", "auth": auth},
        "status": status or {},
    }


def test_status_patch_records_expiry_scopes_and_generation() -> None:
    t = tenant()
    patch = token_status_patch(
        t,
        tenant_auth(t),
        freshness=TokenFreshness(True, "Fresh", "ok"),
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
        refreshed_at=NOW,
        scopes="read:field:jira offline_access",
    )
    assert patch is not None
    assert patch["metadata"] == {"resourceVersion": "42"}
    assert patch["status"]["token"] == {
        "expiresAt": "2026-03-01T13:00:00Z",
        "lastRefreshTime": "2026-03-01T12:00:00Z",
        "scopesReadOnly": True,
    }
    types = {c["type"]: c for c in patch["status"]["conditions"]}
    assert types["TokenFresh"]["status"] == "True" and types["TokenFresh"]["observedGeneration"] == 3
    assert types["ScopesReadOnly"]["status"] == "True"


def test_write_scopes_are_named_with_the_fix() -> None:
    t = tenant()
    patch = token_status_patch(
        t,
        tenant_auth(t),
        freshness=TokenFreshness(True, "Fresh", "ok"),
        now=NOW,
        scopes="read:jira-work manage:jira-configuration write:jira-work offline_access",
    )
    assert patch is not None
    cond = {c["type"]: c for c in patch["status"]["conditions"]}["ScopesReadOnly"]
    assert (cond["status"], cond["reason"]) == ("False", "WriteScopesGranted")
    assert "manage:jira-configuration write:jira-work" in cond["message"]
    assert "read:workflow-scheme:jira" in cond["message"] and "allowWriteScopes" in cond["message"]
    assert patch["status"]["token"]["scopesReadOnly"] is False


def test_unchanged_status_needs_no_patch() -> None:
    t = tenant()
    first = token_status_patch(
        t,
        tenant_auth(t),
        freshness=TokenFreshness(True, "Fresh", "ok"),
        now=NOW,
        expires_at=NOW,
        scopes="read:field:jira",
    )
    assert first is not None
    t["status"] = first["status"]
    again = token_status_patch(
        t,
        tenant_auth(t),
        freshness=TokenFreshness(True, "Fresh", "ok"),
        now=NOW + timedelta(minutes=5),
        expires_at=NOW,
        scopes="read:field:jira",
    )
    assert again is None


def test_capture_gate() -> None:
    read_only = {"token": {"scopesReadOnly": True}, "conditions": []}
    writes = {
        "token": {"scopesReadOnly": False},
        "conditions": [
            {
                "type": "ScopesReadOnly",
                "status": "False",
                "reason": "WriteScopesGranted",
                "message": "granted write-capable scope(s) write:jira-work",
            }
        ],
    }
    revoked = {
        "conditions": [
            {
                "type": "TokenFresh",
                "status": "False",
                "reason": "ReauthorizationRequired",
                "message": "run jiradrift auth login",
            }
        ]
    }
    assert tenant_may_capture(tenant(read_only))
    refused = tenant_may_capture(tenant(writes))
    assert not refused and refused.reason == "WriteScopesGranted" and "write:jira-work" in refused.message
    assert tenant_may_capture(tenant(writes, allow=True))
    paused = tenant_may_capture(tenant(revoked, allow=True))
    assert not paused and paused.reason == "ReauthorizationRequired"


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400), ("90m", 5400), ("1h30m", 5400), ("2d", 172800)])
def test_window_durations(text: str, seconds: int) -> None:
    assert parse_window(text).total_seconds() == seconds


def test_bad_window_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="not a duration"):
        parse_window("soon")


# --- the Secret's opt-in ------------------------------------------------------------------------


def test_a_secret_that_does_not_opt_in_to_the_tenant_is_not_used() -> None:
    fresh = {**OAUTH, "access_token": "at-access-1", "expires_at": "2026-03-05T00:00:00Z"}
    refused = decide(secret(fresh), AuthKind.OAUTH, now=NOW, window=WINDOW, tenant="acme")
    assert refused.action is Action.FAIL and refused.reason == "SecretNotOptedIn"
    assert "kubectl annotate secret acme-creds -n team-a jiradrift.io/allowed-tenants=acme" in refused.message
    other = secret(fresh, {"jiradrift.io/allowed-tenants": "beta"})
    refused = decide(other, AuthKind.OAUTH, now=NOW, window=WINDOW, tenant="acme")
    assert refused.reason == "SecretNotOptedIn"
    assert "kubectl annotate --overwrite secret acme-creds -n team-a jiradrift.io/allowed-tenants=beta,acme" in (
        refused.message
    )
    for opt_in in ("acme", "beta, acme", "*"):
        ok = decide(
            secret(fresh, {"jiradrift.io/allowed-tenants": opt_in}),
            AuthKind.OAUTH,
            now=NOW,
            window=WINDOW,
            tenant="acme",
        )
        assert ok.action is Action.SKIP, opt_in
