"""The operator remembers, per Snapshot, until when to ignore its events (a retry's backoff, or a
while after it finished). A flood of Snapshots that finish at once (e.g. thousands naming a tenant
that does not exist, each Failed at once) must not make every later event cost a sweep of them all."""

from __future__ import annotations

import time
from typing import Any, cast

from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.runtime.runs import run_owned
from jiradrift.handlers.state import QuietTimes
from jiradrift.kube.client import Kube

FLOOD = 20_000


def finished(i: int) -> dict[str, Any]:
    meta = {"namespace": "team-a", "name": f"s{i}", "uid": f"uid-{i}"}
    return {
        "metadata": meta,
        "spec": {"tenantRef": {"name": "gone"}, "type": "workflows"},
        "status": {"phase": "Failed"},
    }


async def test_a_flood_of_finished_snapshots_costs_each_event_o_1() -> None:
    ctx = OperatorContext(kube=cast(Kube, None), settings=OperatorSettings(), holder="h")
    started = time.perf_counter()
    for i in range(FLOOD):
        await run_owned(ctx, finished(i))
    took = time.perf_counter() - started
    assert len(ctx.quiet_until) == FLOOD  # every one is still quiet: none may be forgotten early
    # A sweep per event (the old rule, past 4,096 entries) is ~2 x 10^8 entry visits: tens of seconds.
    assert took < 5.0, f"{FLOOD} events took {took:.1f} s"


def test_sweeps_are_amortised_and_drop_only_expired_entries() -> None:
    quiet = QuietTimes(floor=8)
    for i in range(1000):
        quiet.remember(f"u{i}", until=100.0 + i, now=0.0)
    assert len(quiet) == 1000 and quiet.sweeps <= 8  # the threshold doubles: log2(1000 / 8) sweeps
    quiet.remember("late", until=2000.0, now=1050.0)  # the next sweep drops what expired by then
    for i in range(2000):
        quiet.remember(f"v{i}", until=3000.0, now=1050.0)
    assert "u0" not in quiet and "u999" in quiet and quiet["late"] == 2000.0
