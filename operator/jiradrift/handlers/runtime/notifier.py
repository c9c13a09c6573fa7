"""Drift notifications run beside the handlers, never inside a capture (jiradrift.notify)."""

from __future__ import annotations

import asyncio
from typing import Any

from jiradrift.handlers import metrics
from jiradrift.handlers.cache import WatchCache
from jiradrift.handlers.context import OperatorContext
from jiradrift.notify import Notifier


class NotifierTask:
    """The notifier's task: started with the operator, stopped (and awaited) at cleanup."""

    def __init__(self, ctx: OperatorContext, comparisons: WatchCache[str, dict[str, Any]]) -> None:
        self.ctx = ctx
        self.comparisons = comparisons  # the watch's SiteComparisons: the notifier lists none itself
        self.running: list[tuple[Notifier, asyncio.Task[None]]] = []

    async def start(self, **_: Any) -> None:
        ctx = self.ctx
        notifier = Notifier(
            ctx.kube,
            ctx.settings.notify,
            ctx.holder,
            ctx.settings.namespaces,
            ctx.clock,
            lambda *labels: metrics.NOTIFICATIONS.labels(*labels).inc(),
            owns=ctx.owns,
            comparisons=self._watched_comparisons,
        )
        self.running.append((notifier, asyncio.create_task(notifier.run(), name="notifier")))

    def _watched_comparisons(self) -> list[dict[str, Any]]:
        cache = self.comparisons
        return [body for namespace in cache.groups() for body in cache.group(namespace)]

    async def stop(self, **_: Any) -> None:
        for notifier, task in self.running:
            notifier.stop()
            await asyncio.gather(task, return_exceptions=True)
