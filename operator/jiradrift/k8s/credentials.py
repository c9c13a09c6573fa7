"""Resolve a JiraTenant's Secret reference into credentials, with errors an admin can act on.

The Secret keys per auth method are part of the API (documented in the README):

=================  ==========================================================================
apiToken           ``email``, ``token``
pat                ``token``
serviceAccount     ``client_id``, ``client_secret``
oauth              ``client_id``, ``client_secret``, ``refresh_token`` (+ ``access_token``,
                   ``expires_at``, ``scope`` written back by the operator)
=================  ==========================================================================
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from jiradrift.k8s.resources import JiraTenantSpec

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "apiToken": ("email", "token"),
    "pat": ("token",),
    "serviceAccount": ("client_id", "client_secret"),
    "oauth": ("client_id", "client_secret", "refresh_token"),
}


class CredentialsProblem(Exception):
    """The Secret cannot be used; ``reason`` is the stable CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class TenantSecret:
    method: str  # apiToken | pat | serviceAccount | oauth
    name: str
    data: dict[str, str]
    resource_version: str

    def __repr__(self) -> str:  # never print secret values
        return f"TenantSecret(method={self.method!r}, name={self.name!r}, keys={sorted(self.data)})"


def auth_method(spec: JiraTenantSpec) -> tuple[str, str]:
    """(method, secret name) of the single auth method the CRD guarantees is set."""
    auth = spec.auth
    for method, value in (
        ("oauth", auth.oauth),
        ("serviceAccount", auth.service_account),
        ("apiToken", auth.api_token),
        ("pat", auth.pat),
    ):
        if value is not None:
            return method, value.secret_ref.name
    raise CredentialsProblem(
        "NoAuthMethod", "spec.auth sets no method; set one of oauth, serviceAccount, apiToken, pat"
    )


def decode_secret_data(secret: Any) -> dict[str, str]:
    raw = (secret.data if hasattr(secret, "data") else secret.get("data")) or {}
    out = {}
    for key, value in raw.items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8").strip()
        except (ValueError, UnicodeDecodeError):
            out[key] = ""
    return out


def read_tenant_secret(api: k8s.ApiClient, namespace: str, spec: JiraTenantSpec) -> TenantSecret:
    method, name = auth_method(spec)
    field = f"spec.auth.{method}.secretRef.name"
    try:
        secret = k8s.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise CredentialsProblem(
                "SecretNotFound",
                f"Secret {namespace}/{name} (from {field}) does not exist; create it with keys "
                f"{', '.join(REQUIRED_KEYS[method])}",
            ) from None
        if exc.status == 403:
            raise CredentialsProblem(
                "SecretForbidden",
                f"the operator may not read Secret {namespace}/{name}; grant it get on secrets in {namespace}",
            ) from None
        raise
    data = decode_secret_data(secret)
    missing = [k for k in REQUIRED_KEYS[method] if not data.get(k)]
    if missing:
        raise CredentialsProblem(
            "SecretKeyMissing",
            f"Secret {namespace}/{name} (from {field}) lacks key(s) {', '.join(missing)}; "
            f"{method} needs {', '.join(REQUIRED_KEYS[method])}",
        )
    version = secret.metadata.resource_version if secret.metadata else None
    return TenantSecret(method, name, data, version or "")
