"""Pytest fixtures for the emulator. Registered from ``tests/conftest.py`` with
``pytest_plugins = ["tests.plugins.sim"]`` (test tooling, not shipped).

- ``jira_sim``: a running small site (seed 1), fresh per test.
- ``jira_sim_factory``: ``jira_sim_factory(size="medium", seed=3, latency_ms=20, clock=ManualClock())``
  returns a running emulator; all are stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from jiradrift.sim.emulator import Emulator, RunningEmulator

EmulatorFactory = Callable[..., RunningEmulator]


@pytest.fixture
def jira_sim_factory() -> Iterator[EmulatorFactory]:
    with ExitStack() as stack:

        def start(size: str = "small", seed: int = 1, **kwargs: Any) -> RunningEmulator:
            return stack.enter_context(Emulator(size=size, seed=seed, **kwargs).running())

        yield start


@pytest.fixture
def jira_sim(jira_sim_factory: EmulatorFactory) -> RunningEmulator:
    return jira_sim_factory()
