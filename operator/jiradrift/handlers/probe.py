"""The tenant's health check: resolve credentials and ask the site who it is, within a deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from jiradrift.api.conditions import ConditionType, Problem, Reason
from jiradrift.api.resources import JiraTenant
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.jiraconn import classify, credentials_for, open_client
from jiradrift.redact import clip


async def check_site(ctx: OperatorContext, tenant: JiraTenant) -> tuple[list[Problem], dict[str, str]]:
    """Problems (empty when healthy) and the site's serverInfo, within ``probe_timeout_seconds`` overall."""
    seconds = ctx.settings.probe_timeout_seconds
    spec = tenant.spec
    try:
        async with asyncio.timeout(seconds):
            return await _check_site(ctx, tenant)
    except TimeoutError:
        return [
            Problem(
                ConditionType.REACHABLE,
                Reason.PROBE_TIMEOUT,
                f"the health check of {spec.site} did not finish within {seconds:g} s "
                "(the site or its token endpoint is hanging or trickling its answers)",
            )
        ], {}


def site_info(info: dict[str, Any], cloud_id: str | None) -> dict[str, str]:
    """The status ``site`` block from serverInfo: bounded strings, empty ones left out."""
    site = {
        "cloudId": cloud_id,
        "title": clip(str(info.get("serverTitle") or ""), 512) or None,
        "version": clip(str(info.get("version") or ""), 64) or None,
        "deploymentType": clip(str(info.get("deploymentType") or ""), 64) or None,
    }
    return {k: v for k, v in site.items() if v}


async def _check_site(ctx: OperatorContext, tenant: JiraTenant) -> tuple[list[Problem], dict[str, str]]:
    spec = tenant.spec
    try:
        credentials, _secret = await credentials_for(ctx, tenant)
        client = await open_client(
            spec, credentials, probe=True, limits=ctx.settings.limits, budget=ctx.response_budget
        )
    except Exception as exc:  # CredentialsProblem, token errors (ReauthorizationRequired, ...), discovery
        return [classify(exc, spec)], {}
    try:
        info = await client.get_json("/serverInfo")
        if not isinstance(info, dict) or ("baseUrl" not in info and "version" not in info):
            return [
                Problem(
                    ConditionType.REACHABLE, Reason.NOT_JIRA, f"{spec.site}/serverInfo did not describe a Jira site"
                )
            ], {}
        # serverInfo needs no permission; a config endpoint proves the credentials can read config
        # (/statuses/search needs Administer Jira, and read:workflow:jira with granular scopes).
        await client.get_json("/statuses/search", {"maxResults": 1})
        return [], site_info(info, client.cloud_id)
    except Exception as exc:
        return [classify(exc, spec)], {}
    finally:
        await client.aclose()
