"""Retention: keep the newest ``keepLast`` finished Snapshots per type, within the byte budget.

The choice is pure (:func:`beyond_keep_last`, :func:`over_budget`); :func:`prune` does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import delete_object, object_path
from jiradrift.k8s.resources import LABEL_DRIFT, LABEL_TENANT, JiraTenantSpec, SnapshotPhase
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.kube.names import label_value
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.baseline import LABEL_ACCEPTED

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


def protected(snapshots: Iterable[Snap], baseline: str | None) -> set[str]:
    """Snapshots retention never removes: the named baseline and every accepted one."""
    keep = {s["metadata"]["name"] for s in snapshots if (s["metadata"].get("labels") or {}).get(LABEL_ACCEPTED)}
    return keep | ({baseline} if baseline else set())


def unaccepted_evidence(snapshots: Iterable[Snap]) -> set[str]:
    """Snapshots that recorded drift after their type's accepted snapshot. They hold the audit-log
    attribution `jiradrift drift list --unaccepted` shows, so ``keepLast`` spares them until the
    drift is accepted; the byte budget may still take them."""
    accepted: dict[str, tuple[str, str]] = {}
    for s in snapshots:
        if (s["metadata"].get("labels") or {}).get(LABEL_ACCEPTED):
            accepted[s["spec"]["type"]] = max(accepted.get(s["spec"]["type"], ("", "")), _age_key(s))
    return {
        s["metadata"]["name"]
        for s in snapshots
        if (s["metadata"].get("labels") or {}).get(LABEL_DRIFT) == "true"
        and s["spec"]["type"] in accepted
        and _age_key(s) > accepted[s["spec"]["type"]]
    }


def beyond_keep_last(by_type: dict[str, list[Snap]], keep_last: int, keep: set[str]) -> list[Snap]:
    """The Snapshots past the newest ``keep_last`` of their type; never a protected one."""
    return [s for snaps in by_type.values() for s in snaps[keep_last:] if s["metadata"]["name"] not in keep]


def budget_candidates(by_type: dict[str, list[Snap]], kept: list[Snap], keep: set[str]) -> list[Snap]:
    """Oldest first, the Snapshots that may go to fit the byte budget: never the newest of a type
    (the next baseline) nor a protected one."""
    latest = {snaps[0]["metadata"]["name"] for snaps in by_type.values() if snaps}
    return [s for s in sorted(kept, key=_age_key) if s["metadata"]["name"] not in latest | keep]


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
    snapshots = await list_snapshots(ctx, namespace, tenant)
    by_type = finished_by_type(snapshots)
    baseline = spec.drift.baseline_snapshot if spec.drift.compare_to == "baseline" else None
    keep = protected(snapshots, baseline)
    doomed = beyond_keep_last(by_type, spec.retention.keep_last, keep | unaccepted_evidence(snapshots))
    store = await ctx.store_for(namespace, tkey)
    deleted = [await delete_snapshot(ctx, store, namespace, s) for s in doomed]
    kept = [s for snaps in by_type.values() for s in snaps if s not in doomed]

    for snap in budget_candidates(by_type, kept, keep):
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
