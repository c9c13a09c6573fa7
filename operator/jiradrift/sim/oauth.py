"""The Atlassian authorization server, as far as a token-holding client can see it.

Implements ``/oauth/token`` grants (authorization_code, rotating refresh_token, client_credentials)
and the access-token table the API side checks. Rotation follows Atlassian's rules: every refresh
returns a new refresh token; the one just used keeps working for a 10-minute reuse window; reusing it
after that revokes every refresh token of the grant (``403 invalid_grant``), and the user must consent
again. Time comes from an injected clock so tests can cross those windows instantly.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from jiradrift.sim.clock import Clock
from jiradrift.sim.errors import OAuthError

REUSE_WINDOW_S = 600.0
REFRESH_IDLE_S = 90 * 86400.0
REFRESH_ABSOLUTE_S = 365 * 86400.0
CODE_TTL_S = 600.0


@dataclass
class AccessToken:
    token: str
    principal: str
    scopes: frozenset[str]
    expires_at: float
    grant_id: str | None


@dataclass
class _RefreshToken:
    token: str
    issued_at: float
    rotated_at: float | None = None  # when it was first used; None while it is the current one


@dataclass
class Grant:
    """One user's consent for one app: the chain of refresh tokens lives and dies together."""

    grant_id: str
    principal: str
    scopes: frozenset[str]
    created_at: float
    last_used_at: float
    refresh_tokens: dict[str, _RefreshToken] = field(default_factory=dict)
    revoked: bool = False
    revoked_reason: str = ""


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": self.scope,
        }
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        return out


class AuthorizationServer:
    def __init__(
        self,
        *,
        clock: Clock,
        access_token_ttl: int,
        client_id: str,
        client_secret: str,
        sa_client_id: str,
        sa_client_secret: str,
        sa_scopes: Iterable[str],
        default_scopes: Iterable[str],
    ) -> None:
        self.clock = clock
        self.access_token_ttl = access_token_ttl
        self.client_id = client_id
        self.client_secret = client_secret
        self.sa_client_id = sa_client_id
        self.sa_client_secret = sa_client_secret
        self.sa_scopes = frozenset(sa_scopes)
        self.default_scopes = frozenset(default_scopes)
        self._lock = threading.Lock()  # the test thread creates grants while the server thread serves
        self._codes: dict[str, tuple[frozenset[str], float, str]] = {}
        self._grants: dict[str, Grant] = {}
        self._refresh_index: dict[str, str] = {}  # refresh token -> grant id
        self._access: dict[str, AccessToken] = {}

    # ------------------------------------------------------------------ issuing

    def issue_code(self, scopes: Iterable[str] | None = None, principal: str = "user:admin") -> str:
        """What the consent screen would hand the app's callback."""
        code = "code-" + secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (self._scopes(scopes), self.clock.now(), principal)
        return code

    def create_grant(self, scopes: Iterable[str] | None = None, principal: str = "user:admin") -> str:
        """A fresh 3LO grant; returns its first refresh token (as if the code was just exchanged)."""
        with self._lock:
            grant = self._new_grant(self._scopes(scopes), principal)
            return self._new_refresh(grant)

    def issue_access_token(
        self, scopes: Iterable[str] | None = None, principal: str = "user:admin", ttl: float | None = None
    ) -> str:
        """An access token without going through a grant, for tests of scope enforcement."""
        with self._lock:
            return self._new_access(principal, self._scopes(scopes), None, ttl).token

    def _scopes(self, scopes: Iterable[str] | None) -> frozenset[str]:
        return self.default_scopes if scopes is None else frozenset(scopes)

    def _new_grant(self, scopes: frozenset[str], principal: str) -> Grant:
        now = self.clock.now()
        grant = Grant("grant-" + secrets.token_hex(6), principal, scopes, now, now)
        self._grants[grant.grant_id] = grant
        return grant

    def _new_refresh(self, grant: Grant) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        grant.refresh_tokens[token] = _RefreshToken(token, self.clock.now())
        self._refresh_index[token] = grant.grant_id
        return token

    def _new_access(
        self, principal: str, scopes: frozenset[str], grant_id: str | None, ttl: float | None = None
    ) -> AccessToken:
        token = AccessToken(
            "at-" + secrets.token_urlsafe(24),
            principal,
            scopes,
            self.clock.now() + (self.access_token_ttl if ttl is None else ttl),
            grant_id,
        )
        self._access[token.token] = token
        return token

    # ---------------------------------------------------------- /oauth/token

    def token(self, form: dict[str, str]) -> TokenResponse:
        grant_type = form.get("grant_type", "")
        with self._lock:
            if grant_type == "authorization_code":
                return self._authorization_code(form)
            if grant_type == "refresh_token":
                return self._refresh(form)
            if grant_type == "client_credentials":
                return self._client_credentials(form)
        raise OAuthError(
            400,
            "unsupported_grant_type",
            f"grant_type {grant_type!r} is not supported; use authorization_code, refresh_token or client_credentials",
        )

    def _check_client(self, form: dict[str, str]) -> None:
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise OAuthError(401, "access_denied", "Unauthorized: client_id or client_secret is wrong")

    def _authorization_code(self, form: dict[str, str]) -> TokenResponse:
        self._check_client(form)
        entry = self._codes.pop(form.get("code", ""), None)
        if entry is None or self.clock.now() - entry[1] > CODE_TTL_S:
            raise OAuthError(400, "invalid_request", "authorization_code is invalid")
        scopes, _, principal = entry
        grant = self._new_grant(scopes, principal)
        refresh = self._new_refresh(grant) if "offline_access" in scopes else None
        access = self._new_access(principal, scopes, grant.grant_id)
        return TokenResponse(access.token, self.access_token_ttl, " ".join(sorted(scopes)), refresh)

    def _refresh(self, form: dict[str, str]) -> TokenResponse:
        self._check_client(form)
        presented = form.get("refresh_token", "")
        now = self.clock.now()
        grant = self._grants.get(self._refresh_index.get(presented, ""))
        if grant is None or grant.revoked:
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        rt = grant.refresh_tokens[presented]
        if now - grant.created_at > REFRESH_ABSOLUTE_S or now - grant.last_used_at > REFRESH_IDLE_S:
            self._revoke(grant, "expired")
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        if rt.rotated_at is not None and now - rt.rotated_at > REUSE_WINDOW_S:
            # Reuse of a rotated token outside the leeway looks like theft: kill the whole chain.
            self._revoke(grant, "reuse after rotation window")
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        if rt.rotated_at is None:
            rt.rotated_at = now
        grant.last_used_at = now
        new_refresh = self._new_refresh(grant)
        access = self._new_access(grant.principal, grant.scopes, grant.grant_id)
        return TokenResponse(access.token, self.access_token_ttl, " ".join(sorted(grant.scopes)), new_refresh)

    def _revoke(self, grant: Grant, reason: str) -> None:
        grant.revoked = True
        grant.revoked_reason = reason

    def _client_credentials(self, form: dict[str, str]) -> TokenResponse:
        if form.get("client_id") != self.sa_client_id or form.get("client_secret") != self.sa_client_secret:
            raise OAuthError(401, "access_denied", "Unauthorized: unknown service account client credentials")
        requested = form.get("scope")
        scopes = self.sa_scopes if not requested else frozenset(requested.split()) & self.sa_scopes
        access = self._new_access("serviceaccount:" + self.sa_client_id, scopes, None)
        return TokenResponse(access.token, self.access_token_ttl, " ".join(sorted(scopes)), None)

    # ------------------------------------------------------------- checking

    def access_token(self, token: str) -> AccessToken | None:
        """The live access token, or None when unknown or expired."""
        found = self._access.get(token)
        if found is None or found.expires_at <= self.clock.now():
            return None
        return found

    def grant_of_refresh_token(self, refresh_token: str) -> Grant | None:
        return self._grants.get(self._refresh_index.get(refresh_token, ""))

    def revoke_grant_of(self, refresh_token: str) -> None:
        """What a password change does: every refresh token of the grant stops working."""
        with self._lock:
            grant = self.grant_of_refresh_token(refresh_token)
            if grant is not None:
                self._revoke(grant, "revoked by admin")
