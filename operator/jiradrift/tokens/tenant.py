"""What the token lifecycle reads from a JiraTenant, and what it writes to its status.

    ref = tenant_auth(tenant)                 # which Secret, which token endpoint (from JiraTenantSpec)
    verdict = tenant_may_capture(tenant)      # the operator's gate before a capture
    if not verdict: ...                       # verdict.reason / verdict.message say why

Only ``status.token`` and the ``TokenFresh`` / ``ScopesReadOnly`` conditions are written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from jiradrift.api import conditions as cond
from jiradrift.api.credentials import CredentialsProblem, auth_method
from jiradrift.api.resources import JiraTenantSpec
from jiradrift.jira.oauth import write_scopes
from jiradrift.tokens.errors import UnsupportedAuth
from jiradrift.tokens.scopes import write_scopes_message
from jiradrift.tokens.secret import AuthKind, format_time

REAUTHORIZATION_REQUIRED = "ReauthorizationRequired"
WRITE_SCOPES_GRANTED = "WriteScopesGranted"


@dataclass(frozen=True)
class TenantAuthRef:
    namespace: str
    name: str
    uid: str
    generation: int | None
    kind: AuthKind
    secret_name: str
    token_url: str
    allow_write_scopes: bool

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def secret_key(self) -> str:
        return f"{self.namespace}/{self.secret_name}"


def tenant_spec(tenant: dict[str, Any]) -> JiraTenantSpec:
    """The JiraTenant's spec as the API model. Raises :class:`UnsupportedAuth` naming the bad field."""
    try:
        return JiraTenantSpec.model_validate(tenant.get("spec") or {})
    except ValidationError as exc:
        meta = tenant.get("metadata") or {}
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UnsupportedAuth(
            f"{meta.get('namespace', '')}/{meta.get('name', '')}",
            f"spec.{where} is invalid ({first['msg']}); fix the JiraTenant",
        ) from None


def auth_kind(spec: JiraTenantSpec) -> AuthKind | None:
    """The auth method the spec sets (None: none)."""
    try:
        method, _ = auth_method(spec)
    except CredentialsProblem:
        return None
    return AuthKind(method)


def tenant_auth(tenant: dict[str, Any]) -> TenantAuthRef:
    """The auth reference of a JiraTenant (the API server's JSON). Raises :class:`UnsupportedAuth`."""
    meta = tenant.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    key = f"{namespace}/{name}"
    spec = tenant_spec(tenant)
    kind = auth_kind(spec)
    if kind is None:
        raise UnsupportedAuth(key, "spec.auth sets none of oauth, serviceAccount, apiToken, pat")
    _, secret_name = auth_method(spec)
    if not secret_name:
        raise UnsupportedAuth(key, f"spec.auth.{kind.value}.secretRef.name is empty; name the credential Secret")
    block = spec.auth.oauth or spec.auth.service_account
    return TenantAuthRef(
        namespace=namespace,
        name=name,
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        kind=kind,
        secret_name=secret_name,
        token_url=block.token_url if block is not None else "",
        allow_write_scopes=spec.auth.allow_write_scopes,
    )


@dataclass(frozen=True)
class CaptureVerdict:
    allowed: bool
    reason: str = ""
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def tenant_may_capture(tenant: dict[str, Any]) -> CaptureVerdict:
    """May the operator capture this tenant now, as far as its token is concerned?

    Refused while the grant awaits re-authorisation, and while a write-capable scope is granted
    without ``spec.auth.allowWriteScopes: true``.
    """
    status = tenant.get("status") or {}
    conditions = status.get("conditions") or []
    fresh = cond.find(conditions, cond.TOKEN_FRESH)
    if fresh and fresh.get("status") == "False" and fresh.get("reason") == REAUTHORIZATION_REQUIRED:
        return CaptureVerdict(False, REAUTHORIZATION_REQUIRED, str(fresh.get("message", "")))
    allowed = tenant_spec(tenant).auth.allow_write_scopes
    read_only = cond.find(conditions, cond.SCOPES_READ_ONLY)
    writes = (read_only is not None and read_only.get("status") == "False") or (
        (status.get("token") or {}).get("scopesReadOnly") is False
    )
    if writes and not allowed:
        message = str(read_only.get("message", "")) if read_only else "a granted scope can write to Jira"
        return CaptureVerdict(False, WRITE_SCOPES_GRANTED, message)
    return CaptureVerdict(True)


@dataclass(frozen=True)
class TokenFreshness:
    """The ``TokenFresh`` condition to set."""

    status: bool
    reason: str
    message: str


def token_status_patch(
    tenant: dict[str, Any],
    ref: TenantAuthRef,
    *,
    freshness: TokenFreshness,
    now: datetime,
    expires_at: datetime | None = None,
    refreshed_at: datetime | None = None,
    scopes: str | None = None,
) -> dict[str, Any] | None:
    """The merge patch for ``/status`` (with the tenant's resourceVersion), or ``None`` if nothing changes."""
    status = tenant.get("status") or {}
    generation = (tenant.get("metadata") or {}).get("generation", ref.generation)
    old_token = dict(status.get("token") or {})
    token = dict(old_token)
    if expires_at is not None:
        token["expiresAt"] = format_time(expires_at)
    if refreshed_at is not None:
        token["lastRefreshTime"] = format_time(refreshed_at)
    conditions = status.get("conditions") or []
    conditions = cond.set_condition(
        conditions,
        cond.TOKEN_FRESH,
        freshness.status,
        freshness.reason,
        freshness.message,
        generation=generation,
        now=now,
    )
    if scopes is not None:
        granted = scopes.split()
        writes = write_scopes(granted)
        token["scopesReadOnly"] = not writes
        if writes:
            conditions = cond.set_condition(
                conditions,
                cond.SCOPES_READ_ONLY,
                False,
                WRITE_SCOPES_GRANTED,
                write_scopes_message(granted, allowed=ref.allow_write_scopes),
                generation=generation,
                now=now,
            )
        else:
            conditions = cond.set_condition(
                conditions,
                cond.SCOPES_READ_ONLY,
                True,
                "ReadOnly",
                "no granted scope can write to Jira",  # the operator's wording: no flip-flopping
                generation=generation,
                now=now,
            )
    if token == old_token and conditions == (status.get("conditions") or []):
        return None
    patch: dict[str, Any] = {"status": {"conditions": conditions}}
    if token != old_token:
        patch["status"]["token"] = token
    resource_version = (tenant.get("metadata") or {}).get("resourceVersion")
    if resource_version:
        patch["metadata"] = {"resourceVersion": resource_version}
    return patch
