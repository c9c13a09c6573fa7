"""Every tenant's client in the operator takes its response memory from one budget per process."""

from __future__ import annotations

from typing import Any, cast

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.jiraconn import open_client
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.limits import ResponseLimits

MiB = 1024 * 1024


def spec(site: str, concurrency: int) -> JiraTenantSpec:
    return JiraTenantSpec.model_validate(
        {
            "site": site,
            "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
            "rateLimit": {"maxConcurrency": concurrency},
        }
    )


async def test_all_tenants_clients_share_the_process_budget() -> None:
    settings = OperatorSettings(limits=ResponseLimits(max_inflight_bytes=96 * MiB))
    ctx = OperatorContext(kube=cast(Any, None), settings=settings, holder="test")
    assert ctx.response_budget is ctx.response_budget and ctx.response_budget.capacity == 96 * MiB
    credentials = ApiTokenAuth("a@example.com", "token")
    clients = [
        await open_client(spec(site, 64), credentials, limits=settings.limits, budget=ctx.response_budget)
        for site in ("https://a.atlassian.net", "https://b.atlassian.net")
    ]
    probe = await open_client(
        spec("https://c.atlassian.net", 8), credentials, probe=True, limits=settings.limits, budget=ctx.response_budget
    )
    try:
        assert all(c.budget is ctx.response_budget for c in [*clients, probe])
    finally:
        for c in [*clients, probe]:
            await c.aclose()
