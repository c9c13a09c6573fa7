"""Retention: keep the newest ``keepLast`` finished Snapshots per type, within the byte budget.

The choice is pure (:func:`beyond_retention`, :func:`budget_candidates`); :func:`prune` does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from jiradrift.api.baseline import SnapshotEntry
from jiradrift.api.resources import JiraTenantSpec, SnapshotPhase
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import delete_object
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import StoreError

log = logging.getLogger("jiradrift.retention")

FINISHED = (SnapshotPhase.COMPLETED, SnapshotPhase.INCOMPLETE, SnapshotPhase.FAILED)


def finished_by_type(snapshots: Iterable[SnapshotEntry]) -> dict[str, list[SnapshotEntry]]:
    """Finished Snapshots per type, newest first."""
    by_type: dict[str, list[SnapshotEntry]] = {}
    for snap in snapshots:
        if snap.phase in FINISHED:
            by_type.setdefault(snap.type, []).append(snap)
    for snaps in by_type.values():
        snaps.sort(key=lambda s: s.order, reverse=True)
    return by_type


def protected(snapshots: Iterable[SnapshotEntry], baseline: str | None) -> set[str]:
    """Snapshots retention never removes: the named baseline and every accepted one."""
    return {s.name for s in snapshots if s.accepted} | ({baseline} if baseline else set())


def unaccepted_evidence(snapshots: Iterable[SnapshotEntry]) -> set[str]:
    """Snapshots that recorded drift after their type's accepted snapshot. They hold the audit-log
    attribution `jiradrift drift list --unaccepted` shows, so ``keepLast`` spares them until the
    drift is accepted; the byte budget may still take them."""
    snapshots = list(snapshots)
    accepted: dict[str, tuple[datetime, str]] = {}
    for s in snapshots:
        if s.accepted:
            accepted[s.type] = max(accepted.get(s.type, s.order), s.order)
    return {s.name for s in snapshots if s.drift == "true" and s.type in accepted and s.order > accepted[s.type]}


def beyond_keep_last(by_type: dict[str, list[SnapshotEntry]], keep_last: int, keep: set[str]) -> list[SnapshotEntry]:
    """The Snapshots past the newest ``keep_last`` of their type; never a protected one."""
    return [s for snaps in by_type.values() for s in snaps[keep_last:] if s.name not in keep]


def beyond_retention(
    by_type: dict[str, list[SnapshotEntry]], keep_last: int, keep: set[str], evidence: set[str]
) -> list[SnapshotEntry]:
    """The Snapshots past the newest ``keep_last`` of their type, less the newest ``keep_last`` of
    them per type that are unaccepted ``evidence``: a type keeps at most ``2 * keep_last`` Snapshots
    besides the protected ones. Incremental windows create one per change, so a busy site that
    nobody accepts must not grow its Snapshots without bound."""
    doomed: list[SnapshotEntry] = []
    for snaps in by_type.values():
        spared = 0
        for s in snaps[keep_last:]:  # newest first
            if s.name in keep:
                continue
            if s.name in evidence and spared < keep_last:
                spared += 1
                continue
            doomed.append(s)
    return doomed


def budget_candidates(
    by_type: dict[str, list[SnapshotEntry]], kept: list[SnapshotEntry], keep: set[str]
) -> list[SnapshotEntry]:
    """Oldest first, the Snapshots that may go to fit the byte budget: never the newest of a type
    (the next baseline) nor a protected one."""
    latest = {snaps[0].name for snaps in by_type.values() if snaps}
    return [s for s in sorted(kept, key=lambda s: s.order) if s.name not in latest | keep]


async def prune(
    ctx: OperatorContext,
    namespace: str,
    tkey: str,
    spec: JiraTenantSpec,
    snapshots: Sequence[SnapshotEntry],
    accepted: Iterable[str] = (),
) -> list[str]:
    """Delete the oldest finished Snapshots beyond ``retention.keepLast`` per type, and their
    payloads; then the oldest until the tenant fits ``retention.maxBytes``.

    ``snapshots`` are the tenant's Snapshots as the operator's watch knows them; ``accepted`` names
    any this reconciliation accepted since (their label may not have come back through the watch)."""
    by_type = finished_by_type(snapshots)
    baseline = spec.drift.baseline_snapshot if spec.drift.compare_to == "baseline" else None
    keep = protected(snapshots, baseline) | set(accepted)
    doomed = beyond_retention(by_type, spec.retention.keep_last, keep, unaccepted_evidence(snapshots))
    store = await ctx.store_for(namespace, tkey)
    deleted = [await delete_snapshot(ctx, store, namespace, s) for s in doomed]
    kept = [s for snaps in by_type.values() for s in snaps if s not in doomed]

    for snap in budget_candidates(by_type, kept, keep):
        if (await store.usage(tkey)).total_bytes <= spec.retention.max_bytes:
            break
        deleted.append(await delete_snapshot(ctx, store, namespace, snap))
    return deleted


async def delete_snapshot(ctx: OperatorContext, store: SnapshotStore, namespace: str, snap: SnapshotEntry) -> str:
    """The payload, the window's released Lease, then the Snapshot object."""
    try:
        await store.delete_snapshot(snap.name)
    except KeyError:
        pass
    except StoreError as exc:  # another tenant's or unreadable payload: not ours to remove; pruning goes on
        log.warning("%s/%s: its stored payload was left in place: %s", namespace, snap.name, exc)
    if snap.lease:
        await delete_released_lease(ctx, namespace, snap.lease)
    await delete_object(ctx.kube, namespace, "snapshots", snap.name)
    return snap.name


async def delete_released_lease(ctx: OperatorContext, namespace: str, lease: str) -> None:
    """The window's Lease goes with its Snapshot, unless someone holds it right now (a capture
    deletes its Lease when it releases it; this removes one left by a holder that died)."""
    path = resource_path("coordination.k8s.io", "v1", "leases", namespace, lease)
    try:
        current = await ctx.kube.get(path)
        if (current.get("spec") or {}).get("holderIdentity"):
            return
        await ctx.kube.delete_unchanged(path, current["metadata"]["resourceVersion"])
    except KubeError as exc:
        if not exc.not_found:
            log.warning("could not delete Lease %s/%s: %s", namespace, lease, exc.reason)
