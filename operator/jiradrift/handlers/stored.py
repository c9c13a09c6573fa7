"""What a Snapshot finds in the store: its own manifest from an earlier attempt, its baseline and
its drift report. These make every step after the capture repeatable: a retry resumes from the
stored manifest and reads back the stored drift instead of capturing and comparing again.

The store is async: these await it and never block the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from jiradrift.k8s.resources import JiraTenantSpec
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.diff import incomparable
from jiradrift.snapshot.recording import diff_stored

# The manifest's captured_at is the operator's clock, creationTimestamp the API server's: allow
# this much skew before deciding a manifest predates its Snapshot (a re-created one of the same name).
CLOCK_SKEW = timedelta(seconds=120)


async def stored_manifest(
    store: SnapshotStore, snapshot_id: str, *, tenant: str, snapshot_type: str, created: datetime
) -> Manifest | None:
    """The manifest an earlier attempt stored for this Snapshot: same id, tenant and type, and
    captured after the Snapshot was ``created``, give or take :data:`CLOCK_SKEW` (a Snapshot re-created
    under the same name later starts afresh)."""
    manifest = await manifest_or_none(store, snapshot_id)
    if manifest is None or manifest.tenant != tenant or manifest.type != snapshot_type:
        return None
    return manifest if manifest.captured_at >= created - CLOCK_SKEW else None


async def manifest_or_none(store: SnapshotStore, snapshot_id: str) -> Manifest | None:
    try:
        return await store.get_manifest(snapshot_id)
    except KeyError:
        return None


async def find_baseline(
    store: SnapshotStore, tenant: str, snapshot_type: str, current: str, spec: JiraTenantSpec
) -> Manifest | None:
    """The named baseline, else the newest other complete snapshot of this tenant and type.

    A named baseline of another type (or tenant) is no baseline for this type: a comparison across
    types means nothing, so such a type is compared with its previous complete snapshot.
    """
    if spec.drift.compare_to == "baseline" and spec.drift.baseline_snapshot:
        named = await manifest_or_none(store, spec.drift.baseline_snapshot)
        if named is None or named.read_nothing:
            return None
        if named.tenant == tenant and named.type == snapshot_type:
            return named
    for info in await store.list_snapshots(tenant):
        if info.snapshot_id != current and info.type == snapshot_type and info.complete:
            return await store.get_manifest(info.snapshot_id)
    return None


async def stored_or_new_drift(
    store: SnapshotStore,
    manifest: Manifest,
    *,
    resumed: bool,
    spec: JiraTenantSpec,
    before_put: Callable[[], None] = lambda: None,
) -> tuple[DriftReport | None, Manifest | None]:
    """(report, baseline): a resumed Snapshot's stored report (against the baseline it was first
    compared to), else a fresh diff against the baseline, stored. None, None: no baseline yet."""
    if resumed:
        stored = await store.get_drift(manifest.snapshot_id)
        if stored is not None:
            baseline = await manifest_or_none(store, stored.old_snapshot) if stored.old_snapshot else None
            return stored, baseline
    baseline = await find_baseline(store, manifest.tenant, manifest.type, manifest.snapshot_id, spec)
    if baseline is None or incomparable(baseline, manifest) is not None:
        return None, None  # e.g. the tenant's site changed: its first snapshot there has no baseline
    report = await diff_stored(store, baseline, manifest, spec.drift.ignore)
    before_put()
    await store.put_drift(report)  # replaces an earlier attempt's report: idempotent
    return report, baseline
