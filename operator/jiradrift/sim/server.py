"""The aiohttp application: URL forms, authentication, scope checks, faults and the request log
wrapped around the operations in :mod:`jiradrift.sim.routes`.

Each operation is mounted under ``/rest/api/{2,3}`` (site form: Basic email + API token, or a
Data Center PAT as Bearer) and ``/ex/jira/{cloudId}/rest/api/{2,3}`` (gateway form: OAuth Bearer
tokens, scope-checked). One closure per route instead of middlewares keeps a simple page well above
1,000 requests/s on one core.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from jiradrift.sim.burst import BurstLimiter
from jiradrift.sim.clock import Clock
from jiradrift.sim.cost import CostBudget
from jiradrift.sim.errors import JiraError, OAuthError
from jiradrift.sim.faults import HOSTILE_KINDS, HTML_429, Faults
from jiradrift.sim.hostile import respond
from jiradrift.sim.oauth import AuthorizationServer
from jiradrift.sim.requestlog import RequestLog, RequestRecord
from jiradrift.sim.routes import OPERATIONS, Call, Handler
from jiradrift.sim.scopes import OperationScopes, scopes_for
from jiradrift.sim.site import ADMIN_ACCOUNT_ID, Site
from jiradrift.sim.usages import status_usages  # noqa: F401  (registers the usage operations)

API_PREFIX = "/rest/api/3"
Deps = Callable[[], Any]


@dataclass
class Credentials:
    """What a client needs to talk to the emulator, for every auth style it supports."""

    email: str
    api_token: str
    client_id: str
    client_secret: str
    refresh_token: str  # a fresh 3LO grant with the default (read-only granular) scopes
    sa_client_id: str
    sa_client_secret: str
    pat: str


@dataclass
class ServerState:
    site: Site
    oauth: AuthorizationServer
    faults: Faults
    requests: RequestLog
    clock: Clock
    credentials: Credentials
    latency_s: float = 0.0
    burst: BurstLimiter | None = None  # Jira's per-endpoint burst limit; None = unlimited
    cost: CostBudget | None = None  # Jira's points quota (per request and per object); None = unlimited


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


@dataclass(frozen=True)
class _Principal:
    name: str
    scopes: frozenset[str] | None  # None: not scope-limited (basic auth / PAT)


def _authenticate(state: ServerState, request: web.Request, gateway: bool) -> _Principal | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    creds = state.credentials
    if scheme.lower() == "basic" and not gateway:
        try:
            email, _, token = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if email == creds.email and token == creds.api_token:
            return _Principal("user:" + email, None)
        return None
    if scheme.lower() == "bearer":
        if not gateway:
            # Site form: only a Data Center PAT works; 3LO tokens do not work against <site>.atlassian.net.
            return _Principal("pat:admin", None) if value == creds.pat else None
        access = state.oauth.access_token(value)
        if access is not None:
            return _Principal(access.principal, access.scopes)
    return None


def _fault_response(state: ServerState, method: str, api_path: str) -> web.Response | None:
    rule = state.faults.pick(method, api_path, ("rate_limit", "server_error", "fail"))
    if rule is None:
        return None
    headers: dict[str, str] = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)
    if rule.retry_after_text:
        headers["Retry-After"] = rule.retry_after_text
    if rule.kind == "rate_limit":
        headers["RateLimit-Reason"] = rule.reason
        reset = datetime.fromtimestamp(state.clock.now() + (rule.retry_after or 0), UTC)
        headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
        if "quota" in rule.reason:
            headers["Beta-RateLimit-Policy"] = '"tenant-app-quota";q=65000;w=3600'
            headers["Beta-RateLimit"] = f'"tenant-app-quota";r=0;t={rule.retry_after or 0}'
        if rule.html:
            return web.Response(text=HTML_429, status=429, content_type="text/html", headers=headers)
        return _json(JiraError(429, "Rate limit exceeded.").body(), 429, headers)
    message = "Internal server error" if rule.kind == "fail" else "Service temporarily unavailable"
    return _json(JiraError(rule.status, message).body(), rule.status, headers)


def make_api_handler(
    state: ServerState, method: str, spec_suffix: str, fn: Handler, *, gateway: bool
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    spec_path = API_PREFIX + spec_suffix
    operation = f"{method} {spec_path}"
    needed: OperationScopes = scopes_for(method, spec_path)
    anonymous_ok = spec_suffix == "/serverInfo"

    async def handler(request: web.Request) -> web.StreamResponse:
        params = dict(request.match_info)
        cloud_id = params.pop("cloudId", None)
        params.pop("version", None)
        api_path = API_PREFIX + request.path.split("/rest/api/", 1)[1][1:]
        principal = None
        response: web.StreamResponse
        try:
            if state.latency_s:
                await asyncio.sleep(state.latency_s)
            extra = state.faults.extra_latency(method, api_path)
            if extra:
                await asyncio.sleep(extra)
            if gateway and cloud_id != state.site.cloud_id:
                raise JiraError(
                    404,
                    f"No Jira site with cloudId '{cloud_id}'; use the id from "
                    "/_edge/tenant_info or /oauth/token/accessible-resources.",
                )
            principal = _authenticate(state, request, gateway)
            if principal is None and not anonymous_ok:
                raise JiraError(
                    401,
                    "You are not authenticated. Authentication required to perform this operation."
                    if not gateway
                    else "Unauthorized; the Bearer token is missing, unknown or expired. Refresh it at /oauth/token.",
                )
            if principal is not None and principal.scopes is not None and not needed.allows(principal.scopes):
                raise JiraError(403, f"Unauthorized; scope does not match. {operation} needs {needed.describe()}.")
            if state.burst is not None and not state.burst.admit(operation):
                raise JiraError(
                    429, "Rate limit exceeded.", headers={"Retry-After": "1", "RateLimit-Reason": "jira-burst-based"}
                )
            faulted = _fault_response(state, method, api_path)
            if faulted is not None:
                response = faulted
            else:
                response = await _run(state, request, fn, spec_suffix, api_path, params, method)
        except JiraError as err:
            response = _json(err.body(), err.status, err.headers)
        if principal is not None and principal.name.startswith(("user:", "pat:")):
            response.headers["X-AAccountId"] = ADMIN_ACCOUNT_ID
        state.requests.add(
            RequestRecord(
                method,
                request.path,
                request.query_string,
                operation,
                principal.name if principal else None,
                response.status,
            )
        )
        return response

    return handler


async def _run(
    state: ServerState,
    request: web.Request,
    fn: Handler,
    spec_suffix: str,
    api_path: str,
    params: dict[str, str],
    method: str,
) -> web.StreamResponse:
    body = None
    if request.can_read_body:
        try:
            body = await request.json(loads=orjson.loads)
        except ValueError:
            raise JiraError(400, "The request body is not valid JSON.") from None
    bump_rule = state.faults.pick(method, api_path, ("changing_total",))
    call = Call(
        state.site,
        spec_suffix,
        request.path.split("/rest/api/", 1)[1][1:],
        request.query,
        params,
        body,
        state.clock.now(),
        total_bump=bump_rule.step * bump_rule.fired if bump_rule else 0,
    )
    result = fn(call)
    quota: dict[str, str] | None = None
    if state.cost is not None:
        quota = state.cost.charge(result)
        if quota is None:
            raise JiraError(429, "Rate limit exceeded.", headers=state.cost.rejection())
    hostile = state.faults.pick(method, api_path, HOSTILE_KINDS)
    if hostile is not None:
        return await respond(hostile, request, result)
    slow = state.faults.pick(method, api_path, ("timeout",))
    if slow is not None:
        await asyncio.sleep(slow.seconds)
    raw = orjson.dumps(result)
    if state.faults.pick(method, api_path, ("truncate",)) is not None:
        raw = raw[: max(1, len(raw) // 2)]
    return web.Response(body=raw, content_type="application/json", headers=quota)


# --------------------------------------------------------------- auth server routes


def _oauth_routes(state: ServerState) -> list[web.RouteDef]:
    async def token(request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            form = await request.json(loads=orjson.loads)
        else:
            form = dict(await request.post())
        response: web.StreamResponse
        try:
            result = state.oauth.token({k: str(v) for k, v in form.items()})
            hostile = state.faults.pick("POST", "/oauth/token", HOSTILE_KINDS)
            response = await respond(hostile, request, result.body()) if hostile else _json(result.body())
        except OAuthError as err:
            response = _json(err.body(), err.status)
        state.requests.add(
            RequestRecord("POST", request.path, "", "POST /oauth/token", str(form.get("client_id")), response.status)
        )
        return response

    async def accessible_resources(request: web.Request) -> web.Response:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        tok = state.oauth.access_token(value) if scheme.lower() == "bearer" else None
        if tok is None:
            response = _json({"code": 401, "message": "Unauthorized"}, 401)
        else:
            site = state.site
            response = _json(
                [
                    {
                        "id": site.cloud_id,
                        "name": site.title,
                        "url": site.base_url,
                        "scopes": sorted(tok.scopes),
                        "avatarUrl": f"{site.base_url}/avatar.png",
                    }
                ]
            )
        state.requests.add(
            RequestRecord(
                "GET",
                request.path,
                "",
                "GET /oauth/token/accessible-resources",
                tok.principal if tok else None,
                response.status,
            )
        )
        return response

    async def authorize(request: web.Request) -> web.Response:
        # Auto-consent: the user always clicks "Accept" and gets the scopes the app asked for.
        q = request.query
        if q.get("client_id") != state.oauth.client_id or not q.get("redirect_uri"):
            return _json(
                {
                    "error": "invalid_request",
                    "error_description": "unknown client_id or missing redirect_uri",
                },
                400,
            )
        code = state.oauth.issue_code(q.get("scope", "").split() or None)
        target = (
            q["redirect_uri"]
            + ("&" if "?" in q["redirect_uri"] else "?")
            + urlencode({"code": code, "state": q.get("state", "")})
        )
        raise web.HTTPFound(target)

    async def tenant_info(request: web.Request) -> web.Response:
        return _json({"cloudId": state.site.cloud_id})

    return [
        web.post("/oauth/token", token),
        web.get("/oauth/token/accessible-resources", accessible_resources),
        web.get("/authorize", authorize),
        web.get("/_edge/tenant_info", tenant_info),
    ]


def build_app(state: ServerState, extra_routes: list[web.RouteDef] | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    routes: list[web.RouteDef] = []
    for (method, suffix), fn in OPERATIONS.items():
        for version in ("2", "3"):
            routes.append(
                web.route(
                    method,
                    f"/rest/api/{version}{suffix}",
                    make_api_handler(state, method, suffix, fn, gateway=False),
                )
            )
            routes.append(
                web.route(
                    method,
                    f"/ex/jira/{{cloudId}}/rest/api/{version}{suffix}",
                    make_api_handler(state, method, suffix, fn, gateway=True),
                )
            )
    routes += _oauth_routes(state)
    routes += extra_routes or []
    app.add_routes(routes)
    return app
