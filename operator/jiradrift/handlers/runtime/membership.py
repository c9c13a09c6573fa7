"""This replica's shard (``handlers/shard.py``), and what happens when tenants move to or from it."""

from __future__ import annotations

from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.runtime.caches import Caches
from jiradrift.handlers.runtime.runs import SnapshotRuns
from jiradrift.handlers.shard import Shard


def join_shard(ctx: OperatorContext, caches: Caches, runs: SnapshotRuns) -> Shard:
    """This replica's shard, set as ``ctx.shard`` (without ``--shard-namespace``: owns everything)."""
    settings = ctx.settings
    changes = ShardChanges(ctx, caches, runs)
    ctx.shard = Shard(
        ctx.kube if settings.shard_namespace else None,
        settings.shard_namespace,
        ctx.holder,
        duration_seconds=settings.shard_lease_seconds,
        on_change=changes,
    )
    return ctx.shard


class ShardChanges:
    """Called by the shard after a round that moved tenants."""

    def __init__(self, ctx: OperatorContext, caches: Caches, runs: SnapshotRuns) -> None:
        self.ctx, self.caches, self.runs = ctx, caches, runs

    def __call__(self, gained: set[str], lost: set[str], moved_in: int) -> None:
        shard = self.ctx.shard
        assert shard is not None
        metrics.SHARD_TENANTS.labels(shard.identity).set(len(shard.owned()))
        metrics.SHARD_MEMBERS.labels(shard.identity).set(len(shard.members))
        if moved_in:
            metrics.SHARD_MOVES.labels(shard.identity, "gained").inc(moved_in)
        if lost:
            metrics.SHARD_MOVES.labels(shard.identity, "lost").inc(len(lost))
        for key in lost:  # the new owner exports them now; ours would go stale and alert
            namespace, _, name = key.partition("/")
            metrics.forget_tenant(namespace, name)
        # A gained tenant's unfinished windows (a dead replica's captures) are taken up now, not at
        # the tenant's first tick: a survivor gaining hundreds of tenants ticks them 16 at a time, and
        # the dead holder's Lease expiry counts from the first look at it (handlers/snapshot.py).
        for key in gained:
            namespace, _, name = key.partition("/")
            self.runs.take_up_unfinished(namespace, self.caches.snapshots.group((namespace, name)))
