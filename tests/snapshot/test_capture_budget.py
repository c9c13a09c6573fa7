"""A capture over the tenant's byte budget stops: the store's BudgetExceeded ends the capture (no manifest),
and the sources reading Jira are cancelled rather than read to the end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.store.builders import emulator_client

from jiradrift.model.manifest import Manifest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.model.store_errors import BudgetExceeded
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.filesystem import FilesystemStore


async def capture_fields(sim: RunningEmulator, store: FilesystemStore, snapshot_id: str) -> Manifest:
    async with await emulator_client(sim) as jira:
        return await capture_snapshot(
            jira,
            store,
            tenant="acme",
            snapshot_type=SnapshotType.FIELDS,
            snapshot_id=snapshot_id,
            captured_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


async def test_a_capture_over_budget_raises_budget_exceeded_and_stores_no_manifest(
    jira_sim: RunningEmulator, tmp_path: Path
) -> None:
    budget = 4 * 1024
    store = FilesystemStore(tmp_path / "store", durable=False, budget_bytes=budget)
    with pytest.raises(BudgetExceeded) as info:
        await capture_fields(jira_sim, store, "acme-fields-1")
    assert info.value.tenant == "acme" and info.value.snapshot_type == "fields"
    assert await store.list_manifests() == []
    assert sum(f.stat().st_size for f in (tmp_path / "store" / "items").rglob("*.zst")) <= budget
    # Within a budget that fits, the same capture completes.
    roomy = FilesystemStore(tmp_path / "store", durable=False, budget_bytes=64 * 1024 * 1024)
    manifest = await capture_fields(jira_sim, roomy, "acme-fields-2")
    assert manifest.items and await roomy.list_manifests() == ["acme-fields-2"]
