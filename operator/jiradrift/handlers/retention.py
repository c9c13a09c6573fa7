"""Retention: keep the newest ``keepLast`` finished Snapshots per type, within the byte budget.

The choice is pure (:func:`beyond_keep_last`, :func:`over_budget`); :func:`prune` does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import delete_object, object_path
from jiradrift.k8s.resources import LABEL_TENANT, JiraTenantSpec, SnapshotPhase
from jiradrift.kube.api import label_value
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.model.store import SnapshotStore

log = logging.getLogger("jiradrift.retention")

FINISHED = (SnapshotPhase.COMPLETED, SnapshotPhase.INCOMPLETE, SnapshotPhase.FAILED)
Snap = dict[str, Any]


def _age_key(snap: Snap) -> tuple[str, str]:
    return (snap["metadata"]["creationTimestamp"], snap["metadata"]["name"])


def finished_by_type(snapshots: Iterable[Snap]) -> dict[str, list[Snap]]:
    """Finished Snapshots per type, newest first."""
    by_type: dict[str, list[Snap]] = {}
    for snap in snapshots:
        if (snap.get("status") or {}).get("phase") in FINISHED:
            by_type.setdefault(snap["spec"]["type"], []).append(snap)
    for snaps in by_type.values():
        snaps.sort(key=_age_key, reverse=True)
    return by_type


def beyond_keep_last(by_type: dict[str, list[Snap]], keep_last: int, baseline: str | None) -> list[Snap]:
    """The Snapshots past the newest ``keep_last`` of their type; never the named baseline."""
    return [s for snaps in by_type.values() for s in snaps[keep_last:] if s["metadata"]["name"] != baseline]


def budget_candidates(by_type: dict[str, list[Snap]], kept: list[Snap], baseline: str | None) -> list[Snap]:
    """Oldest first, the Snapshots that may go to fit the byte budget: never the newest of a type
    (the next baseline) nor the named baseline."""
    latest = {snaps[0]["metadata"]["name"] for snaps in by_type.values() if snaps}
    return [s for s in sorted(kept, key=_age_key) if s["metadata"]["name"] not in latest | {baseline}]


async def list_snapshots(ctx: OperatorContext, namespace: str, tenant: str) -> list[Snap]:
    """All Snapshots of a tenant (label selector on the tenant, then the exact name)."""
    selector = f"{LABEL_TENANT}={label_value(tenant)}"
    return [
        s
        async for s in ctx.kube.pages(object_path(namespace, "snapshots"), labelSelector=selector)
        if s["spec"]["tenantRef"]["name"] == tenant
    ]


async def prune(ctx: OperatorContext, namespace: str, tenant: str, tkey: str, spec: JiraTenantSpec) -> list[str]:
    """Delete the oldest finished Snapshots beyond ``retention.keepLast`` per type, and their
    payloads; then the oldest until the tenant fits ``retention.maxBytes``."""
    by_type = finished_by_type(await list_snapshots(ctx, namespace, tenant))
    baseline = spec.drift.baseline_snapshot if spec.drift.compare_to == "baseline" else None
    doomed = beyond_keep_last(by_type, spec.retention.keep_last, baseline)
    store = await ctx.store_for(namespace, tkey)
    deleted = [await delete_snapshot(ctx, store, namespace, s) for s in doomed]
    kept = [s for snaps in by_type.values() for s in snaps if s not in doomed]

    for snap in budget_candidates(by_type, kept, baseline):
        if (await store.usage(tkey)).total_bytes <= spec.retention.max_bytes:
            break
        deleted.append(await delete_snapshot(ctx, store, namespace, snap))
    return deleted


async def delete_snapshot(ctx: OperatorContext, store: SnapshotStore, namespace: str, snap: Snap) -> str:
    """The payload, the window's released Lease, then the Snapshot object."""
    name: str = snap["metadata"]["name"]
    try:
        await store.delete_snapshot(name)
    except KeyError:
        pass
    await delete_released_lease(ctx, namespace, snap)
    await delete_object(ctx.kube, namespace, "snapshots", name)
    return name


async def delete_released_lease(ctx: OperatorContext, namespace: str, snap: Snap) -> None:
    """The window's Lease goes with its Snapshot, unless someone holds it right now."""
    lease = ((snap.get("status") or {}).get("lock") or {}).get("lease")
    if not lease:
        return
    path = resource_path("coordination.k8s.io", "v1", "leases", namespace, lease)
    try:
        current = await ctx.kube.get(path)
        if (current.get("spec") or {}).get("holderIdentity"):
            return
        version = current["metadata"]["resourceVersion"]
        await ctx.kube.request(
            "DELETE",
            path,
            body={"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": version}},
        )
    except KubeError as exc:
        if exc.status not in (404, 409):
            log.warning("could not delete Lease %s/%s: %s", namespace, lease, exc.reason)
