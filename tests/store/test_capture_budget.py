"""A capture over the tenant's byte budget stops: the store's BudgetExceeded ends the capture (no manifest),
and the sources reading Jira are cancelled rather than read to the end."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.model.store_errors import BudgetExceeded
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.filesystem import FilesystemStore


async def test_a_capture_over_budget_raises_budget_exceeded_and_stores_no_manifest(
    jira_sim: RunningEmulator, tmp_path: Path
) -> None:
    c = jira_sim.credentials
    jira = await JiraClient.connect(
        jira_sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=ClientSettings(max_concurrency=4, requests_per_second=10_000, timeout=30.0),
        rng=random.Random(1),
    )
    budget = 4 * 1024
    store = FilesystemStore(tmp_path / "store", durable=False, budget_bytes=budget)
    async with jira:
        with pytest.raises(BudgetExceeded) as info:
            await capture_snapshot(
                jira,
                store,
                tenant="acme",
                snapshot_type=SnapshotType.FIELDS,
                snapshot_id="acme-fields-1",
                captured_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
    assert info.value.tenant == "acme" and info.value.snapshot_type == "fields"
    assert await store.list_manifests() == []
    assert sum(f.stat().st_size for f in (tmp_path / "store" / "items").rglob("*.zst")) <= budget
    # Within a budget that fits, the same capture completes.
    roomy = FilesystemStore(tmp_path / "store", durable=False, budget_bytes=64 * 1024 * 1024)
    async with await JiraClient.connect(
        jira_sim.base_url, ApiTokenAuth(c.email, c.api_token), rng=random.Random(1)
    ) as again:
        manifest = await capture_snapshot(
            again,
            roomy,
            tenant="acme",
            snapshot_type=SnapshotType.FIELDS,
            snapshot_id="acme-fields-2",
            captured_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    assert manifest.items and await roomy.list_manifests() == ["acme-fields-2"]
