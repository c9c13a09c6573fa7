"""The credential Secret of a tenant: its keys, how to read them, and the update written back.

- oauth (3LO): an admin provides ``client_id``, ``client_secret``, ``refresh_token``; the refresher
  writes ``access_token``, ``expires_at``, ``scope`` and the rotated ``refresh_token``.
- serviceAccount: ``client_id``, ``client_secret``; the refresher writes ``access_token``,
  ``expires_at``, ``scope``.
- apiToken: ``email``, ``token``. pat: ``token``. Nothing is written back.

``expires_at`` is RFC 3339 UTC (``2026-01-05T10:00:00Z``); ``scope`` is the space-separated list the
token endpoint granted. A revoked grant is remembered in the annotation
``jiradrift.io/reauthorization-required`` as a fingerprint of the credentials that failed, so
nothing retries until someone changes them (a fingerprint, not the resourceVersion, because writing
the annotation itself changes the resourceVersion).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from jiradrift.api.credentials import REQUIRED_KEYS, decode_secret_value
from jiradrift.api.resources import GROUP
from jiradrift.redact import MIN_LENGTH, remember_secrets, too_short

CLIENT_ID = "client_id"
CLIENT_SECRET = "client_secret"
REFRESH_TOKEN = "refresh_token"
ACCESS_TOKEN = "access_token"
EXPIRES_AT = "expires_at"
SCOPE = "scope"
EMAIL = "email"
TOKEN = "token"

REAUTH_ANNOTATION = f"{GROUP}/reauthorization-required"
"""Fingerprint of the credentials the token endpoint rejected as terminal."""


class AuthKind(StrEnum):
    OAUTH = "oauth"
    SERVICE_ACCOUNT = "serviceAccount"
    API_TOKEN = "apiToken"
    PAT = "pat"

    @property
    def refreshable(self) -> bool:
        return self in (AuthKind.OAUTH, AuthKind.SERVICE_ACCOUNT)


class SecretFormatError(ValueError):
    """A Secret key is missing or unreadable; the message names the key and the fix."""


@dataclass(frozen=True)
class TokenSecret:
    """The parsed credential Secret. ``repr`` never shows a credential."""

    namespace: str
    name: str
    resource_version: str
    kind: AuthKind
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    reauthorization_required: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Identifies the credentials that would be sent to the token endpoint (not reversible)."""
        return credentials_fingerprint(self.client_id, self.client_secret, self.refresh_token)

    @property
    def awaiting_reauthorization(self) -> bool:
        """The token endpoint rejected exactly these credentials as terminal."""
        return self.reauthorization_required == self.fingerprint


def credentials_fingerprint(client_id: str, client_secret: str, refresh_token: str | None) -> str:
    material = "\0".join((client_id, client_secret, refresh_token or "")).encode()
    return hashlib.sha256(b"jiradrift-reauth\0" + material).hexdigest()[:32]


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """RFC 3339; a value without offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def decode_values(body: dict[str, Any], namespace: str, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (body.get("stringData") or {}).items():
        out[key] = str(value)
    for key, value in (body.get("data") or {}).items():
        try:
            out[key] = decode_secret_value(value)
        except (ValueError, TypeError) as exc:
            raise SecretFormatError(
                f"key {key!r} is not base64-encoded UTF-8 text ({type(exc).__name__}); "
                f"rewrite it with `kubectl create secret generic {name} --from-literal={key}=... "
                f"--dry-run=client -o yaml | kubectl apply -n {namespace} -f -`"
            ) from exc
    return out


def parse_secret(body: dict[str, Any], kind: AuthKind) -> TokenSecret:
    """Read a Secret (the API server's JSON) for ``kind``; raises :class:`SecretFormatError`."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    values = decode_values(body, namespace, name)
    remember_secrets(values)
    missing = [key for key in REQUIRED_KEYS[kind] if not values.get(key, "").strip()]
    if missing:
        fix = (
            f"run `jiradrift auth login --tenant <tenant> -n {namespace}` to write them"
            if kind is AuthKind.OAUTH
            else "add them to the Secret"
        )
        raise SecretFormatError(
            f"{kind.value} needs the key(s) {', '.join(missing)}, which are missing or empty; {fix}"
        )
    if 0 < len(values.get(ACCESS_TOKEN, "").strip()) < MIN_LENGTH:
        # an access token that short cannot be kept out of messages: never used, the next refresh replaces it
        values.pop(ACCESS_TOKEN)
    short = too_short(values)
    if short:
        raise SecretFormatError(
            f"key(s) {', '.join(short)} hold fewer than {MIN_LENGTH} characters; a credential that short is "
            "guessable and cannot be told apart from ordinary words to keep it out of messages, so it is not "
            "used (Atlassian tokens and secrets are far longer)"
        )
    expires_at: datetime | None = None
    raw_expiry = values.get(EXPIRES_AT, "").strip()
    if raw_expiry:
        try:
            expires_at = parse_time(raw_expiry)
        except ValueError as exc:
            raise SecretFormatError(
                f"key {EXPIRES_AT!r} is {raw_expiry[:40]!r}, not an RFC 3339 time such as "
                f"2026-01-05T10:00:00Z; delete the key and the next refresh rewrites it"
            ) from exc
    annotations = meta.get("annotations") or {}
    return TokenSecret(
        namespace=namespace,
        name=name,
        resource_version=str(meta.get("resourceVersion", "")),
        kind=kind,
        client_id=values.get(CLIENT_ID, values.get(EMAIL, "")).strip(),
        client_secret=values.get(CLIENT_SECRET, values.get(TOKEN, "")).strip(),
        refresh_token=values.get(REFRESH_TOKEN, "").strip() or None,
        access_token=values.get(ACCESS_TOKEN, "").strip() or None,
        expires_at=expires_at,
        scope=values.get(SCOPE),
        reauthorization_required=annotations.get(REAUTH_ANNOTATION),
        raw=body,
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def updated_secret_body(
    current: dict[str, Any],
    values: dict[str, str],
    *,
    annotations: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """A full Secret for PUT: ``current`` with ``values`` set, carrying its resourceVersion as precondition.

    An annotation mapped to ``None`` is removed. ``stringData`` is folded into ``data``.
    """
    meta = dict(current.get("metadata") or {})
    meta.pop("managedFields", None)
    notes = dict(meta.get("annotations") or {})
    for key, value in (annotations or {}).items():
        if value is None:
            notes.pop(key, None)
        else:
            notes[key] = value
    meta["annotations"] = notes
    data = dict(current.get("data") or {})
    for key, value in (current.get("stringData") or {}).items():
        data[key] = _b64(str(value))
    for key, value in values.items():
        data[key] = _b64(value)
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": current.get("type", "Opaque"),
        "data": data,
    }
    if current.get("immutable") is not None:
        body["immutable"] = current["immutable"]
    return body
