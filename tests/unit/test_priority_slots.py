"""Capture slots: bounded, the oldest window first, arrival order among equals, cancellation safe."""

from __future__ import annotations

import asyncio

from jiradrift.handlers.slots import PrioritySlots


async def _hold(slots: PrioritySlots, priority: str, order: list[str], release: asyncio.Event) -> None:
    async with slots.slot(priority):
        order.append(priority)
        await release.wait()


async def test_waiters_get_free_slots_oldest_window_first() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    gates = {p: asyncio.Event() for p in ("w1", "w3a", "w3b", "w2", "w0")}
    first = asyncio.create_task(_hold(slots, "w1", order, gates["w1"]))
    await asyncio.sleep(0)
    # arrive in this order while the one slot is held: the next window's two, then two older ones
    waiting = [asyncio.create_task(_hold(slots, p, order, gates[p])) for p in ("w3a", "w3b", "w2", "w0")]
    for _ in range(3):
        await asyncio.sleep(0)
    assert order == ["w1"] and slots.waiting == 4
    for priority in ("w1", "w0", "w2", "w3a", "w3b"):
        gates[priority].set()
        for _ in range(3):
            await asyncio.sleep(0)
    await asyncio.gather(first, *waiting)
    assert order == ["w1", "w0", "w2", "w3a", "w3b"]


async def test_never_more_holders_than_slots() -> None:
    slots = PrioritySlots(3)
    holding = peak = 0

    async def work(priority: str) -> None:
        nonlocal holding, peak
        async with slots.slot(priority):
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.001)
            holding -= 1

    await asyncio.gather(*(work(f"w{i % 5}") for i in range(40)))
    assert peak == 3 and holding == 0 and slots.waiting == 0


async def test_a_cancelled_waiter_does_not_take_or_lose_a_slot() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "w5", order, release))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(_hold(slots, "w0", order, asyncio.Event()))
    later = asyncio.create_task(_hold(slots, "w9", order, release))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, later), 2)
    assert order == ["w5", "w9"]
    async with slots.slot("x"):  # the one slot is free again
        assert slots.waiting == 0


async def test_a_waiter_cancelled_as_it_is_handed_the_slot_passes_it_on() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "w1", order, release))
    await asyncio.sleep(0)
    unlucky = asyncio.create_task(_hold(slots, "w2", order, asyncio.Event()))
    next_one = asyncio.create_task(_hold(slots, "w3", order, release))
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # the holder leaves and hands w2 the slot ...
    unlucky.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(unlucky, return_exceptions=True)
    await asyncio.wait_for(asyncio.gather(holder, next_one), 2)
    assert "w3" in order, order
