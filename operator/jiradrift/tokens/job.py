"""The token refresh job (what the CronJob runs): every oauth / serviceAccount tenant, refreshed or skipped.

    summary = await run_refresh_job(kube, namespaces=None, window=timedelta(hours=24), concurrency=20)
    print(summary.line())        # Token refresh job: N refreshed, M skipped, K failed

Tenants are listed page by page (``limit`` / ``continue``) and handed to ``concurrency`` workers
through a bounded queue, so memory holds a page or two whatever the number of tenants. A failing
tenant (or namespace listing) is counted and logged, and the job carries on; the exit status is
non-zero only once everything has been visited. Tenants using apiToken or pat have nothing to
refresh and are not counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from jiradrift.clock import WallClock
from jiradrift.jira.oauth import TOKEN_LIMITS
from jiradrift.kube.client import Kube, KubeError
from jiradrift.net.hosts import HostAllowlist
from jiradrift.net.transport import outbound_client
from jiradrift.tokens.errors import UnsupportedAuth
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.refresh import Outcome, RefreshResult, TokenRefresher
from jiradrift.tokens.tenant import TenantObject, auth_kind, read_tenant

log = logging.getLogger("jiradrift.tokens.job")

SUMMARY_FORMAT = "Token refresh job: {refreshed} refreshed, {skipped} skipped, {failed} failed"


@dataclass
class JobSummary:
    refreshed: int = 0
    skipped: int = 0
    failed: int = 0
    not_refreshable: int = 0
    failures: list[RefreshResult] = field(default_factory=list)

    def line(self) -> str:
        return SUMMARY_FORMAT.format(refreshed=self.refreshed, skipped=self.skipped, failed=self.failed)

    @property
    def exit_code(self) -> int:
        return 0 if self.failed == 0 else 1

    def add(self, result: RefreshResult) -> None:
        if result.outcome is Outcome.REFRESHED:
            self.refreshed += 1
        elif result.outcome is Outcome.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            if len(self.failures) < 1000:  # enough to report; the log has every one
                self.failures.append(result)


async def run_refresh_job(
    kube: Kube,
    *,
    namespaces: Sequence[str] | None,
    window: timedelta,
    concurrency: int = 20,
    http: httpx.AsyncClient | None = None,
    clock: WallClock | None = None,
    page_size: int = 500,
    lease_wait: float = 30.0,
    allowlist: HostAllowlist | None = None,
) -> JobSummary:
    """Visit every JiraTenant in ``namespaces`` (``None``: all namespaces) and refresh what needs it."""
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency} must be at least 1")
    own = http is None
    client = http or outbound_client(max_connections=concurrency, timeout=TOKEN_LIMITS.request_deadline)
    ops = KubeOps(kube)
    refresher = TokenRefresher(kube, http=client, clock=clock, lease_wait=lease_wait, allowlist=allowlist)
    summary = JobSummary()
    queue: asyncio.Queue[TenantObject | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def worker() -> None:
        while True:
            tenant = await queue.get()
            if tenant is None:
                return
            result = await refresher.refresh(tenant, window=window)
            summary.add(result)
            if result.outcome is Outcome.FAILED:
                log.warning(
                    "Token refresh failed for JiraTenant %s (%s): %s",
                    result.tenant,
                    result.reason,
                    result.message,
                )

    async def produce() -> None:
        targets: list[str | None] = list(namespaces) if namespaces else [None]
        for namespace in targets:
            where = f"namespace {namespace}" if namespace else "all namespaces"
            try:
                async for body in ops.list_tenants(namespace, limit=page_size):
                    try:
                        tenant = read_tenant(body)  # read once, here: the workers get the model
                    except UnsupportedAuth:
                        await queue.put(body)  # an invalid spec: refresh() reports it as a failure
                        continue
                    kind = auth_kind(tenant.spec)
                    if kind is None or not kind.refreshable:
                        summary.not_refreshable += 1
                        continue
                    await queue.put(tenant)
            except KubeError as exc:
                summary.failed += 1
                log.warning("Token refresh job could not list JiraTenants in %s: %s", where, exc)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await produce()
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        if own:
            await client.aclose()
    if summary.not_refreshable:
        log.info(
            "Token refresh job: %d tenant(s) use apiToken or pat and have nothing to refresh",
            summary.not_refreshable,
        )
    return summary
