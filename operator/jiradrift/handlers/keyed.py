"""Work that follows a Snapshot, run outside its capture slot: per key one job at a time, in order;
a few keys at once; a bounded number of keys waiting.

    pushes = KeyedWorkers("history push", limit=4, max_keys=1000)
    pushes.submit("team-a/acme", request, run=publish)  # returns at once
    await pushes.idle()                                  # every job submitted so far done
    await pushes.stop()                                  # at cleanup: cancelled, awaited

A job submitted while the key's previous one runs (or waits for a slot) replaces the one waiting,
so a key never has more than one job running and one waiting, and jobs of one key never overlap or
reorder: fit for jobs whose newest value says all (a history push pushes what the store holds).
Each key's worker ends when nothing is waiting; a key with no worker holds no memory. A job's
exception is logged, never raised: the caller has long moved on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from jiradrift.redact import redact

log = logging.getLogger("jiradrift.handlers")

T = TypeVar("T")
Job = Callable[[T], Awaitable[object]]  # what it returns is dropped


class KeyedWorkers(Generic[T]):
    def __init__(self, name: str, *, limit: int, max_keys: int) -> None:
        if limit < 1 or max_keys < 1:
            raise ValueError(f"{name}: at least one job and one key at a time")
        self.name = name
        self.limit = limit
        self.max_keys = max_keys
        self._slots: asyncio.Semaphore | None = None  # made in the running loop, at first use
        self._waiting: dict[str, tuple[T, Job[T]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.refused = 0  # jobs refused because max_keys keys were busy

    def busy(self, key: str) -> bool:
        """Whether a job of ``key`` runs or waits."""
        return key in self._workers

    def __len__(self) -> int:
        return len(self._workers)

    def submit(self, key: str, value: T, run: Job[T]) -> bool:
        """Run ``run(value)`` after the key's earlier jobs (in place of one still waiting); False (and
        a log line) when ``max_keys`` other keys are busy: the caller's next submit for the key is its retry."""
        if key in self._waiting:
            self._waiting[key] = (value, run)
            return True
        if key not in self._workers and len(self._workers) >= self.max_keys:
            self.refused += 1
            log.warning("%s of %s not started: %d others are running or waiting", self.name, key, len(self._workers))
            return False
        self._waiting[key] = (value, run)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"{self.name} {key}")
        return True

    async def _work(self, key: str) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        try:
            while key in self._waiting:
                async with self._slots:
                    value, run = self._waiting.pop(key)  # the newest that came while waiting for a slot
                    try:
                        await run(value)
                    except Exception as exc:
                        log.warning("%s of %s failed: %s", self.name, key, redact(repr(exc)))
        finally:
            self._workers.pop(key, None)
            self._waiting.pop(key, None)

    async def idle(self) -> None:
        """Return once every job submitted so far (and any submitted meanwhile) has ended."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def stop(self, **_: object) -> None:
        """Cancel every job and wait for them (kopf cleanup handler: takes and ignores kopf's kwargs)."""
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
