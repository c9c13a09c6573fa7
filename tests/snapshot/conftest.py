"""Fixtures for capture tests: a FilesystemStore in a temp dir and a basic-auth client to the emulator;
for incremental capture, the emulator on a manual clock (so audit delays and windows move when a test
says), a basic-auth client to it, and a window runner."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.plugins.sim import EmulatorFactory

from jiradrift.clock import FakeClock
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.incremental import WindowResult, capture_window
from jiradrift.store.filesystem import FilesystemStore


@dataclass
class Site:
    sim: RunningEmulator
    clock: ManualClock
    jira: JiraClient
    root: Path
    windows: int = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def store(self, name: str = "store") -> FilesystemStore:
        return FilesystemStore(self.root / name)

    async def window(self, store: str = "store", *, full: bool = False, **kwargs: object) -> WindowResult:
        """One window of every type, at the emulator's now, into ``store``."""
        self.windows += 1
        n = self.windows
        return await capture_window(
            self.jira,
            self.store(store),
            tenant="t",
            types=list(SnapshotType),
            captured_at=self.now(),
            snapshot_id=lambda t: f"t-{t}-{n:04d}",
            full=full,
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "store")


@pytest.fixture
def connect() -> Callable[[RunningEmulator], Awaitable[JiraClient]]:
    async def open_client(sim: RunningEmulator) -> JiraClient:
        c = sim.credentials
        return await JiraClient.connect(
            sim.base_url,
            ApiTokenAuth(c.email, c.api_token),
            # a generous timeout: a slow answer on a loaded machine must not become a retry
            settings=ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=30.0),
            clock=FakeClock(),
            rng=random.Random(1),
        )

    return open_client


SiteFactory = Callable[..., "AsyncIterator[Site]"]


@pytest.fixture
async def site(jira_sim_factory: EmulatorFactory, tmp_path: Path) -> AsyncIterator[Site]:
    clock = ManualClock()
    sim = jira_sim_factory("small", clock=clock)
    c = sim.credentials
    jira = await JiraClient.connect(
        sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=30.0),
        clock=FakeClock(),
        rng=random.Random(1),
    )
    async with jira:
        yield Site(sim, clock, jira, tmp_path)
