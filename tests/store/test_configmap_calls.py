"""API calls of the ConfigMap store per capture grow with packs, not items (real API server, emulated site).

A first capture of every snapshot type writes a few objects per type (packs, items parts, manifest) and
lists the tenant's manifests once per type; an unchanged capture lists once, reads at most one items
index per type and writes nothing but its manifests. ``bench/store_calls.py`` prints the same numbers
for the ``large`` site against the previous implementation.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from tests.store.builders import emulator_client

from jiradrift.kube.client import Kube
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.configmap import ConfigMapStore

pytestmark = pytest.mark.k8s

TENANT = "team-a/acme"


async def capture_every_type(sim: RunningEmulator, store: ConfigMapStore, label: str, at: datetime) -> int:
    jira = await emulator_client(sim)
    items = 0
    async with jira:
        for stype in SnapshotType:
            sid = f"acme-{stype.value}-{label}"
            owner = {"apiVersion": "jiradrift.io/v1alpha1", "kind": "Snapshot", "name": sid, "uid": str(uuid.uuid4())}
            manifest = await capture_snapshot(
                jira, store.for_owner(owner), tenant=TENANT, snapshot_type=stype, snapshot_id=sid, captured_at=at
            )
            items += len(manifest.items)
    return items


async def test_calls_per_capture_are_bounded_by_packs_not_items(
    jira_sim: RunningEmulator, kube: Kube, k8s_namespace: str
) -> None:
    calls: Counter[tuple[str, str]] = Counter()

    def observe(method: str, path: str, sent: int, received: int) -> None:
        calls[(method, "collection" if path.endswith("/configmaps") else "object")] += 1

    kube.observer = observe
    store = ConfigMapStore(kube, k8s_namespace, TENANT)
    types = len(SnapshotType)
    at = datetime(2026, 1, 1, tzinfo=UTC)

    items = await capture_every_type(jira_sim, store, "1", at)
    first, calls = calls, Counter()
    assert items > 20 * types  # a site of many items per type: per-item calls would show
    writes = sum(n for (method, _), n in first.items() if method != "GET")
    assert first[("GET", "collection")] == types  # the tenant's manifests, listed once per capture
    assert first[("GET", "object")] == 0  # nothing to read yet
    assert first[("POST", "collection")] == writes <= 3 * types  # a pack, an items index and a manifest each

    assert await capture_every_type(jira_sim, store, "2", at + timedelta(hours=1)) == items
    again = calls
    assert again[("GET", "collection")] == types
    assert again[("GET", "object")] <= types  # at most one items index per type (0: still in memory)
    assert again[("POST", "collection")] == types  # its manifests, and nothing else
    assert sum(again.values()) == again[("GET", "collection")] + again[("GET", "object")] + types
    listed = await store.list_snapshots(TENANT)
    assert sum(1 for info in listed if info.unchanged_from) == types

    # A fresh process (empty caches) reads each type's index once and still writes only manifests.
    calls = Counter()
    fresh = ConfigMapStore(kube, k8s_namespace, TENANT)
    assert await capture_every_type(jira_sim, fresh, "3", at + timedelta(hours=2)) == items
    assert calls[("GET", "object")] == types and calls[("POST", "collection")] == types
    assert sum(calls.values()) == 3 * types
