"""One tick of one owned tenant (what ``handlers/ticker.py`` calls): reconcile it from the watch's
copy, write what changed in its status, and take up its unfinished Snapshots."""

from __future__ import annotations

import logging

from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import patch_status
from jiradrift.handlers.runtime.caches import Caches
from jiradrift.handlers.runtime.runs import SnapshotRuns
from jiradrift.handlers.tenant import reconcile_tenant
from jiradrift.kube.client import KubeError

log = logging.getLogger("jiradrift.handlers")


class TenantTick:
    def __init__(self, ctx: OperatorContext, caches: Caches, runs: SnapshotRuns) -> None:
        self.ctx, self.caches, self.runs = ctx, caches, runs

    async def __call__(self, key: str, forced: bool) -> None:
        ctx = self.ctx
        namespace, _, name = key.partition("/")
        body = self.caches.tenants.first(key)
        if body is None or not ctx.owns(namespace, name):
            return
        snapshots = self.caches.snapshots.group((namespace, name))
        status = await reconcile_tenant(ctx, body, snapshots, force_check=forced)
        if status:
            try:
                await patch_status(ctx.kube, namespace, "jiratenants", name, status)
            except KubeError as exc:
                if not exc.not_found:  # deleted meanwhile: nothing to report on
                    raise
        if forced:
            log.info(
                "reconciled JiraTenant %s (spec generation %s)",
                key,
                body["metadata"].get("generation"),
                extra={"k8s_ref": {"kind": "JiraTenant", "namespace": namespace, "name": name}},
            )
        self.runs.take_up_unfinished(namespace, snapshots)
