"""Where a client gets its ``Authorization`` header: fixed for basic/3LO/PAT, minted for service accounts."""

from __future__ import annotations

import asyncio
from typing import Protocol

import httpx

from jiradrift.clock import Clock
from jiradrift.jira.auth import Credentials, ServiceAccountAuth
from jiradrift.jira.oauth import DEFAULT_TOKEN_URL, request_client_credentials_token


class TokenSource(Protocol):
    async def authorization(self, *, renew: bool = False) -> str:
        """The header value; ``renew=True`` after a 401 asks for a fresh credential if one can be had."""

    @property
    def renewable(self) -> bool: ...


class StaticAuthorization:
    def __init__(self, header: str) -> None:
        self._header = header

    async def authorization(self, *, renew: bool = False) -> str:
        return self._header

    @property
    def renewable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticAuthorization(***)"


class ClientCredentialsSource:
    """Mints service-account tokens, single-flight, and re-mints 5 minutes before expiry or after a 401."""

    def __init__(
        self,
        credentials: ServiceAccountAuth,
        clock: Clock,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        http: httpx.AsyncClient | None = None,
        early: float = 300.0,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._token_url = token_url
        self._http = http
        self._early = early
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.minted = 0
        self.scope = ""

    @property
    def renewable(self) -> bool:
        return True

    async def authorization(self, *, renew: bool = False) -> str:
        stale_token = self._token
        async with self._lock:
            fresh = self._token is not None and self._clock.monotonic() < self._expires - self._early
            if renew and self._token == stale_token:
                fresh = False
            if not fresh:
                tokens = await request_client_credentials_token(
                    client_id=self._credentials.client_id,
                    client_secret=self._credentials.client_secret,
                    scope=self._credentials.scope,
                    token_url=self._token_url,
                    http=self._http,
                )
                self._token = tokens.access_token
                self._expires = self._clock.monotonic() + tokens.expires_in
                self.scope = tokens.scope
                self.minted += 1
            assert self._token is not None
            return f"Bearer {self._token}"


def token_source_for(
    credentials: Credentials,
    clock: Clock,
    *,
    token_url: str = DEFAULT_TOKEN_URL,
    http: httpx.AsyncClient | None = None,
) -> TokenSource:
    if isinstance(credentials, ServiceAccountAuth):
        return ClientCredentialsSource(credentials, clock, token_url=token_url, http=http)
    return StaticAuthorization(credentials.header())
