"""The token code reads JiraTenants into their model once: what it reads from old or new operator
versions' status, and the error an invalid spec gives (tokens/tenant.py over api/objects.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jiradrift.api.resources import JiraTenant
from jiradrift.tokens import tenant_auth, tenant_may_capture
from jiradrift.tokens.errors import UnsupportedAuth
from jiradrift.tokens.tenant import TokenFreshness, read_tenant, token_status_patch

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AUTH = {"oauth": {"secretRef": {"name": "acme-creds"}}}


def tenant(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "acme", "namespace": "team-a", "uid": "u-1", "generation": 4, "resourceVersion": "9"},
        "spec": {"site": "https://acme.atlassian.net", "auth": AUTH, **spec},
        "status": status or {},
    }


def condition(type_: str, status: str, reason: str, message: str = "m", **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-12-07T10:00:00Z",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "allowed", "reason"),
    [
        pytest.param({}, True, "", id="no-status"),
        pytest.param(
            {"conditions": [condition("TokenFresh", "False", "ReauthorizationRequired", severity="Error")]},
            False,
            "ReauthorizationRequired",
            id="newer-condition-field",
        ),
        pytest.param(
            {"token": {"scopesReadOnly": False, "grantedScopes": ["write:jira-work"]}, "rotation": {"n": 1}},
            False,
            "WriteScopesGranted",
            id="newer-token-and-status-fields",
        ),
        pytest.param(
            {"token": {"scopesReadOnly": True, "expiresAt": "not a time"}},
            True,
            "",
            id="older-unreadable-value",
        ),
    ],
)
def test_the_capture_gate_reads_status_of_another_version(status: dict[str, Any], allowed: bool, reason: str) -> None:
    verdict = tenant_may_capture(tenant(status))
    assert bool(verdict) is allowed and verdict.reason == reason


def test_an_invalid_spec_is_unsupported_auth_naming_the_field() -> None:
    body = tenant(site="http://acme.example")  # plain http off loopback: the model refuses it
    with pytest.raises(UnsupportedAuth) as caught:
        tenant_auth(body)
    assert caught.value.tenant == "team-a/acme"
    assert caught.value.message.startswith("spec.site is invalid (String should match pattern")
    assert caught.value.message.endswith("; fix the JiraTenant")


def test_the_model_and_the_json_give_the_same_reference_and_patch() -> None:
    body = tenant({"conditions": [condition("TokenFresh", "True", "Fresh", "ok", observedGeneration=4)]})
    model = read_tenant(body)
    assert isinstance(model, JiraTenant) and read_tenant(model) is model  # read once: a model passes
    ref = tenant_auth(model)
    assert (ref.key, ref.uid, ref.generation, ref.secret_name) == ("team-a/acme", "u-1", 4, "acme-creds")
    assert tenant_auth(body) == ref
    fresh = TokenFreshness(True, "Fresh", "ok")
    assert token_status_patch(model, ref, freshness=fresh, now=NOW) is None  # nothing changes: no request
    patch = token_status_patch(body, ref, freshness=fresh, now=NOW, expires_at=NOW)
    assert patch == {
        "status": {
            "conditions": [condition("TokenFresh", "True", "Fresh", "ok", observedGeneration=4)],
            "token": {"expiresAt": "2026-12-07T12:00:00Z"},
        },
        "metadata": {"resourceVersion": "9"},
    }
