"""The loops beside kopf's watches: the tenant ticker and the membership rounds, the readiness
endpoint that says when they run, and the liveness probe that fails if they die.

    loops = TenantLoops(ctx, caches, ticker)
    kopf.on.startup(registry=registry)(loops.start)      # readiness endpoint, then the loops' task
    kopf.on.probe(id="tenant_loops", registry=registry)(loops.alive)
    kopf.on.cleanup(registry=registry)(loops.stop)        # also leaves the shard
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.readiness import Readiness, serve_readiness
from jiradrift.handlers.runtime.caches import Caches
from jiradrift.handlers.runtime.startup import fill_caches
from jiradrift.handlers.ticker import TenantTicker

log = logging.getLogger("jiradrift.handlers")


class TenantLoops:
    def __init__(self, ctx: OperatorContext, caches: Caches, ticker: TenantTicker) -> None:
        self.ctx, self.caches, self.ticker = ctx, caches, ticker
        self.readiness = Readiness()
        self.servers: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = asyncio.Event()

    async def start(self, **_: Any) -> None:
        if self.ctx.settings.readiness_endpoint:
            self.servers.append(await serve_readiness(self.ctx.settings.readiness_endpoint, self.readiness))
        task = asyncio.create_task(self.run(), name="tenants")
        task.add_done_callback(_ended)
        self.tasks.append(task)

    def alive(self, **_: Any) -> bool:
        """kopf's liveness endpoint fails if the loops died: Kubernetes restarts the pod."""
        if any(task.done() for task in self.tasks) and not self.stopping.is_set():
            raise RuntimeError("the tenant loops stopped")
        return True

    async def run(self) -> None:
        """Once the caches hold every object (a LIST's worth): the membership rounds
        (--shard-namespace) and the tenant ticker. The first shard assignment is computed over
        every JiraTenant, never a half-listed few, and acceptance reads whole Snapshot lists."""
        ctx, caches, readiness = self.ctx, self.caches, self.readiness
        readiness.waiting("the JiraTenant and Snapshot caches to hold what a LIST showed at startup")
        await fill_caches(ctx.kube, ctx.settings.namespaces, caches)
        shard = ctx.shard
        assert shard is not None
        tasks = [self.ticker.run(lambda: caches.owned_tenants(ctx), self.stopping)]
        if shard.enabled:
            readiness.waiting("the first membership round (which tenants this replica owns)")
            await shard.round(caches.tenant_keys())
            tasks.append(shard.run(caches.tenant_keys, self.stopping))
        readiness.ready()
        await asyncio.gather(*tasks)

    async def stop(self, **_: Any) -> None:
        self.readiness.stopping()
        self.stopping.set()
        for task in self.tasks:
            await asyncio.wait({task}, timeout=5.0)  # the loops stop at the event; startup's wait does not
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.ctx.shard is not None:
            await self.ctx.shard.leave()
        for server in self.servers:
            await server.cleanup()


def _ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:  # never silently idle
        log.critical("the tenant loops stopped: %s; the liveness probe fails from now on", exc, exc_info=exc)
