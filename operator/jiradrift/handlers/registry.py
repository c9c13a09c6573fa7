"""What the operator registers with kopf: a list of thin adapters from ``handlers/runtime/``.

kopf's part is the watches: raw events feed the operator's caches, start the capture of an
unfinished Snapshot and tell the ticker of a tenant's new spec (``runtime/watch.py``). The ticker
reconciles the tenants this replica owns (``handlers/shard.py``); nothing runs per object in a
replica that does not own it. When a tenant's next capture happens, and why, is decided in
``handlers/schedule.py``. Built by a function rather than at import time, so the intervals come
from OperatorSettings and tests can run an operator with second-scale ticks.
"""

from __future__ import annotations

import kopf

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.handlers.comparison import register_comparisons
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.runtime.caches import Caches
from jiradrift.handlers.runtime.kopf_setup import KopfSetup
from jiradrift.handlers.runtime.loops import TenantLoops
from jiradrift.handlers.runtime.membership import join_shard
from jiradrift.handlers.runtime.notifier import NotifierTask
from jiradrift.handlers.runtime.runs import SnapshotRuns
from jiradrift.handlers.runtime.tick import TenantTick
from jiradrift.handlers.runtime.watch import WatchEvents
from jiradrift.handlers.ticker import TenantTicker

TENANTS = (GROUP, VERSION, "jiratenants")
SNAPSHOTS = (GROUP, VERSION, "snapshots")
TICK_CONCURRENCY = 16  # tenants reconciled at once (each is a request or two; a site check more)


def build_registry(ctx: OperatorContext) -> kopf.OperatorRegistry:
    """The handlers, in the order kopf runs them at startup and at cleanup."""
    caches = Caches.serving(ctx)
    runs = SnapshotRuns(ctx, caches.snapshots)
    join_shard(ctx, caches, runs)
    interval = ctx.settings.tenant_timer_seconds
    ticker = TenantTicker(TenantTick(ctx, caches, runs), interval=interval, concurrency=TICK_CONCURRENCY)
    kopf_setup, notifier = KopfSetup(ctx.settings.namespaces), NotifierTask(ctx, caches.comparisons)
    loops, watch = TenantLoops(ctx, caches, ticker), WatchEvents(ctx, caches, ticker, runs)

    registry = kopf.OperatorRegistry()
    kopf.on.login(id="login", registry=registry)(kopf_setup.login)
    kopf.on.cleanup(id="close_sessions", registry=registry)(kopf_setup.close)
    kopf.on.startup(id="configure", registry=registry)(kopf_setup.configure)
    kopf.on.startup(id="start_notifier", registry=registry)(notifier.start)
    kopf.on.cleanup(id="stop_notifier", registry=registry)(notifier.stop)
    kopf.on.startup(id="start_loops", registry=registry)(loops.start)
    kopf.on.probe(id="tenant_loops", registry=registry)(loops.alive)
    kopf.on.cleanup(id="stop_loops", registry=registry)(loops.stop)
    kopf.on.event(*TENANTS, id="tenant_seen", registry=registry)(watch.tenant_seen)
    kopf.on.event(*SNAPSHOTS, id="snapshot_seen", registry=registry)(watch.snapshot_seen)
    kopf.on.cleanup(id="stop_retries", registry=registry)(runs.stop)
    kopf.on.cleanup(id="stop_history_pushes", registry=registry)(
        ctx.history_pushes.stop
    )  # the next Snapshot catches up
    register_comparisons(registry, ctx, caches.comparisons)  # SiteComparisons: handlers/comparison.py
    return registry
