"""handlers/keyed.KeyedWorkers: per key one job at a time and in order, the newest job replacing one waiting,
a bounded number at once and of keys, nothing left behind when idle, cancelled at stop."""

from __future__ import annotations

import asyncio

import pytest

from jiradrift.handlers.keyed import KeyedWorkers


class Gate:
    """Jobs that run until the test opens their gate, recording what ran and what overlapped."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, list[int]]] = []
        self.running: set[str] = set()
        self.most = 0
        self.started: dict[str, asyncio.Event] = {}
        self.gates: dict[str, asyncio.Event] = {}

    def job(self, key: str):  # type: ignore[no-untyped-def]
        async def run(values: list[int]) -> None:
            assert key not in self.running, f"two jobs of {key} overlap"
            self.running.add(key)
            self.most = max(self.most, len(self.running))
            self.started.setdefault(key, asyncio.Event()).set()
            await self.gates.setdefault(key, asyncio.Event()).wait()
            self.running.discard(key)
            self.ran.append((key, values))

        return run


async def test_jobs_of_a_key_run_one_at_a_time_in_order_the_newest_replacing_one_waiting() -> None:
    gate = Gate()
    workers: KeyedWorkers[list[int]] = KeyedWorkers("test", limit=4, max_keys=10)
    assert workers.submit("a", [1], gate.job("a"))
    await gate.started.setdefault("a", asyncio.Event()).wait()
    assert workers.submit("a", [2], gate.job("a"))  # waits behind [1]
    assert workers.submit("a", [3], gate.job("a"))  # replaces the waiting one
    gate.gates["a"].set()
    await workers.idle()
    assert gate.ran == [("a", [1]), ("a", [3])]
    assert not workers.busy("a") and len(workers) == 0  # nothing kept for an idle key


async def test_at_most_limit_keys_at_once_and_max_keys_waiting() -> None:
    gate = Gate()
    workers: KeyedWorkers[list[int]] = KeyedWorkers("test", limit=2, max_keys=3)
    for key in "abc":
        assert workers.submit(key, [1], gate.job(key))
    assert not workers.submit("d", [1], gate.job("d"))  # a fourth key is refused, counted
    assert workers.refused == 1
    await gate.started.setdefault("a", asyncio.Event()).wait()
    await gate.started.setdefault("b", asyncio.Event()).wait()
    assert "c" not in gate.started  # waits for a slot
    for key in "abc":
        gate.gates.setdefault(key, asyncio.Event()).set()
    await workers.idle()
    assert gate.most == 2 and sorted(k for k, _ in gate.ran) == ["a", "b", "c"]


async def test_a_failing_job_does_not_stop_the_next() -> None:
    ran: list[int] = []

    async def run(value: int) -> None:
        if value == 1:
            raise RuntimeError("push refused")
        ran.append(value)

    workers: KeyedWorkers[int] = KeyedWorkers("history push", limit=1, max_keys=1)
    workers.submit("a", 1, run)
    workers.submit("a", 2, run)
    await workers.idle()
    assert ran == [2] and len(workers) == 0  # logged, not raised into idle() or the next job


async def test_stop_cancels_what_runs_and_what_waits() -> None:
    gate = Gate()
    workers: KeyedWorkers[list[int]] = KeyedWorkers("test", limit=1, max_keys=5)
    workers.submit("a", [1], gate.job("a"))
    workers.submit("b", [1], gate.job("b"))
    await gate.started.setdefault("a", asyncio.Event()).wait()
    await workers.stop()
    assert len(workers) == 0 and gate.ran == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KeyedWorkers("test", limit=0, max_keys=1)
