"""Building blocks for Atlassian's OAuth 2.0 token endpoint (the token lifecycle lives in jiradrift.tokens).

    tokens = await exchange_authorization_code(client_id=..., client_secret=..., code=..., redirect_uri=...)
    tokens = await refresh_access_token(client_id=..., client_secret=..., refresh_token=tokens.refresh_token)
    tokens = await request_client_credentials_token(client_id=..., client_secret=...)

Refresh tokens rotate: the one sent is disabled, so persist ``TokenResponse.refresh_token``
before using the new access token. ``invalid_grant`` / ``unauthorized_client`` /
``invalid_client`` raise :class:`ReauthorizationRequired`, which is terminal: never retry it.

The token endpoint is a URL a tenant names, so it is untrusted like a Jira site: its answer is read
within ``TOKEN_LIMITS`` (1 MiB after decompression, 30 s for the whole exchange, JSON depth 64)
by the same bounded reader as Jira responses; breaking one is an :class:`OAuthError`
(``unusable_response``), transient like any other token-endpoint failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import orjson
from pydantic import BaseModel

from jiradrift.jira.errors import MalformedResponse, OAuthError, ReauthorizationRequired, SiteMisbehaved
from jiradrift.jira.limits import ACCEPT_ENCODING, MiB, ResponseLimits, deadline, loads_json, read_response
from jiradrift.net.transport import outbound_client
from jiradrift.redact import MIN_LENGTH, clip, too_short

DEFAULT_TOKEN_URL = "https://auth.atlassian.com/oauth/token"
TERMINAL_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "invalid_client", "access_denied"})
WRITE_SCOPE_PREFIXES = ("write:", "manage:", "delete:")
# A token answer is a few hundred bytes; these bound what a hostile token endpoint can cost.
TOKEN_LIMITS = ResponseLimits(max_body_bytes=1 * MiB, request_deadline=30.0)


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


async def _exchange(
    client: httpx.AsyncClient, token_url: str, body: dict[str, Any], limits: ResponseLimits
) -> tuple[int, bytes]:
    """POST ``body``; the status and the (bounded, decoded) answer."""
    headers = {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
    async with deadline(limits.request_deadline, "POST", token_url):
        async with client.stream("POST", token_url, json=body, headers=headers) as response:
            return response.status_code, await read_response(response, limits.max_body_bytes, "POST", token_url)


async def _post_token(
    body: dict[str, Any], token_url: str, http: httpx.AsyncClient | None, limits: ResponseLimits = TOKEN_LIMITS
) -> TokenResponse:
    own = http is None
    client = http or outbound_client(timeout=30.0)
    try:
        try:
            status, content = await _exchange(client, token_url, body, limits)
            payload = loads_json(content, limits.max_depth, "POST", token_url) if content else {}
        except httpx.HTTPError as exc:
            raise OAuthError("unreachable", f"{type(exc).__name__}: {exc}", 0, f"check {token_url}") from exc
        except (SiteMisbehaved, MalformedResponse) as exc:
            raise OAuthError(
                "unusable_response", str(exc), 0, f"the token endpoint {token_url} is broken or hostile"
            ) from exc
        except orjson.JSONDecodeError:
            payload = {}
    finally:
        if own:
            await client.aclose()
    if not isinstance(payload, dict):
        payload = {}
    if status >= 400:
        error = str(payload.get("error") or f"http_{status}")
        # redact, then cut: a cut inside an echoed secret would leave a prefix no redaction recognises
        description = clip(str(payload.get("error_description") or content.decode(errors="replace")), 500)
        if error in TERMINAL_ERRORS:
            raise ReauthorizationRequired(error, description, status)
        hint = "transient: retry later" if status >= 500 or status == 429 else ""
        raise OAuthError(error, description, status, hint)
    if "access_token" not in payload:
        raise OAuthError("malformed_response", f"no access_token in the answer from {token_url}", status)
    tokens = TokenResponse.model_validate(payload)
    short = too_short({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token or ""})
    if short:
        raise OAuthError(
            "unusable_response",
            f"{' and '.join(short)} in the answer from {token_url} hold fewer than {MIN_LENGTH} characters, "
            "too short to be a token or to be kept out of messages",
            status,
            f"the token endpoint {token_url} is broken or hostile",
        )
    return tokens


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
    limits: ResponseLimits = TOKEN_LIMITS,
) -> TokenResponse:
    """Rotate: returns a new access token and a new refresh token (the old one is now disabled).

    If Atlassian omits the new refresh token (it occasionally does), the old one stays valid and
    is returned in its place. ``limits``: what the answer may cost (size, depth, deadline).
    """
    body = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    tokens = await _post_token(body, token_url, http, limits)
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
