"""The process-wide response memory budget (jiradrift.jira.budget), without a network."""

from __future__ import annotations

import asyncio

import pytest

from jiradrift.jira.budget import ByteBudget, parse_cost
from jiradrift.jira.errors import MemoryBudgetExceeded
from jiradrift.jira.limits import ResponseLimits, read_body
from jiradrift.sim.hostile import gzip_bomb

MiB = 1024 * 1024


async def test_a_reader_waits_until_another_gives_bytes_back() -> None:
    budget = ByteBudget(10)
    async with budget.claim("GET", "/a") as a:
        await a.take(8)
        async with budget.claim("GET", "/b") as b:
            waiting = asyncio.create_task(b.take(5))
            await asyncio.sleep(0)
            assert not waiting.done() and budget.used == 8
            a.give_back(8)
            await waiting
            assert (a.held, b.held, budget.used) == (0, 5, 5)
    assert budget.used == 0 and budget.peak == 8


async def test_a_deadlock_abandons_the_reader_holding_the_most() -> None:
    budget = ByteBudget(10)
    async with budget.claim("GET", "/small") as small, budget.claim("GET", "/big") as big:
        await small.take(3)
        await big.take(7)
        small_more = asyncio.create_task(small.take(2))
        await asyncio.sleep(0)
        assert not small_more.done()  # /big may still finish and give its 7 back
        with pytest.raises(MemoryBudgetExceeded, match=r"hold the whole 10 bytes .*this one \(holding 7 bytes"):
            await big.take(2)  # now both wait for the other: /big, holding the most, is abandoned
        big.give_back(big.held)
        await small_more
        assert small.held == 5
    assert budget.used == 0 and budget.refused == 1


async def test_a_claim_larger_than_the_budget_is_refused_at_once() -> None:
    budget = ByteBudget(10)
    async with budget.claim("GET", "/x") as claim:
        with pytest.raises(MemoryBudgetExceeded, match="whole"):
            await claim.take(11)
    assert budget.used == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    budget = ByteBudget(10)
    async with budget.claim("GET", "/a") as a, budget.claim("GET", "/b") as b:
        await a.take(10)
        waiting = asyncio.create_task(b.take(1))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        a.give_back(10)
        await b.take(10)  # nobody left in front of it
    assert budget.used == 0


async def test_a_bomb_is_inflated_only_as_far_as_the_budget_allows() -> None:
    body = gzip_bomb(31 * MiB, b"[", b"]")

    async def wire() -> object:
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    budget = ByteBudget(64 * MiB)
    async with budget.claim("GET", "/bomb") as claim:
        data = await read_body(wire(), "gzip", 32 * MiB, "GET", "/bomb", claim)  # type: ignore[arg-type]
        assert len(data) == 31 * MiB and claim.held == 31 * MiB
    assert budget.peak <= 62 * MiB + MiB  # the parts and their join, never more
    assert budget.used == 0


def test_the_parse_cost_counts_values() -> None:
    assert parse_cost(b" " * 100) == 100 + 72
    assert parse_cost(b"[{},{},{}]") == 10 + 72 * (2 + 1 + 3 + 1)


def test_the_capture_page_bound_is_per_snapshot_type() -> None:
    limits = ResponseLimits()
    assert limits.capture_pages("priorities") == limits.max_capture_pages == 5_000
    assert limits.capture_pages("screens") == 10 * limits.max_capture_pages  # xl reads 2,750 long pages
