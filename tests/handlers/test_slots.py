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


# -- fairness: within a band, namespaces and then their tenants take turns -------------------------


async def _drain(slots: PrioritySlots, arrivals: list[tuple[object, tuple[str, str], str]]) -> list[str]:
    """Queue ``arrivals`` (band, who, label) behind one held slot, free it, and return the order in
    which they were served."""
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "held", order, release))
    await asyncio.sleep(0)

    async def take(band: object, who: tuple[str, str], label: str) -> None:
        async with slots.slot(band, who):
            order.append(label)

    tasks = [asyncio.create_task(take(band, who, label)) for band, who, label in arrivals]
    for _ in range(3):
        await asyncio.sleep(0)
    assert slots.waiting == len(arrivals)
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, *tasks), 5)
    assert slots.waiting == 0
    return order[1:]


async def test_a_flooding_tenant_gets_one_turn_in_two() -> None:
    """team-a/flood queued 20 captures before team-b/acme's two: acme waits for one of flood's, not 20."""
    flood = [((1, "", 1), ("team-a", "flood"), f"f{i}") for i in range(20)]
    acme = [((1, "", 1), ("team-b", "acme"), f"a{i}") for i in range(2)]
    order = await _drain(PrioritySlots(1), flood + acme)
    assert order[:4] == ["f0", "a0", "f1", "a1"], order
    assert order[4:] == [f"f{i}" for i in range(2, 20)]


async def test_made_up_tenants_in_one_namespace_share_that_namespace_s_turns() -> None:
    """Snapshots naming 30 tenants in one namespace take turns with another namespace's one tenant,
    namespace by namespace; within the namespace its tenants take turns."""
    made_up = [((1, "", 1), ("team-a", f"fake-{i}"), f"x{i}") for i in range(30)]
    other = [((1, "", 1), ("team-b", "acme"), f"a{i}") for i in range(3)]
    order = await _drain(PrioritySlots(1), made_up + other)
    assert order[:6] == ["x0", "a0", "x1", "a1", "x2", "a2"], order


async def test_a_better_band_goes_first_whoever_queued_first() -> None:
    """Scheduled (0) before manual (1), the older window first; round-robin applies within a band."""
    arrivals = [
        ((1, "", 1), ("team-a", "flood"), "manual-1"),
        ((1, "", 1), ("team-a", "flood"), "manual-2"),
        ((0, "2026-12-01T12:40:00Z", 1), ("team-b", "acme"), "acme-12:40"),
        ((0, "2026-12-01T12:35:00Z", 1), ("team-c", "dead"), "dead-12:35"),
        ((0, "2026-12-01T12:40:00Z", 0), ("team-c", "dead"), "dead-12:40-retried"),
        ((0, "2026-12-01T12:40:00Z", 1), ("team-c", "dead"), "dead-12:40"),
    ]
    order = await _drain(PrioritySlots(1), arrivals)
    assert order == ["dead-12:35", "dead-12:40-retried", "acme-12:40", "dead-12:40", "manual-1", "manual-2"]


async def test_cancelled_waiters_of_a_flood_are_not_counted_nor_served() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "held", order, release))
    await asyncio.sleep(0)
    flood = [asyncio.create_task(_hold(slots, "m", order, asyncio.Event())) for _ in range(50)]
    kept = asyncio.create_task(_hold(slots, "m", order, release))
    await asyncio.sleep(0)
    assert slots.waiting == 51
    for task in flood:
        task.cancel()
    await asyncio.gather(*flood, return_exceptions=True)
    assert slots.waiting == 1
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, kept), 2)
    assert order == ["held", "m"] and slots.waiting == 0
