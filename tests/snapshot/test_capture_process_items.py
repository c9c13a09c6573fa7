"""The manifests of all captures in a process together are bounded (``--max-process-items``), not only
each capture on its own (``--max-capture-items``): many captures of a site whose listings never end
cannot hold N x 200,000 manifest entries. A capture takes its items from the process's
:class:`~jiradrift.jira.budget.ItemBudget` and gives them back once its manifest is stored; one that
finds the budget spent ends Incomplete with a reason naming the flag and the chart value.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.snapshot.test_capture_hostile_sites import TARGET

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.budget import ItemBudget
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.limits import ResponseLimits
from jiradrift.model.manifest import Manifest
from jiradrift.sim import Emulator
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.filesystem import FilesystemStore

AT = datetime(2026, 1, 1, tzinfo=UTC)
PER_CAPTURE, PROCESS = 300, 500
LIMITS = ResponseLimits(max_capture_items=PER_CAPTURE, max_process_items=PROCESS)
SPENT = (
    f"hold the whole budget of {PROCESS} items (--max-process-items; chart value operator.siteLimits.maxProcessItems)"
)


async def capture(sim: RunningEmulator, out: Path, name: str, items: ItemBudget) -> Manifest:
    c = sim.credentials
    settings = ClientSettings(requests_per_second=10_000, limits=LIMITS, items=items)
    async with await JiraClient.connect(sim.base_url, ApiTokenAuth(c.email, c.api_token), settings=settings) as jira:
        return await capture_snapshot(
            jira, FilesystemStore(out), tenant=name, snapshot_type="priorities", snapshot_id=f"{name}-p", captured_at=AT
        )


async def test_captures_together_stop_at_the_process_item_budget_and_give_it_back(tmp_path: Path) -> None:
    with Emulator(seed=2).running() as sim:
        # Every resolution listing: isLast never true, fresh ids, a total a capture may hold.
        sim.faults.huge_total(path=TARGET, total=PER_CAPTURE)
        items = ItemBudget(LIMITS.max_process_items)  # one per process, shared by every client
        manifests = await asyncio.gather(*(capture(sim, tmp_path, f"t{i}", items) for i in range(3)))
        # Three captures of up to 300 items each: together they never held more than the 500 of the process.
        assert items.peak <= PROCESS, items.peak
        assert items.used == 0  # every stored manifest gave its items back
        held = sum(len(m.items) for m in manifests)
        assert held <= PROCESS, held
        refused = [m for m in manifests if any(SPENT in e.message for e in m.errors)]
        assert refused, [m.errors[:2] for m in manifests]
        for m in refused:
            assert not m.complete
            assert any(e.kind == "resolution" and e.key is None for e in m.errors), m.errors  # unknown, not removed
        # The budget came back: a capture started afterwards reaches its own bound, not the process's.
        after = await capture(sim, tmp_path, "after", items)
        assert any(f"passed {PER_CAPTURE} items" in e.message for e in after.errors), after.errors
        assert not any(SPENT in e.message for e in after.errors), after.errors
        assert items.used == 0


def test_the_process_budget_holds_at_least_one_capture() -> None:
    with pytest.raises(ValueError, match=r"max_process_items \(299\) must be at least max_capture_items \(300\)"):
        ResponseLimits(max_capture_items=300, max_process_items=299)
