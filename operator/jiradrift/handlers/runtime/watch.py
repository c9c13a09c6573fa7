"""Watch events in: to the caches, the ticker and the Snapshot runner.

No kopf timer and no change handlers (on.create, on.update, on.resume) on either resource. A kopf
timer runs for every object in every replica (and puts a finalizer on each: two PATCHes per
Snapshot); change handlers record "handled" in the object's annotations as soon as ANY replica
returns, and an owner that sees the record never runs its own. Raw events record nothing: a
JiraTenant's event tells the ticker (``handlers/ticker.py``), which reconciles only this replica's
tenants; an unfinished Snapshot's event starts its capture at once (the initial listing after a
restart included); a replica takes up the unfinished windows of a tenant it gains at once
(``membership``) and again at each tick; a failed attempt is retried by a timer (``runs``).
"""

from __future__ import annotations

from typing import Any

import kopf

from jiradrift.api.baseline import SnapshotEntry
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.runtime.caches import Caches, cached
from jiradrift.handlers.runtime.runs import SnapshotRuns
from jiradrift.handlers.schedule import FINAL
from jiradrift.handlers.ticker import TenantTicker


class WatchEvents:
    def __init__(self, ctx: OperatorContext, caches: Caches, ticker: TenantTicker, runs: SnapshotRuns) -> None:
        self.ctx, self.caches, self.ticker, self.runs = ctx, caches, ticker, runs

    async def tenant_seen(self, body: kopf.Body, type: str | None, **_: Any) -> None:
        namespace, name, uid = body.metadata.namespace or "", body.metadata.name or "", body.metadata.uid or ""
        key = f"{namespace}/{name}"
        if type == "DELETED":
            self.caches.tenants.remove(uid)
            self.ticker.forget(key)
            self.ctx.tenants.pop(uid, None)
            metrics.forget_tenant(namespace, name)  # else its last-snapshot gauges would alert forever
            return
        self.caches.tenants.put(uid, key, cached(body))
        self.ticker.observe(key, int(body.metadata.get("generation") or 0))

    async def snapshot_seen(self, body: kopf.Body, type: str | None, **_: Any) -> None:
        uid = body.metadata.uid or ""
        tenant = (body.spec.get("tenantRef") or {}).get("name")
        if type == "DELETED" or not tenant:
            self.caches.snapshots.remove(uid)
            return
        entry = SnapshotEntry.from_object(body)
        seen = self.caches.snapshots.get(uid)
        self.caches.snapshots.put(uid, (body.metadata.namespace or "", str(tenant)), entry)
        if entry.phase in FINAL and seen is not None and seen[1].phase not in FINAL:
            self._snapshot_ended(f"{body.metadata.namespace or ''}/{tenant}")
        if str(body.status.get("phase") or "") not in FINAL:
            await self.runs.run_logged(body)

    def _snapshot_ended(self, key: str) -> None:
        """A Snapshot of tenant ``key`` just ended: its Drifted and counts follow now, not at the
        tenant's next tick."""
        tenant = self.caches.tenants.first(key)
        state = self.ctx.tenants.get(str(((tenant or {}).get("metadata") or {}).get("uid") or ""))
        if state is not None:
            state.snapshot_ended()
        self.ticker.nudge(key)
