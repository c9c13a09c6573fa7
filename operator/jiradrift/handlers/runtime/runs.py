"""Running Snapshots: from a watch event, a tenant's tick, a gained tenant or a retry timer.

    runs = SnapshotRuns(ctx, caches.snapshots)
    await runs.run_logged(body)                     # a watch event of an unfinished Snapshot
    runs.take_up_unfinished("team-a", snapshots)    # a tick, or a tenant this replica just gained
    await runs.stop()                               # at cleanup: timers cancelled, runs awaited

Whether a Snapshot runs now and when it runs again are ``handlers/schedule.py``'s decisions
(``decide_run``, ``quiet_seconds``, ``retry_delay``); this module keeps the state they are made
from (``ctx.running``, ``ctx.quiet_until``) and the timers. A failed attempt is retried by a timer
when its backoff ends (for a Lease held by a dead replica: when the Lease expires), not at its
tenant's next tick: under load the ticks of a thousand tenants come round minutes apart. One
timer per Snapshot at most.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

from jiradrift.api.baseline import SnapshotEntry
from jiradrift.handlers.cache import WatchCache
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import get_object
from jiradrift.handlers.schedule import (
    FINAL,
    Outcome,
    RetryLater,
    RunVerdict,
    decide_run,
    quiet_seconds,
    retry_delay,
)
from jiradrift.handlers.snapshot import run_snapshot
from jiradrift.kube.client import KubeError
from jiradrift.redact import redact

log = logging.getLogger("jiradrift.handlers")
RETRY_MARGIN_SECONDS = 0.1  # a retry timer fires this long after the Snapshot's backoff ends


class SnapshotRuns:
    """The Snapshot runs this process started, and the timers that retry failed ones."""

    def __init__(self, ctx: OperatorContext, snapshots: WatchCache[tuple[str, str], SnapshotEntry]) -> None:
        self.ctx = ctx
        self.snapshots = snapshots
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: dict[str, asyncio.TimerHandle] = {}

    def take_up_unfinished(self, namespace: str, snapshots: list[SnapshotEntry]) -> None:
        """Run the tenant's unfinished Snapshots that nothing in this process is running or waiting
        for (a failed attempt past its backoff, a window of a tenant this replica just gained).
        The caller knows the tenant is this replica's."""
        ctx, now = self.ctx, time.monotonic()
        for entry in snapshots:
            decision = decide_run(
                owned=True,
                running=entry.uid in ctx.running,
                quiet_until=ctx.quiet_until.get(entry.uid),
                now=now,
                phase=entry.phase,
            )
            if decision.verdict is not RunVerdict.RUN:
                continue
            ctx.running.add(entry.uid)  # claimed until the task has read it and runs it (or not)
            task = asyncio.create_task(
                self._reread_and_run(namespace, entry), name=f"snapshot {namespace}/{entry.name}"
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _reread_and_run(self, namespace: str, entry: SnapshotEntry) -> None:
        try:
            body = await get_object(self.ctx.kube, namespace, "snapshots", entry.name)
        except KubeError as exc:
            log.info("Snapshot %s/%s not read (%s); retried at the next tick", namespace, entry.name, exc)
            return
        finally:
            self.ctx.running.discard(entry.uid)
        if body is not None and str((body.get("status") or {}).get("phase") or "") not in FINAL:
            await self.run_logged(body)

    async def run_logged(self, body: Mapping[str, Any]) -> None:
        """Run the Snapshot if it is this replica's to run now; an attempt that ends early is logged
        (redacted: the text may quote what a site answered) and retried by a timer."""
        meta = body.get("metadata") or {}
        try:
            await run_owned(self.ctx, body)
            return
        except RetryLater as exc:
            message = redact(str(exc))
        except Exception as exc:
            log.exception("Snapshot %s failed unexpectedly", meta.get("name"))  # redacted by the log filter
            message = redact(f"{type(exc).__name__}: {exc}")
        delay = self._retry_later(str(meta.get("uid") or ""))
        log.info("Snapshot %s: %s; retried in %.0fs", meta.get("name"), message, delay)

    def _retry_later(self, uid: str) -> float:
        """Run the Snapshot again when its backoff (``ctx.quiet_until``, set by :func:`run_owned`)
        ends; returns the seconds until then."""
        if (old := self.timers.pop(uid, None)) is not None:
            old.cancel()
        delay = retry_delay(self.ctx.quiet_until.get(uid), time.monotonic())
        self.timers[uid] = asyncio.get_running_loop().call_later(delay + RETRY_MARGIN_SECONDS, self._retry_due, uid)
        return delay

    def _retry_due(self, uid: str) -> None:
        self.timers.pop(uid, None)
        if (found := self.snapshots.get(uid)) is None:
            return  # deleted meanwhile
        (namespace, tenant), entry = found
        if self.ctx.owns(namespace, tenant):  # else its new owner took it up on gaining the tenant
            self.take_up_unfinished(namespace, [entry])

    async def stop(self, **_: Any) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def run_owned(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    """Run the Snapshot if its tenant is this replica's and this process is not running it already
    nor backing off from it; then keep it quiet for as long as ``schedule.quiet_seconds`` says.
    Raises what the attempt raised (:class:`RetryLater` when a step asked to run again later)."""
    meta = body.get("metadata") or {}
    tenant = ((body.get("spec") or {}).get("tenantRef") or {}).get("name") or ""
    uid = meta.get("uid") or ""
    decision = decide_run(
        owned=ctx.owns(meta.get("namespace") or "", tenant),
        running=uid in ctx.running,
        quiet_until=ctx.quiet_until.get(uid),
        now=time.monotonic(),
    )  # a final phase is run_snapshot's to see: it forgets the window's lock and records the metric
    if decision.verdict is not RunVerdict.RUN:
        return
    ctx.running.add(uid)
    try:
        await run_snapshot(ctx, copy.deepcopy(dict(body)))
    except RetryLater as exc:
        _quiet(ctx, uid, quiet_seconds(Outcome.RETRY, exc.delay))
        raise
    except BaseException:
        _quiet(ctx, uid, quiet_seconds(Outcome.CRASHED))
        raise
    else:  # run_snapshot returns once the Snapshot is final (written by us, or seen)
        _quiet(ctx, uid, quiet_seconds(Outcome.FINISHED))
    finally:
        ctx.running.discard(uid)


def _quiet(ctx: OperatorContext, uid: str, seconds: float) -> None:
    now = time.monotonic()
    ctx.quiet_until.remember(uid, now + seconds, now)
