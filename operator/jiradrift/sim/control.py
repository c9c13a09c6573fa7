"""The emulator's own HTTP interface under ``/_sim/``: admin mutations, faults, the request log,
OAuth grants and the clock, for a test or demo that drives an emulator in another process.
Never under ``/rest/api``, so a client under test cannot reach it by accident."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web

from jiradrift.sim.admin import Admin
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.cost import CostBudget
from jiradrift.sim.errors import JiraError
from jiradrift.sim.faults import HOSTILE_KINDS, FaultRule
from jiradrift.sim.server import ServerState

FAULT_SWITCHES = (
    "latency",
    "rate_limit",
    "quota",
    "server_error",
    "timeout",
    "truncate",
    "changing_total",
    "fail_object",
    "retry_after",
    *HOSTILE_KINDS,
)


def control_routes(state: ServerState, admin: Admin) -> list[web.RouteDef]:
    def reply(body: Any, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(body, default=str), status=status, content_type="application/json")

    async def kwargs_of(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        body = await request.json(loads=orjson.loads)
        if not isinstance(body, dict):
            raise JiraError(400, "The body must be a JSON object of keyword arguments.")
        return body

    async def mutate(request: web.Request) -> web.Response:
        try:
            return reply(admin.call(request.match_info["name"], await kwargs_of(request)))
        except JiraError as err:
            return reply(err.body(), err.status)

    async def add_fault(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FAULT_SWITCHES:
            return reply(JiraError(404, f"Unknown fault {name!r}; available: {', '.join(FAULT_SWITCHES)}.").body(), 404)
        try:
            rule: FaultRule = getattr(state.faults, name)(**await kwargs_of(request))
        except (TypeError, JiraError) as err:
            return reply(JiraError(400, f"Bad arguments for fault {name}: {err}.").body(), 400)
        return reply(asdict(rule))

    async def clear_faults(request: web.Request) -> web.Response:
        state.faults.clear()
        return reply({"cleared": True})

    async def requests_log(request: web.Request) -> web.Response:
        return reply({"counts": dict(state.requests.counts), "requests": [asdict(r) for r in state.requests]})

    async def clear_requests(request: web.Request) -> web.Response:
        state.requests.clear()
        return reply({"cleared": True})

    async def create_grant(request: web.Request) -> web.Response:
        kwargs = await kwargs_of(request)
        scopes = kwargs.get("scopes")
        refresh = state.oauth.create_grant(scopes.split() if isinstance(scopes, str) else scopes)
        return reply(
            {
                "refresh_token": refresh,
                "client_id": state.oauth.client_id,
                "client_secret": state.oauth.client_secret,
            }
        )

    async def advance_clock(request: web.Request) -> web.Response:
        if not isinstance(state.clock, ManualClock):
            return reply(
                JiraError(
                    409, "The clock is the system clock; start the emulator with --manual-clock to move time."
                ).body(),
                409,
            )
        state.clock.advance(float((await kwargs_of(request)).get("seconds", 0)))
        return reply({"now": state.clock.now()})

    async def set_audit(request: web.Request) -> web.Response:
        kwargs = await kwargs_of(request)
        try:
            state.site.audit_policy.update(delay_seconds=kwargs.get("delay_seconds"), unaudited=kwargs.get("unaudited"))
        except (TypeError, ValueError) as err:
            return reply(JiraError(400, f"Bad audit settings: {err}.").body(), 400)
        policy = state.site.audit_policy
        return reply({"delay_seconds": policy.delay_seconds, "unaudited": sorted(policy.unaudited)})

    async def set_cost(request: web.Request) -> web.Response:
        try:
            state.cost = CostBudget.on(state.clock, **await kwargs_of(request))
        except (TypeError, ValueError) as err:
            return reply(JiraError(400, f"Bad cost budget: {err}.").body(), 400)
        return await cost_ledger(request)

    async def cost_ledger(request: web.Request) -> web.Response:
        cost = state.cost
        if cost is None:
            return reply({"points": None})
        return reply(
            {
                "points": cost.points,
                "window_seconds": cost.window_seconds,
                "peak": cost.peak(),
                "rejected": cost.rejected,
            }
        )

    async def info(request: web.Request) -> web.Response:
        return reply(
            {
                "cloudId": state.site.cloud_id,
                "size": state.site.spec.name,
                "seed": state.site.seed,
                "credentials": asdict(state.credentials),
            }
        )

    return [
        web.get("/_sim/info", info),
        web.post("/_sim/admin/{name}", mutate),
        web.post("/_sim/faults/{name}", add_fault),
        web.delete("/_sim/faults", clear_faults),
        web.get("/_sim/requests", requests_log),
        web.delete("/_sim/requests", clear_requests),
        web.post("/_sim/oauth/grants", create_grant),
        web.post("/_sim/clock/advance", advance_clock),
        web.post("/_sim/audit", set_audit),
        web.post("/_sim/cost", set_cost),
        web.get("/_sim/cost", cost_ledger),
    ]
