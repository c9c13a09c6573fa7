"""A big diff does not stall the operator's event loop: it runs off the loop, through the same code
path a Snapshot's drift step takes (handlers/stored.stored_or_new_drift over a real store), while a
probe on the loop measures how late its wake-ups come.

The diff is sized by the admission limits of spec.drift.ignore (100 rules of up to 512 characters,
each one that stays alive to the end of every path) and enough changed paths to take seconds of
CPU; on the loop, the probe's worst wake-up would be about as late as the whole diff."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.store.builders import put_snapshot

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.handlers.stored import stored_or_new_drift
from jiradrift.store.filesystem import FilesystemStore

ITEMS, PATHS_PER_ITEM = 150, 40  # 6,000 changed paths
RULES = [f"field/*:{'**?' * 166}~{i:02d}" for i in range(100)]  # the CRD's most: 100 rules, <= 512 characters
PROBE_SECONDS = 0.01
MAX_LAG = 0.5  # the event-loop test's slow-callback threshold (tests/operator/test_event_loop.py)


def body(i: int, version: int) -> dict[str, Any]:
    return {"id": f"f{i}", "name": f"Field {i}", **{f"p{j}": f"v{version}-{j}" for j in range(PATHS_PER_ITEM)}}


async def _diff_under_probe(root: Path, items: int) -> tuple[float, float]:
    """(seconds the diff took, worst lateness of the loop's wake-ups meanwhile) for ``items`` changed items."""
    store = FilesystemStore(root, durable=False)
    await put_snapshot(store, "old", {f"field/f{i}": body(i, 1) for i in range(items)}, hours=0)
    new = await put_snapshot(store, "new", {f"field/f{i}": body(i, 2) for i in range(items)}, hours=1)
    spec = JiraTenantSpec.model_validate(
        {
            "site": "https://acme.atlassian.net",
            "auth": {"apiToken": {"secretRef": {"name": "j"}}},
            "drift": {"ignore": RULES},
        }
    )
    lag = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal lag
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(PROBE_SECONDS)
            lag = max(lag, time.perf_counter() - before - PROBE_SECONDS)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(PROBE_SECONDS * 2)  # the probe is running before the diff starts
    started = time.perf_counter()
    report, baseline = await stored_or_new_drift(store, new, resumed=False, spec=spec)
    took = time.perf_counter() - started
    done.set()
    await prober
    assert baseline is not None and report is not None
    assert report.changed == items and len(report.changes) == items * PATHS_PER_ITEM  # nothing ignored
    return took, lag


async def test_a_big_diff_with_the_most_ignore_rules_leaves_the_loop_responsive(tmp_path: Path) -> None:
    assert all(len(rule) <= 512 for rule in RULES)
    # The diff must take long enough that a blocked loop would show: on a fast machine (or after the
    # diff got faster) the starting size may not, so it doubles until it does (at most 16x).
    for scale in (1, 2, 4, 8, 16):
        took, lag = await _diff_under_probe(tmp_path / f"store-{scale}", ITEMS * scale)
        if took > 2 * MAX_LAG:
            break
    assert took > 2 * MAX_LAG, f"the diff took {took:.2f} s at 16x: too small to tell a blocked loop apart"
    assert lag < MAX_LAG, f"the loop's wake-ups came up to {lag:.2f} s late during a {took:.2f} s diff"
