"""The tenant ticker: which owned tenants are due, when a spec change forces one, and that a
failing or slow reconcile neither loops hot nor runs twice at once."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from jiradrift.handlers.ticker import TenantTicker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _noop(tenant: str, forced: bool) -> None:
    return None


def ticker(clock: Clock, interval: float = 30.0) -> TenantTicker:
    return TenantTicker(_noop, interval=interval, concurrency=4, clock=clock)


async def test_owned_tenants_are_due_at_once_then_every_interval() -> None:
    clock = Clock()
    t = ticker(clock)
    assert sorted(t.take_due(["a/x", "a/y"], clock.now)) == [("a/x", True), ("a/y", True)], "new: checked afresh"
    assert t.take_due(["a/x", "a/y"], clock.now) == [], "busy tenants are not handed out twice"
    await t._one("a/x", False)  # finishes: due an interval later
    clock.now += 29.0
    assert t.take_due(["a/x"], clock.now) == []
    clock.now += 1.0
    assert t.take_due(["a/x"], clock.now) == [("a/x", False)]


async def test_a_new_generation_forces_a_reconcile_only_where_owned() -> None:
    clock = Clock()
    t = ticker(clock)
    t.observe("a/x", 1)
    t.observe("a/y", 1)
    assert sorted(t.take_due(["a/x"], clock.now)) == [("a/x", True)], "a/y is another replica's"
    await t._one("a/x", True)
    t.observe("a/x", 1)  # a status write: same generation
    assert t.take_due(["a/x"], clock.now) == []
    t.observe("a/x", 2)  # the spec changed
    assert t.take_due(["a/x"], clock.now) == [("a/x", True)]
    # gaining a/y later: due at once, and checked afresh as any tenant newly owned
    assert t.take_due(["a/x", "a/y"], clock.now) == [("a/y", True)]
    assert t._forced == set(), "a/y's mark was dropped while another replica owned it"


async def test_a_lost_tenant_is_due_at_once_when_gained_again() -> None:
    clock = Clock()
    t = ticker(clock)
    t.take_due(["a/x"], clock.now)
    await t._one("a/x", False)
    assert t.take_due([], clock.now) == []  # lost
    assert t.take_due(["a/x"], clock.now) == [("a/x", True)]


async def test_deleted_tenant_is_forgotten() -> None:
    clock = Clock()
    t = ticker(clock)
    t.observe("a/x", 1)
    t.forget("a/x")
    t.observe("a/x", 1)  # re-created with the same name: generation 1 again, still a first sight
    assert t.take_due(["a/x"], clock.now) == [("a/x", True)]


async def test_a_failing_reconcile_is_retried_an_interval_later_not_in_a_loop() -> None:
    calls: list[float] = []

    async def failing(tenant: str, forced: bool) -> None:
        calls.append(time.monotonic())
        raise RuntimeError("site exploded")

    interval = 0.3
    t = TenantTicker(failing, interval=interval, concurrency=2)
    stop = asyncio.Event()
    runner = asyncio.create_task(t.run(lambda: ["a/x"], stop))
    for _ in range(200):  # bounded: until the third call, at most 4 s
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert len(calls) >= 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= interval * 0.95, gaps


async def test_a_spec_change_during_a_reconcile_runs_it_again_after_never_alongside() -> None:
    running: set[str] = set()
    started = asyncio.Event()
    release = asyncio.Event()
    calls: list[bool] = []

    async def slow(tenant: str, forced: bool) -> None:
        assert tenant not in running, "two reconciles of one tenant at once"
        running.add(tenant)
        calls.append(forced)
        started.set()
        try:
            if len(calls) == 1:
                await release.wait()
        finally:
            running.discard(tenant)

    t = TenantTicker(slow, interval=3600.0, concurrency=2)
    stop = asyncio.Event()
    runner = asyncio.create_task(t.run(lambda: ["a/x"], stop))
    await asyncio.wait_for(started.wait(), 5)
    t.observe("a/x", 7)  # the spec changes while the first reconcile runs
    await asyncio.sleep(0)
    release.set()
    for _ in range(250):
        if len(calls) >= 2:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert calls == [True, True]  # newly owned, then the new generation


async def test_stop_cancels_running_reconciles() -> None:
    started = asyncio.Event()

    async def forever(tenant: str, forced: bool) -> None:
        started.set()
        await asyncio.Event().wait()

    t = TenantTicker(forever, interval=30.0, concurrency=2)
    stop = asyncio.Event()
    runner = asyncio.create_task(t.run(lambda: ["a/x"], stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(runner, 5)  # returns: the reconcile was cancelled, not waited for forever


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_reconciles_at_once_are_bounded(concurrency: int) -> None:
    now_running = 0
    peak = 0
    done: list[str] = []

    async def work(tenant: str, forced: bool) -> None:
        nonlocal now_running, peak
        now_running += 1
        peak = max(peak, now_running)
        await asyncio.sleep(0.01)
        now_running -= 1
        done.append(tenant)

    tenants = [f"a/t{i}" for i in range(20)]
    t = TenantTicker(work, interval=3600.0, concurrency=concurrency)
    stop = asyncio.Event()
    runner = asyncio.create_task(t.run(lambda: tenants, stop))
    for _ in range(500):
        if len(done) >= len(tenants):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert sorted(done) == sorted(tenants)
    assert peak == concurrency


async def test_a_snapshot_that_ended_makes_its_tenant_due_now_once() -> None:
    clock = Clock()
    t = ticker(clock)
    t.nudge("a/x")  # never reconciled here: nothing to hurry, the first tick reads everything
    assert t._due == {} and not t._wake.is_set()
    assert t.take_due(["a/x"], clock.now) == [("a/x", True)]
    t.nudge("a/x")  # ended while its reconcile runs: one more right after, not a second at once
    assert t.take_due(["a/x"], clock.now) == []
    t.nudge("a/x")
    await t._one("a/x", True)
    assert t.take_due(["a/x"], clock.now) == [("a/x", False)], "reconciled again at once, no site check"
    await t._one("a/x", False)
    clock.now += 1.0
    assert t.take_due(["a/x"], clock.now) == [], "the burst coalesced into one extra reconcile"
    t.nudge("a/x")  # idle, due in 29 s: now
    assert t._wake.is_set()
    assert t.take_due(["a/x"], clock.now) == [("a/x", False)]
