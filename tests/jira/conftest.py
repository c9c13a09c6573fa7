"""Fixtures for tests that talk to the emulator over loopback."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest

from jiradrift.clock import FakeClock
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.sim.emulator import RunningEmulator

# timeout: generous, so that a loaded machine never turns a slow loopback answer into a retry that
# changes the request counts tests assert on (timeout faults set their own, shorter one).
FAST = ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=30.0)


@pytest.fixture
def fast() -> ClientSettings:
    return FAST


@pytest.fixture
def basic_client() -> Callable[..., Awaitable[JiraClient]]:
    return _basic_client


async def _basic_client(
    sim: RunningEmulator, *, clock: FakeClock | None = None, settings: ClientSettings = FAST
) -> JiraClient:
    """A basic-auth client whose retry sleeps are instant (a FakeClock), so faults cost no wall time."""
    c = sim.credentials
    return await JiraClient.connect(
        sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=settings,
        clock=clock or FakeClock(),
        rng=random.Random(5),
    )
