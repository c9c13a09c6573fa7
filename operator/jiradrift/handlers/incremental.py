"""An incremental window in the operator (issue 26): run in the tenant's tick, a Snapshot only for a change.

    outcome = await run_window(ctx, tenant_body, spec, types, start)
    outcome.created      # Snapshot names (reason Incremental), one per type that changed
    outcome.quiet        # types in which nothing changed: nothing was written for them

``handlers/schedule.decide_incremental`` says when. One :func:`~jiradrift.snapshot.incremental.capture_window`
call reads the audit log and the change probes once for all the tenant's types, re-reading only
what changed, with every write held in memory (:class:`StagedStore`). Then, per type:

- nothing changed (the manifest's items equal its base's): nothing is written, to the store or to
  the API server. The next window continues from the same base, so the audit log is read from
  there again (records already acted on are skipped by id); the tenant's tick writes only
  ``status.lastCheckedTime``: a quiet window costs one API write per tenant;
- something changed: the held bodies and manifest are written to the store first, then a Snapshot
  of reason ``Incremental`` is created under the name the manifest was stored as. The Snapshot
  runner finds the manifest stored (``handlers/snapshot.capture`` resumes from it) and goes on
  exactly as for any Snapshot: drift from its baseline, ``Drifted``, Events, notifications.

A type without a complete base in the store is not checked: its next full capture makes one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jiradrift.api.objects import owner_of
from jiradrift.api.resources import (
    GROUP,
    VERSION,
    JiraTenant,
    SnapshotReason,
)
from jiradrift.api.windows import snapshot_name, window_iso, window_snapshot
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.jiraconn import credentials_for, open_client
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.model.manifest import CaptureMode, Manifest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, SnapshotStore, StoreUsage
from jiradrift.snapshot.incremental import base_manifests, capture_window

log = logging.getLogger("jiradrift.incremental")


class StagedStore:
    """A :class:`~jiradrift.model.store.SnapshotStore` that reads through to ``inner`` and holds
    every write in memory, until :meth:`flush` writes one manifest (and its new bodies) to a store."""

    def __init__(self, inner: SnapshotStore) -> None:
        self.inner = inner
        self.bodies: dict[str, bytes] = {}
        self.manifests: dict[str, Manifest] = {}

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        return None

    async def put_item(self, digest: str, body: bytes) -> bool:
        new = digest not in self.bodies
        self.bodies[digest] = body
        return new

    async def has_item(self, digest: str) -> bool:
        return digest in self.bodies  # the target store skips what it holds at flush

    async def get_item(self, digest: str) -> bytes:
        return (await self.get_items([digest]))[digest]

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = set(digests)
        out = {d: self.bodies[d] for d in wanted if d in self.bodies}
        if rest := wanted - out.keys():
            out |= await self.inner.get_items(rest)
        return out

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        self.manifests[manifest.snapshot_id] = manifest
        return manifest

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        if snapshot_id in self.manifests:
            return self.manifests[snapshot_id]
        return await self.inner.get_manifest(snapshot_id)

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        return await self.inner.list_manifests(tenant)

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        return await self.inner.list_snapshots(tenant)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self.manifests.pop(snapshot_id, None)

    async def put_drift(self, report: DriftReport) -> None:
        raise NotImplementedError("a staged store holds captures only")

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        return await self.inner.get_drift(snapshot_id)

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return await self.inner.read_changes(snapshot_id, start, stop)

    async def usage(self, tenant: str) -> StoreUsage:
        return await self.inner.usage(tenant)

    async def flush(self, target: SnapshotStore, snapshot_id: str) -> Manifest:
        """Write manifest ``snapshot_id`` to ``target``: its bodies read in this window, then the manifest."""
        manifest = self.manifests[snapshot_id]
        await target.begin_capture(manifest.tenant, manifest.type)
        for digest in sorted(set(manifest.items.values()) & self.bodies.keys()):
            if not await target.has_item(digest):
                await target.put_item(digest, self.bodies[digest])
        return await target.put_manifest(manifest)


def incremental_snapshot_name(tenant: str, snapshot_type: str, start: datetime) -> str:
    """``<tenant>-<type>-inc-<window>``: apart from the full windows' names (``api/windows.snapshot_name``)."""
    return snapshot_name(tenant, snapshot_type, start, marker="inc")


def incremental_snapshot(
    namespace: str, tenant: str, tenant_uid: str, snapshot_type: str, start: datetime
) -> dict[str, Any]:
    """The Snapshot of an incremental window that found a change (reason ``Incremental``)."""
    return window_snapshot(
        namespace, tenant, tenant_uid, snapshot_type, start, reason=SnapshotReason.INCREMENTAL.value, marker="inc"
    )


@dataclass
class WindowOutcome:
    created: list[str] = field(default_factory=list)  # Snapshots created (a type changed)
    quiet: list[str] = field(default_factory=list)  # types in which nothing changed: nothing written
    unbased: list[str] = field(default_factory=list)  # types with no complete base: left to the full capture
    requests: int = 0
    reread: int = 0

    @property
    def checked(self) -> bool:
        """Whether the window checked any type (the tenant's ``lastCheckedTime`` says so only then): a
        tenant none of whose types has a complete base yet was not checked, whatever the window."""
        return bool(self.created or self.quiet)


async def run_window(ctx: OperatorContext, tenant: JiraTenant, types: Iterable[str], start: datetime) -> WindowOutcome:
    """Run the tenant's incremental window ``start`` (see the module docstring)."""
    meta, spec = tenant.metadata, tenant.spec
    namespace, name = meta.namespace, meta.name
    tkey = f"{namespace}/{name}"
    wanted = list(types)
    store = await ctx.store_for(namespace, tkey)
    bases = await base_manifests(store, tkey, wanted)
    outcome = WindowOutcome(unbased=[t for t in wanted if t not in bases])
    if not bases:
        return outcome
    credentials, _ = await credentials_for(ctx, tenant)
    client = await open_client(spec, credentials, limits=ctx.settings.limits, budget=ctx.response_budget)
    staged = {t: StagedStore(store) for t in bases}
    try:
        result = await asyncio.wait_for(
            capture_window(
                client,
                store,
                tenant=tkey,
                types=list(bases),
                captured_at=ctx.clock(),
                snapshot_id=lambda t: incremental_snapshot_name(name, t, start),
                bases=bases,
                store_for=staged.__getitem__,
            ),
            timeout=ctx.settings.capture_timeout_seconds,
        )
    finally:
        stats = getattr(client, "stats", None)
        if stats is not None:
            for code, count in stats.requests_by_status.items():
                metrics.JIRA_REQUESTS.labels(namespace, name, str(code)).inc(count)
        await client.aclose()
    outcome.requests, outcome.reread = result.requests, result.reread
    owner = owner_of(tenant)
    for manifest in result.manifests:
        snapshot_type = manifest.type
        if manifest.items == bases[snapshot_type].items:
            outcome.quiet.append(snapshot_type)
            continue
        if not manifest.complete:  # not evidence of a change: the next window (or full capture) reads again
            log.info("%s: incremental window %s of %s incomplete; not stored", tkey, window_iso(start), snapshot_type)
            outcome.quiet.append(snapshot_type)
            continue
        target = await ctx.store_for(
            namespace, tkey, owner=owner, budget_bytes=spec.retention.max_bytes, parts_owner=owner
        )
        await staged[snapshot_type].flush(target, manifest.snapshot_id)
        snapshot = incremental_snapshot(namespace, name, meta.uid, snapshot_type, start)
        try:
            await ctx.kube.create(resource_path(GROUP, VERSION, "snapshots", namespace), snapshot)
        except KubeError as exc:
            if not exc.conflict:  # no Snapshot reports it: forget the manifest, so the next window finds it again
                await store.delete_snapshot(manifest.snapshot_id)
                raise
        outcome.created.append(manifest.snapshot_id)
        log.info(
            "%s: incremental window %s found %s changed (%d object(s) re-read): Snapshot %s",
            tkey,
            window_iso(start),
            snapshot_type,
            manifest.capture.reread or 0,
            manifest.snapshot_id,
        )
    return outcome


async def incremental_check(
    client: Any, store: SnapshotStore, *, tenant: str, snapshot_type: str, captured_at: datetime, snapshot_id: str
) -> Manifest | None:
    """What an incremental window at ``captured_at`` would hold for ``snapshot_type`` (nothing
    written): a full capture at the same moment compares with it to count what the windows missed
    (``snapshot.missed``). None when there is no base to continue from, or the window was full."""
    bases = await base_manifests(store, tenant, [snapshot_type])
    if not bases:
        return None
    staged = StagedStore(store)
    result = await capture_window(
        client,
        store,
        tenant=tenant,
        types=[snapshot_type],
        captured_at=captured_at,
        snapshot_id=lambda _t: snapshot_id,
        bases=bases,
        store_for=lambda _t: staged,
    )
    manifest = result.manifests[0]
    return manifest if manifest.capture.mode is CaptureMode.INCREMENTAL else None
