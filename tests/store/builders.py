"""Builders for store, diff and drift tests: canonical bodies, snapshots, reports."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.kinds import Severity
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import Change, ChangeOp, DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.sim.emulator import RunningEmulator

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def canonical(obj: Any) -> tuple[str, bytes]:
    """(sha256 hex, canonical JSON bytes) exactly as capture produces them."""
    body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest(), body


async def put_bodies(store: SnapshotStore, objects: dict[str, Any]) -> dict[str, str]:
    """Put every object's canonical body; returns the manifest items (key -> digest)."""
    items = {}
    for key, obj in objects.items():
        digest, body = canonical(obj)
        await store.put_item(digest, body)
        items[key] = digest
    return items


async def put_snapshot(
    store: SnapshotStore,
    snapshot_id: str,
    objects: dict[str, Any],
    *,
    tenant: str = "acme",
    type: str = "workflows",
    hours: float = 0,
) -> Manifest:
    """Put every body, then the manifest (capture's order); returns the manifest as stored."""
    manifest = Manifest(
        snapshot_id=snapshot_id,
        tenant=tenant,
        type=type,
        captured_at=T0 + timedelta(hours=hours),
        items=await put_bodies(store, objects),
    )
    return await store.put_manifest(manifest)


def report_with(snapshot_id: str, n: int, *, tenant: str = "acme", type: str = "workflows") -> DriftReport:
    """A drift report of ``n`` distinguishable changes for ``snapshot_id``."""
    changes = [
        Change(f"field/f{i:06d}", ChangeOp.MODIFIED, "description", Severity.MEDIUM, f"old {i}", f"new {i}")
        for i in range(n)
    ]
    return DriftReport(
        tenant=tenant, type=type, new_snapshot=snapshot_id, old_snapshot=None, changed=n, changes=changes
    )


async def emulator_client(sim: RunningEmulator) -> JiraClient:
    """A basic-auth client to the emulator, fast and patient (a loaded machine must not cause retries)."""
    c = sim.credentials
    return await JiraClient.connect(
        sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=30.0),
        rng=random.Random(1),
    )
