"""Resolve a JiraTenant's Secret reference into credentials, with errors an admin can act on.

The Secret keys per auth method are part of the API (documented in the README):

=================  ==========================================================================
apiToken           ``email``, ``token``
pat                ``token``
serviceAccount     ``client_id``, ``client_secret``
oauth              ``client_id``, ``client_secret``, ``refresh_token`` (+ ``access_token``,
                   ``expires_at``, ``scope`` written back by the operator)
=================  ==========================================================================

Two gates run before a credential is used, because whoever writes a JiraTenant is not trusted with
anything else in the namespace:

- :func:`check_tenant_urls`: every URL the tenant names is on the cluster admin's host allowlist
  (checked before the Secret is even read);
- the Secret opts in to the tenant: its annotation ``jiradrift.io/allowed-tenants`` lists the
  tenant's name (comma-separated) or is ``*``. Otherwise the Secret is not used
  (``SecretNotOptedIn``), so a tenant cannot borrow another workload's Secret.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jiradrift.api.conditions import ConditionType, Reason, ReconcileError
from jiradrift.api.resources import (
    GROUP,
    ApiTokenAuth,
    JiraTenantSpec,
    OAuthAuth,
    PatAuth,
    ServiceAccountAuth,
    TenantAuth,
)
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.net.hosts import HostAllowlist, HostRefused
from jiradrift.redact import MIN_LENGTH, remember_secrets, too_short

ALLOWED_TENANTS_ANNOTATION = f"{GROUP}/allowed-tenants"
"""On a Secret: the JiraTenants (names in the Secret's namespace, comma-separated, or ``*``) that may use it."""

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "apiToken": ("email", "token"),
    "pat": ("token",),
    "serviceAccount": ("client_id", "client_secret"),
    "oauth": ("client_id", "client_secret", "refresh_token"),
}


class CredentialsProblem(ReconcileError):
    """The Secret (or a URL the credentials would go to) cannot be used: falsifies CredentialsValid."""

    condition = ConditionType.CREDENTIALS_VALID


@dataclass(frozen=True)
class TenantSecret:
    method: str  # apiToken | pat | serviceAccount | oauth
    name: str
    data: dict[str, str]
    resource_version: str

    def __repr__(self) -> str:  # never print secret values
        return f"TenantSecret(method={self.method!r}, name={self.name!r}, keys={sorted(self.data)})"


AuthBlock = OAuthAuth | ServiceAccountAuth | ApiTokenAuth | PatAuth


def chosen_auth(auth: TenantAuth) -> tuple[str, AuthBlock] | None:
    """(method, its block) of the auth method set in ``spec.auth`` (the CRD allows exactly one).

    The one reading of a tenant's auth: the operator and the token job both parse ``spec.auth``
    with the :class:`TenantAuth` model and ask this function which method it names."""
    choices: tuple[tuple[str, AuthBlock | None], ...] = (
        ("oauth", auth.oauth),
        ("serviceAccount", auth.service_account),
        ("apiToken", auth.api_token),
        ("pat", auth.pat),
    )
    for method, value in choices:
        if value is not None:
            return method, value
    return None


def auth_method(spec: JiraTenantSpec) -> tuple[str, str]:
    """(method, secret name) of the single auth method the CRD guarantees is set."""
    chosen = chosen_auth(spec.auth)
    if chosen is not None:
        return chosen[0], chosen[1].secret_ref.name
    raise CredentialsProblem(
        Reason.NO_AUTH_METHOD, "spec.auth sets no method; set one of oauth, serviceAccount, apiToken, pat"
    )


def tenant_urls(spec: JiraTenantSpec) -> list[tuple[str, str]]:
    """(field, URL) of every place this tenant's credentials would be sent."""
    urls = [("spec.site", spec.site)]
    if spec.auth.oauth is not None or spec.auth.service_account is not None:  # bearer tokens go to the gateway
        urls.append(("spec.apiGateway", spec.api_gateway))
    if spec.auth.oauth is not None:
        urls.append(("spec.auth.oauth.tokenUrl", spec.auth.oauth.token_url))
    if spec.auth.service_account is not None:
        urls.append(("spec.auth.serviceAccount.tokenUrl", spec.auth.service_account.token_url))
    return urls


def check_tenant_urls(allowlist: HostAllowlist, spec: JiraTenantSpec) -> None:
    """Raise :class:`CredentialsProblem` unless every URL of the tenant is on the allowlist."""
    for field, url in tenant_urls(spec):
        try:
            allowlist.check(url, field)
        except HostRefused as exc:
            raise CredentialsProblem(exc.reason, exc.message) from None


def opted_in_tenants(annotations: Mapping[str, str] | None) -> list[str]:
    value = (annotations or {}).get(ALLOWED_TENANTS_ANNOTATION) or ""
    return [name.strip() for name in value.split(",") if name.strip()]


def secret_opts_in(annotations: Mapping[str, str] | None, tenant: str) -> bool:
    """True when the Secret's ``jiradrift.io/allowed-tenants`` annotation names ``tenant`` or is ``*``."""
    names = opted_in_tenants(annotations)
    return "*" in names or tenant in names


def opt_in_message(namespace: str, secret: str, tenant: str, annotations: Mapping[str, str] | None) -> str:
    """What a tenant owner (or the Secret's owner) reads when the Secret has not opted in."""
    listed = opted_in_tenants(annotations)
    value = ",".join([*listed, tenant])
    overwrite = " --overwrite" if listed else ""
    return (
        f"Secret {namespace}/{secret} does not opt in to JiraTenant {namespace}/{tenant}, so it is not used. "
        f"If this tenant may use it, the Secret's owner runs: kubectl annotate{overwrite} secret {secret} "
        f"-n {namespace} {ALLOWED_TENANTS_ANNOTATION}={value}"
    )


def decode_secret_value(value: str) -> str:
    """One ``data`` value of a Secret: base64 of UTF-8 text. Raises ``ValueError`` when it is not."""
    return base64.b64decode(value, validate=True).decode("utf-8")


def decode_secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """Every ``data`` value of a Secret (the API server's JSON), stripped; an unreadable one reads as
    empty (then reported as missing)."""
    raw = secret.get("data") or {}
    out = {}
    for key, value in raw.items():
        try:
            out[key] = decode_secret_value(value).strip()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            out[key] = ""
    return out


async def read_opted_in_secret(kube: Kube, namespace: str, name: str, tenant: str, field: str, needs: str) -> Any:
    """Secret ``name`` (named by ``field``) if it exists, may be read, and opts in to ``tenant``;
    else :class:`CredentialsProblem`. ``needs`` says what to create it with, e.g. ``keys email, token``."""
    try:
        secret = await kube.get(resource_path("", "v1", "secrets", namespace, name))
    except KubeError as exc:
        if exc.status == 404:
            raise CredentialsProblem(
                Reason.SECRET_NOT_FOUND,
                f"Secret {namespace}/{name} (from {field}) does not exist; create it with {needs}",
            ) from None
        if exc.status == 403:
            raise CredentialsProblem(
                Reason.SECRET_FORBIDDEN,
                f"the operator may not read Secret {namespace}/{name}; grant it get on secrets in {namespace}",
            ) from None
        raise
    metadata = secret.get("metadata") or {}
    annotations = metadata.get("annotations")
    if not secret_opts_in(annotations, tenant):
        raise CredentialsProblem(Reason.SECRET_NOT_OPTED_IN, opt_in_message(namespace, name, tenant, annotations))
    return secret


async def read_tenant_secret(kube: Kube, namespace: str, tenant: str, spec: JiraTenantSpec) -> TenantSecret:
    """The tenant's Secret, if it exists, opts in to ``tenant`` and has the keys ``spec.auth`` needs."""
    method, name = auth_method(spec)
    field = f"spec.auth.{method}.secretRef.name"
    needs = f"keys {', '.join(REQUIRED_KEYS[method])}"
    secret = await read_opted_in_secret(kube, namespace, name, tenant, field, needs)
    metadata = secret.get("metadata") or {}
    data = decode_secret_data(secret)
    remember_secrets(data)
    if data.get("email") and data.get("token"):  # the basic-auth value a site could echo back
        remember_secrets([base64.b64encode(f"{data['email']}:{data['token']}".encode()).decode("ascii")])
    missing = [k for k in REQUIRED_KEYS[method] if not data.get(k)]
    if missing:
        raise CredentialsProblem(
            Reason.SECRET_KEY_MISSING,
            f"Secret {namespace}/{name} (from {field}) lacks key(s) {', '.join(missing)}; "
            f"{method} needs {', '.join(REQUIRED_KEYS[method])}",
        )
    short = too_short(data)
    if short:
        raise CredentialsProblem(
            Reason.MALFORMED_SECRET,
            f"Secret {namespace}/{name} (from {field}): key(s) {', '.join(short)} hold fewer than {MIN_LENGTH} "
            "characters; a credential that short is guessable and cannot be told apart from ordinary words to "
            "keep it out of messages, so it is not used (Atlassian tokens and secrets are far longer)",
        )
    return TenantSecret(method, name, data, str(metadata.get("resourceVersion") or ""))
