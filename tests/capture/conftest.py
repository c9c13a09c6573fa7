"""Fixtures for capture tests: a FilesystemStore in a temp dir and a basic-auth client to the emulator."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jiradrift.clock import FakeClock
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.store.filesystem import FilesystemStore


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
