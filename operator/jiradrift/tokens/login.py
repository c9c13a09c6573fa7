"""``jiradrift auth login``: the OAuth 2.0 (3LO) consent, so nobody pastes a refresh token by hand.

    result = await login(api, "team-a", "acme", client_id=..., client_secret=..., announce=print)

1. A callback server listens on ``http://127.0.0.1:<port>/callback`` (loopback only).
2. The authorize URL (``<auth base>/authorize?...&state=<random>``) is announced; the admin opens
   it and consents.
3. The callback checks ``state``, the code is exchanged at the tenant's token endpoint, and the
   tenant's Secret is written: ``client_id``, ``client_secret``, ``refresh_token``,
   ``access_token``, ``expires_at``, ``scope`` (the revoked-grant marker is removed, so the
   refresher tries the new credentials at once).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
from aiohttp import web

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION, opt_in_message, secret_opts_in
from jiradrift.api.resources import GROUP
from jiradrift.clock import SystemClock, WallClock
from jiradrift.jira.oauth import exchange_authorization_code, write_scopes
from jiradrift.kube.client import Kube, KubeError
from jiradrift.net.hosts import HostAllowlist, HostRefused
from jiradrift.net.transport import outbound_client
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.refresh import TokenRefresher
from jiradrift.tokens.scopes import LOGIN_SCOPES, OFFLINE_ACCESS
from jiradrift.tokens.secret import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    EXPIRES_AT,
    REAUTH_ANNOTATION,
    REFRESH_TOKEN,
    SCOPE,
    AuthKind,
    SecretFormatError,
    decode_values,
    format_time,
    parse_secret,
    updated_secret_body,
)
from jiradrift.tokens.tenant import read_tenant, tenant_auth

log = logging.getLogger("jiradrift.tokens.login")

DEFAULT_PORT = 8976
CALLBACK_PATH = "/callback"
AUDIENCE = "api.atlassian.com"


class LoginError(Exception):
    """The consent could not be completed; the message says what to change."""


@dataclass(frozen=True)
class LoginResult:
    secret: str
    created: bool
    scopes: tuple[str, ...]
    expires_at: datetime
    write_scopes: tuple[str, ...] = field(default=())


def auth_base_from_token_url(token_url: str) -> str:
    """``https://auth.atlassian.com/oauth/token`` -> ``https://auth.atlassian.com``."""
    base = token_url.rstrip("/")
    return base[: -len("/oauth/token")] if base.endswith("/oauth/token") else base


def authorize_url(auth_base: str, *, client_id: str, scopes: Sequence[str], redirect_uri: str, state: str) -> str:
    query = {
        "audience": AUDIENCE,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
    }
    return f"{auth_base.rstrip('/')}/authorize?{urlencode(query)}"


class CallbackServer:
    """Receives the one redirect carrying ``code`` and ``state`` on 127.0.0.1."""

    def __init__(self, state: str, port: int) -> None:
        self.state = state
        self.port = port
        self.code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> CallbackServer:
        app = web.Application()
        app.router.add_get(CALLBACK_PATH, self._callback)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise LoginError(
                f"cannot listen on 127.0.0.1:{self.port} ({exc}); pass another --port and register "
                f"http://127.0.0.1:<port>{CALLBACK_PATH} as the app's callback URL"
            ) from exc
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def _callback(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("state") != self.state:
            return web.Response(status=400, text="state does not match this login; start `jiradrift auth login` again")
        if self.code.done():
            return web.Response(text="Already received; you can close this window.")
        if query.get("error"):
            self.code.set_exception(
                LoginError(
                    f"consent was not given: {query.get('error')} {query.get('error_description', '')}; "
                    "run `jiradrift auth login` again and accept"
                )
            )
            return web.Response(status=400, text="Consent was not given; see the terminal.")
        code = query.get("code", "")
        if not code:
            return web.Response(status=400, text="no code in the callback")
        self.code.set_result(code)
        return web.Response(text="jiradrift: authorised. You can close this window and return to the terminal.")


async def login(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    scopes: Sequence[str] = LOGIN_SCOPES,
    port: int = DEFAULT_PORT,
    auth_base: str | None = None,
    timeout: float = 300.0,
    announce: Callable[[str], None] = print,
    http: httpx.AsyncClient | None = None,
    clock: WallClock | None = None,
    allowlist: HostAllowlist | None = None,
) -> LoginResult:
    """Run the consent for JiraTenant ``namespace/name`` and write its oauth Secret.

    The tenant's tokenUrl must be on ``allowlist`` (default: Atlassian Cloud) and an existing Secret
    must opt in to the tenant: whoever wrote the JiraTenant could otherwise have the person logging in
    send an app's client secret elsewhere. A Secret created here opts in to this tenant.
    """
    ops = KubeOps(kube)
    key = f"{namespace}/{name}"
    body = await ops.get_tenant(namespace, name)
    if body is None:
        raise LoginError(f"JiraTenant {key} does not exist; create it (spec.auth.oauth.secretRef) first")
    tenant = read_tenant(body)
    ref = tenant_auth(tenant)
    if ref.kind is not AuthKind.OAUTH:
        raise LoginError(
            f"JiraTenant {key} uses spec.auth.{ref.kind.value}; `auth login` is for spec.auth.oauth (3LO) only"
        )
    try:
        (allowlist or HostAllowlist()).check(ref.token_url, "spec.auth.oauth.tokenUrl")
    except HostRefused as exc:
        raise LoginError(f"JiraTenant {key}: {exc.message}") from None
    existing = await ops.get_secret(namespace, ref.secret_name)
    known: dict[str, str] = {}
    if existing is not None:
        notes = (existing.get("metadata") or {}).get("annotations")
        if not secret_opts_in(notes, name):
            raise LoginError(opt_in_message(namespace, ref.secret_name, name, notes))
        try:
            known = decode_values(existing, namespace, ref.secret_name)
        except SecretFormatError:
            known = {}
    client_id = client_id or known.get(CLIENT_ID, "").strip()
    client_secret = client_secret or known.get(CLIENT_SECRET, "").strip()
    if not client_id or not client_secret:
        raise LoginError(
            f"no OAuth client for JiraTenant {key}: pass --client-id and put the secret in the environment "
            f"variable named by --client-secret-env (Secret {namespace}/{ref.secret_name} has none yet)"
        )
    wanted = list(dict.fromkeys(scopes))
    if OFFLINE_ACCESS not in wanted:
        wanted.append(OFFLINE_ACCESS)  # without it Atlassian issues no refresh token
    clock = clock or SystemClock()
    state = secrets.token_urlsafe(24)
    async with CallbackServer(state, port) as callback:
        url = authorize_url(
            auth_base or auth_base_from_token_url(ref.token_url),
            client_id=client_id,
            scopes=wanted,
            redirect_uri=callback.redirect_uri,
            state=state,
        )
        announce(url)
        try:
            code = await asyncio.wait_for(callback.code, timeout)
        except TimeoutError:
            raise LoginError(f"no callback within {timeout:.0f}s; open the URL above and accept") from None
        started = clock.now()
        tokens = await exchange_authorization_code(
            client_id=client_id,
            client_secret=client_secret,
            code=code,
            redirect_uri=callback.redirect_uri,
            token_url=ref.token_url,
            http=http,
        )
    if not tokens.refresh_token:
        raise LoginError(
            "the token endpoint issued no refresh token: add the offline_access scope to the app and log in again"
        )
    expires_at = started + timedelta(seconds=max(0, tokens.expires_in))
    values = {
        CLIENT_ID: client_id,
        CLIENT_SECRET: client_secret,
        REFRESH_TOKEN: tokens.refresh_token,
        ACCESS_TOKEN: tokens.access_token,
        EXPIRES_AT: format_time(expires_at),
        SCOPE: tokens.scope,
    }
    written, created = await _write_secret(ops, namespace, ref.secret_name, values, existing, tenant=name)
    secret = parse_secret(written, AuthKind.OAUTH)
    own = http is None
    client = http or outbound_client(timeout=30.0)
    try:
        await TokenRefresher(kube, http=client, clock=clock).publish(tenant, secret, refreshed_at=started)
    finally:
        if own:
            await client.aclose()
    return LoginResult(
        secret=f"{namespace}/{ref.secret_name}",
        created=created,
        scopes=tuple(tokens.scopes),
        expires_at=expires_at,
        write_scopes=tuple(write_scopes(tokens.scopes)),
    )


async def _write_secret(
    ops: KubeOps,
    namespace: str,
    name: str,
    values: dict[str, str],
    existing: dict[str, object] | None,
    *,
    tenant: str,
) -> tuple[dict[str, object], bool]:
    """Create the Secret, or update it in place (the new grant replaces whatever was there)."""
    current = existing
    for _ in range(5):
        if current is None:
            body = updated_secret_body(
                {
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": {f"{GROUP}/credentials": "oauth"},
                        "annotations": {ALLOWED_TENANTS_ANNOTATION: tenant},
                    }
                },
                values,
            )
            try:
                return await ops.create_secret(namespace, body), True
            except KubeError as exc:
                if not exc.conflict:
                    raise
                current = await ops.get_secret(namespace, name)
                continue
        body = updated_secret_body(dict(current), values, annotations={REAUTH_ANNOTATION: None})
        try:
            return await ops.replace_secret(body), False
        except KubeError as exc:
            if not exc.conflict:
                raise
            current = await ops.get_secret(namespace, name)
    raise LoginError(f"Secret {namespace}/{name} kept changing while it was being written; run the login again")
