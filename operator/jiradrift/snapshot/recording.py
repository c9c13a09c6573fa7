"""Record drift: diff a stored snapshot against its baseline and store the report beside it.

Capture calls ``record_drift(store, manifest.snapshot_id)`` right after ``put_manifest``; the drift
listing then pages through stored reports. ``backfill_drift`` records the reports a store is
missing (e.g. snapshots written by a capture that did not record drift).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.diff import ItemDelta, diff_manifests

DIFF_THREADS = 2  # CPU-bound under the GIL: more threads would not diff faster, only starve the loop
_DIFFS = ThreadPoolExecutor(max_workers=DIFF_THREADS, thread_name_prefix="jiradrift-diff")


async def predecessor_of(store: SnapshotStore, snapshot_id: str) -> str | None:
    """The newest snapshot of the same tenant and type captured before ``snapshot_id`` that read
    something (a capture that read nothing is never a baseline)."""
    infos = await store.list_snapshots()
    me = next((i for i in infos if i.snapshot_id == snapshot_id), None)
    if me is None:
        await store.get_manifest(snapshot_id)  # raises the store's "not found" error, naming the id
        return None
    key = (me.captured_at, me.snapshot_id)
    for info in infos:  # newest first: the first older one wins
        if (
            info.tenant == me.tenant
            and info.type == me.type
            and (info.captured_at, info.snapshot_id) < key
            and not info.read_nothing
        ):
            return info.snapshot_id
    return None


async def bodies_for_diff(
    store: SnapshotStore, old: Manifest, new: Manifest, delta: ItemDelta | None = None
) -> dict[str, bytes]:
    """The bodies ``diff_manifests(old, new)`` reads (added, removed and modified items), read at
    once so the store reads each container of bodies once and the diff itself stays pure."""
    delta = delta if delta is not None else ItemDelta.of(old, new)
    return await store.get_items(delta.digests(old, new))


class _Bodies:
    """An ItemReader over bodies read beforehand."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def get_item(self, digest: str) -> bytes:
        return self.bodies[digest]


async def diff_stored(store: SnapshotStore, old: Manifest, new: Manifest, ignore: Sequence[str] = ()) -> DriftReport:
    """``diff_manifests`` over bodies in ``store``, read without blocking the event loop, and run off
    it: comparing 10,000 changed paths with 100 ignore rules is seconds of CPU (10.3 s measured),
    which on the loop would stall every watch, Lease renewal and probe of the operator for as long.
    At most :data:`DIFF_THREADS` diffs run at once, in their own threads (not the default executor's,
    which the filesystem store's reads wait on); the CRD's limits on ignore rules
    (``spec.drift.ignore``: 100 rules of at most 512 characters) bound each."""
    delta = ItemDelta.of(old, new)  # once: on 100k items each pass over the manifests costs as much as the rest
    bodies = _Bodies(await bodies_for_diff(store, old, new, delta))
    job = functools.partial(diff_manifests, old, new, bodies, tuple(ignore), delta=delta)
    return await asyncio.get_running_loop().run_in_executor(_DIFFS, job)


async def record_drift(
    store: SnapshotStore,
    snapshot_id: str,
    *,
    baseline: str | None = None,
    ignore: Sequence[str] = (),
) -> DriftReport:
    """Diff ``snapshot_id`` against ``baseline`` (default: its predecessor) and store the report.

    The first snapshot of a tenant and type has no baseline: its report is empty, not "everything
    was added".
    """
    new = await store.get_manifest(snapshot_id)
    baseline = baseline if baseline is not None else await predecessor_of(store, snapshot_id)
    if baseline is None:
        report = DriftReport(tenant=new.tenant, type=new.type, new_snapshot=snapshot_id, old_snapshot=None)
    else:
        report = await diff_stored(store, await store.get_manifest(baseline), new, ignore)
    await store.put_drift(report)
    return report


async def backfill_drift(store: SnapshotStore, tenant: str | None = None, ignore: Sequence[str] = ()) -> int:
    """Record drift for every snapshot that has no stored report yet; returns how many."""
    missing = [i.snapshot_id for i in await store.list_snapshots(tenant) if i.change_count is None]
    for snapshot_id in reversed(missing):  # oldest first, like capture would have
        await record_drift(store, snapshot_id, ignore=ignore)
    return len(missing)
