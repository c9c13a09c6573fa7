"""A capture against a site with a small points quota (jira-api.md 3.1-3.2, issue 26): the client
reads the emulator's RateLimit-Reason / Retry-After / X-RateLimit-* answers, pauses the tenant until
the window resets instead of hammering, counts every 429 it waited out, and still stores exactly
what an unlimited capture stores.

Time is virtual and shared: the client's sleeps move the emulator's clock, so a capture spanning
several quota windows takes no wall time and no window boundary depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, ClientStats, JiraClient
from jiradrift.model.manifest import Manifest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim import Emulator, RunningEmulator
from jiradrift.sim.clock import ManualClock
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.filesystem import FilesystemStore

AT = datetime(2026, 3, 1, tzinfo=UTC)
BUDGET = 120  # points per one-second window; a full fields capture of the small site costs ~560
CONCURRENCY = 8


class SharedTime:
    """The client's clock (jiradrift.clock.Clock) driving the emulator's ManualClock: a sleep moves time
    to its own end, never further, so concurrent sleepers share the wait like real ones would."""

    def __init__(self, sim_clock: ManualClock) -> None:
        self._sim = sim_clock
        self._origin = sim_clock.now()

    def monotonic(self) -> float:
        return self._sim.now() - self._origin

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._sim.now(), UTC)

    async def sleep(self, seconds: float) -> None:
        target = self._sim.now() + max(0.0, seconds)
        await asyncio.sleep(0)
        ahead = target - self._sim.now()
        if ahead > 0:
            self._sim.advance(ahead)


async def _capture(
    sim: RunningEmulator, store: FilesystemStore, clock: SharedTime | None, sid: str
) -> tuple[Manifest, ClientStats]:
    c = sim.credentials
    settings = ClientSettings(max_concurrency=CONCURRENCY, requests_per_second=10_000, timeout=30.0)
    async with await JiraClient.connect(
        sim.base_url, ApiTokenAuth(c.email, c.api_token), settings=settings, clock=clock, rng=random.Random(1)
    ) as jira:
        manifest = await capture_snapshot(
            jira, store, tenant="acme", snapshot_type=SnapshotType.FIELDS, snapshot_id=sid, captured_at=AT
        )
        return manifest, jira.stats


async def test_a_capture_within_a_small_cost_budget_completes_and_waits_out_each_429(
    store: FilesystemStore,
) -> None:
    sim_clock = ManualClock(1_767_700_000.0)
    with Emulator(clock=sim_clock).running() as sim:
        reference, _ = await _capture(sim, store, None, "acme-fields-free")
        budget = sim.set_cost_budget(BUDGET, window_seconds=1.0)
        assert budget is not None
        started = sim_clock.now()
        manifest, stats = await _capture(sim, store, SharedTime(sim_clock), "acme-fields-metered")
        elapsed = sim_clock.now() - started

    assert manifest.complete, manifest.errors
    assert manifest.digest == reference.digest  # the same content, only slower
    spent = sum(budget.charged.values())
    assert spent > 3 * BUDGET and budget.peak() <= BUDGET  # several windows, none over budget
    assert elapsed >= spent / BUDGET - 1  # so the client's rate never beat the budget's
    # every 429 was read as a tenant quota and waited out, none sent in vain twice per window
    assert budget.rejected > 0 and stats.rate_limit_waits == budget.rejected == stats.quota_pauses
    assert stats.requests_by_status["429"] == budget.rejected
    assert budget.rejected <= CONCURRENCY * (len(budget.charged) + 1)
    assert stats.near_limit_responses > 0  # X-RateLimit-NearLimit read
