"""What a Snapshot finds in the store: its own manifest from an earlier attempt, its baseline and
its drift report. These make every step after the capture repeatable: a retry resumes from the
stored manifest and reads back the stored drift instead of capturing and comparing again.

The store is async: these await it and never block the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from jiradrift.api.conditions import Reason, ReconcileError
from jiradrift.api.resources import JiraTenantSpec
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import CorruptStoredObject, SnapshotOfAnotherTenant
from jiradrift.snapshot.blast import ReachRule, annotate_report, site_radius
from jiradrift.snapshot.diff import incomparable
from jiradrift.snapshot.recording import diff_stored
from jiradrift.store.codec import skip

log = logging.getLogger(__name__)

# The manifest's captured_at is the operator's clock, creationTimestamp the API server's: allow
# this much skew before deciding a manifest predates its Snapshot (a re-created one of the same name).
CLOCK_SKEW = timedelta(seconds=120)


async def stored_manifest(
    store: SnapshotStore, snapshot_id: str, *, tenant: str, snapshot_type: str, created: datetime
) -> Manifest | None:
    """The manifest an earlier attempt stored for this Snapshot: same id, tenant and type, and
    captured after the Snapshot was ``created``, give or take :data:`CLOCK_SKEW` (a Snapshot re-created
    under the same name later starts afresh)."""
    try:
        manifest = await manifest_or_none(store, snapshot_id)
    except SnapshotOfAnotherTenant:  # a Snapshot of this name was another tenant's: start afresh
        return None
    except CorruptStoredObject as exc:  # planted or damaged: capture again (put_manifest then refuses the id)
        skip(exc)
        return None
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

    A named baseline of another type is no baseline for this type: a comparison across types means
    nothing, so such a type is compared with its previous complete snapshot. A named baseline must
    be one of this tenant's snapshots (the store refuses another's, and nothing of it is read): else
    the Snapshot fails with reason ``BaselineOfAnotherTenant``, naming the baseline, its tenant and the
    fix. A stored snapshot that is damaged or planted is skipped."""
    if spec.drift.compare_to == "baseline" and spec.drift.baseline_snapshot:
        try:
            named = await manifest_or_none(store, spec.drift.baseline_snapshot)
        except SnapshotOfAnotherTenant as exc:
            raise ReconcileError(
                Reason.BASELINE_OF_ANOTHER_TENANT,
                f"spec.drift.baselineSnapshot of JiraTenant {tenant} names Snapshot {exc.snapshot_id!r}, which "
                f"belongs to tenant {exc.owner!r}; name one of {tenant}'s own Snapshots there, or set "
                f"spec.drift.compareTo to previous",
            ) from None
        if named is None or named.read_nothing:
            return None
        if named.tenant == tenant and named.type == snapshot_type:
            return named
    for info in await store.list_snapshots(tenant):
        if info.snapshot_id != current and info.type == snapshot_type and info.complete and info.tenant == tenant:
            try:
                return await store.get_manifest(info.snapshot_id)
            except CorruptStoredObject as exc:
                skip(exc)  # the next older one is the baseline
            except SnapshotOfAnotherTenant as exc:  # listed for us, stored for another: never read it
                log.warning("%s: baseline candidate skipped: %s", tenant, exc)
    return None


async def stored_or_new_drift(
    store: SnapshotStore,
    manifest: Manifest,
    *,
    resumed: bool,
    spec: JiraTenantSpec,
    before_put: Callable[[], None] = lambda: None,
    attribute: Callable[[DriftReport, Manifest], Awaitable[None]] | None = None,
) -> tuple[DriftReport | None, Manifest | None]:
    """(report, baseline): a resumed Snapshot's stored report (against the baseline it was first
    compared to), else a fresh diff against the baseline, stored. None, None: no baseline yet.

    ``attribute`` (best effort, must not raise) completes a fresh report that has drift (its
    ``authors``) before the one write, so the store never holds it without them."""
    if resumed:
        stored = await store.get_drift(manifest.snapshot_id)
        if stored is not None:
            baseline = await manifest_or_none(store, stored.old_snapshot) if stored.old_snapshot else None
            return stored, baseline
    baseline = await find_baseline(store, manifest.tenant, manifest.type, manifest.snapshot_id, spec)
    if baseline is None or incomparable(baseline, manifest) is not None:
        return None, None  # e.g. the tenant's site changed: its first snapshot there has no baseline
    report = await diff_stored(store, baseline, manifest, spec.drift.ignore)
    annotate_report(report, await site_radius(store, manifest.tenant), ReachRule())  # what each change affects
    if attribute is not None and report.has_drift:
        await attribute(report, baseline)
    before_put()
    await store.put_drift(report)  # replaces an earlier attempt's report: idempotent
    return report, baseline
