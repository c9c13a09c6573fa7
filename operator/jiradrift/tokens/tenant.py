"""What the token lifecycle reads from a JiraTenant, and what it writes to its status.

    tenant = read_tenant(body)                # the API server's JSON into the JiraTenant model, once
    ref = tenant_auth(tenant)                 # which Secret, which token endpoint (from JiraTenantSpec)
    verdict = tenant_may_capture(tenant)      # the operator's gate before a capture
    if not verdict: ...                       # verdict.reason / verdict.message say why

Only ``status.token`` and the ``TokenFresh`` / ``ScopesReadOnly`` conditions are written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiradrift.api import conditions as cond
from jiradrift.api.credentials import CredentialsProblem, auth_method
from jiradrift.api.objects import InvalidObject, read_object
from jiradrift.api.resources import ConditionStatus, JiraTenant, JiraTenantSpec, JiraTenantStatus
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


TenantObject = JiraTenant | Mapping[str, Any]
"""A JiraTenant as its model, or as the API server's JSON (read into the model where it enters)."""


def read_tenant(tenant: TenantObject) -> JiraTenant:
    """The JiraTenant as its model (a model passes as it is). Raises :class:`UnsupportedAuth` naming
    the bad field of a spec the CRD admitted but the model refuses."""
    if isinstance(tenant, JiraTenant):
        return tenant
    try:
        return read_object(JiraTenant, tenant)
    except InvalidObject as exc:
        raise UnsupportedAuth(exc.key, exc.message) from None


def auth_kind(spec: JiraTenantSpec) -> AuthKind | None:
    """The auth method the spec sets (None: none)."""
    try:
        method, _ = auth_method(spec)
    except CredentialsProblem:
        return None
    return AuthKind(method)


def tenant_auth(tenant: TenantObject) -> TenantAuthRef:
    """The auth reference of a JiraTenant. Raises :class:`UnsupportedAuth`."""
    obj = read_tenant(tenant)
    meta, spec = obj.metadata, obj.spec
    key = meta.key
    kind = auth_kind(spec)
    if kind is None:
        raise UnsupportedAuth(key, "spec.auth sets none of oauth, serviceAccount, apiToken, pat")
    _, secret_name = auth_method(spec)
    if not secret_name:
        raise UnsupportedAuth(key, f"spec.auth.{kind.value}.secretRef.name is empty; name the credential Secret")
    block = spec.auth.oauth or spec.auth.service_account
    return TenantAuthRef(
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        generation=meta.generation,
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


def tenant_may_capture(tenant: TenantObject) -> CaptureVerdict:
    """May the operator capture this tenant now, as far as its token is concerned?

    Refused while the grant awaits re-authorisation, and while a write-capable scope is granted
    without ``spec.auth.allowWriteScopes: true``.
    """
    obj = read_tenant(tenant)
    status = obj.status or JiraTenantStatus()
    fresh = cond.find(status.conditions, cond.TOKEN_FRESH)
    if fresh and fresh.status == ConditionStatus.FALSE and fresh.reason == REAUTHORIZATION_REQUIRED:
        return CaptureVerdict(False, REAUTHORIZATION_REQUIRED, fresh.message)
    allowed = obj.spec.auth.allow_write_scopes
    read_only = cond.find(status.conditions, cond.SCOPES_READ_ONLY)
    writes = (read_only is not None and read_only.status == ConditionStatus.FALSE) or (
        status.token is not None and status.token.scopes_read_only is False
    )
    if writes and not allowed:
        message = read_only.message if read_only else "a granted scope can write to Jira"
        return CaptureVerdict(False, WRITE_SCOPES_GRANTED, message)
    return CaptureVerdict(True)


@dataclass(frozen=True)
class TokenFreshness:
    """The ``TokenFresh`` condition to set."""

    status: bool
    reason: str
    message: str


def token_status_patch(
    tenant: TenantObject,
    ref: TenantAuthRef,
    *,
    freshness: TokenFreshness,
    now: datetime,
    expires_at: datetime | None = None,
    refreshed_at: datetime | None = None,
    scopes: str | None = None,
) -> dict[str, Any] | None:
    """The merge patch for ``/status`` (with the tenant's resourceVersion), or ``None`` if nothing changes."""
    obj = read_tenant(tenant)
    status = obj.status or JiraTenantStatus()
    generation = obj.metadata.generation if obj.metadata.generation is not None else ref.generation
    # The patch is JSON: the status as the API server holds it, with ours set on top.
    old_token = status.token.model_dump(by_alias=True, mode="json", exclude_none=True) if status.token else {}
    old_conditions = cond.written(status.conditions)
    token = dict(old_token)
    if expires_at is not None:
        token["expiresAt"] = format_time(expires_at)
    if refreshed_at is not None:
        token["lastRefreshTime"] = format_time(refreshed_at)
    conditions = cond.set_condition(
        old_conditions,
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
    if token == old_token and conditions == old_conditions:
        return None
    patch: dict[str, Any] = {"status": {"conditions": conditions}}
    if token != old_token:
        patch["status"]["token"] = token
    if obj.metadata.resource_version:
        patch["metadata"] = {"resourceVersion": obj.metadata.resource_version}
    return patch
