"""Building blocks for Atlassian's OAuth 2.0 token endpoint (the token lifecycle lives in jiradrift.tokens).

    tokens = await exchange_authorization_code(client_id=..., client_secret=..., code=..., redirect_uri=...)
    tokens = await refresh_access_token(client_id=..., client_secret=..., refresh_token=tokens.refresh_token)
    tokens = await request_client_credentials_token(client_id=..., client_secret=...)

Refresh tokens rotate: the one sent is disabled, so persist ``TokenResponse.refresh_token``
before using the new access token. ``invalid_grant`` / ``unauthorized_client`` /
``invalid_client`` raise :class:`ReauthorizationRequired`, which is terminal: never retry it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import orjson
from pydantic import BaseModel

from jiradrift.jira.errors import OAuthError, ReauthorizationRequired
from jiradrift.jira.transport import default_ssl_context

DEFAULT_TOKEN_URL = "https://auth.atlassian.com/oauth/token"
TERMINAL_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "invalid_client", "access_denied"})
WRITE_SCOPE_PREFIXES = ("write:", "manage:", "delete:")


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = None
    expires_in: int = 3600
    scope: str = ""
    token_type: str = "Bearer"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def __repr__(self) -> str:  # never print a token
        rotated = self.refresh_token is not None
        return f"TokenResponse(expires_in={self.expires_in}, scope={self.scope!r}, rotated={rotated})"

    __str__ = __repr__


def is_write_scope(scope: str) -> bool:
    """Classic ``write:*`` / ``manage:*`` and granular ``write:*`` / ``delete:*`` scopes can change Jira."""
    return scope.strip().lower().startswith(WRITE_SCOPE_PREFIXES)


def write_scopes(scopes: Iterable[str] | str) -> list[str]:
    """The write-capable scopes among ``scopes`` (a list, or the space-separated ``scope`` string)."""
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return sorted({s for s in items if is_write_scope(s)})


async def _post_token(body: dict[str, Any], token_url: str, http: httpx.AsyncClient | None) -> TokenResponse:
    own = http is None
    client = http or httpx.AsyncClient(timeout=30.0, verify=default_ssl_context())
    try:
        try:
            response = await client.post(token_url, json=body, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OAuthError("unreachable", f"{type(exc).__name__}: {exc}", 0, f"check {token_url}") from exc
    finally:
        if own:
            await client.aclose()
    try:
        payload = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if response.status_code >= 400:
        error = str(payload.get("error") or f"http_{response.status_code}")
        description = str(payload.get("error_description") or response.text[:200])
        if error in TERMINAL_ERRORS:
            raise ReauthorizationRequired(error, description, response.status_code)
        hint = "transient: retry later" if response.status_code >= 500 or response.status_code == 429 else ""
        raise OAuthError(error, description, response.status_code, hint)
    if "access_token" not in payload:
        raise OAuthError("malformed_response", f"no access_token in the answer from {token_url}", response.status_code)
    return TokenResponse.model_validate(payload)


async def exchange_authorization_code(
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    token_url: str = DEFAULT_TOKEN_URL,
    http: httpx.AsyncClient | None = None,
) -> TokenResponse:
    """3LO step 3: trade the one-time authorization code for access (and, with offline_access, refresh) tokens."""
    body = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    return await _post_token(body, token_url, http)


async def refresh_access_token(
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    token_url: str = DEFAULT_TOKEN_URL,
    http: httpx.AsyncClient | None = None,
) -> TokenResponse:
    """Rotate: returns a new access token and a new refresh token (the old one is now disabled).

    If Atlassian omits the new refresh token (it occasionally does), the old one stays valid and
    is returned in its place.
    """
    body = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    tokens = await _post_token(body, token_url, http)
    if not tokens.refresh_token:
        tokens = tokens.model_copy(update={"refresh_token": refresh_token})
    return tokens


async def request_client_credentials_token(
    *,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
    audience: str = "api.atlassian.com",
    token_url: str = DEFAULT_TOKEN_URL,
    http: httpx.AsyncClient | None = None,
) -> TokenResponse:
    """Service-account client credentials: a ~60 minute access token, no refresh token to rotate."""
    body: dict[str, Any] = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "audience": audience,
    }
    if scope:
        body["scope"] = scope
    return await _post_token(body, token_url, http)
