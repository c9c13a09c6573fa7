"""The SnapshotStore protocol: content-addressed item bodies plus per-snapshot manifests.

Backends (filesystem now, ConfigMaps in a cluster) implement it and pass the same contract
tests (``tests/store/contract.py``; a backend's test module subclasses ``StoreContract`` and
provides a ``store`` fixture).

Write order is part of the contract: capture calls ``begin_capture`` once, ``put_item`` for every
body, then ``put_manifest`` last; a backend refuses a manifest whose bodies are missing. The drift
report of a snapshot (``put_drift``) is written after its manifest.

Every method that may do I/O is a coroutine: the operator runs on one event loop, and a store in
Kubernetes objects must never block it. A backend may answer ``has_item`` from memory (what it
learned in ``begin_capture``) and write bodies in batches, so a capture costs calls per pack of
bodies, not per item. A store object serves one capture at a time (it tracks that capture's bodies
and bytes); concurrent captures each use their own store object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from jiradrift.model.manifest import Manifest, read_nothing
from jiradrift.model.report import Change, DriftReport


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a listing needs to know about a snapshot, without loading its manifest.

    ``change_count`` is the number of changes in its stored drift report, or None when no drift
    report has been stored for it yet.
    """

    snapshot_id: str
    tenant: str
    type: str
    captured_at: datetime
    digest: str
    item_count: int
    complete: bool
    unchanged_from: str | None
    change_count: int | None

    @property
    def read_nothing(self) -> bool:
        """A failed capture with no item: never a baseline or reference (see ``manifest.read_nothing``)."""
        return read_nothing(self.item_count, self.complete)


@dataclass(frozen=True, slots=True)
class StoreUsage:
    """Bytes a tenant occupies, as stored (compressed). Bodies shared by snapshots count once;
    a body shared with another tenant counts for both."""

    tenant: str
    snapshots: int
    manifest_bytes: int
    body_bytes: int
    drift_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.manifest_bytes + self.body_bytes + self.drift_bytes


@runtime_checkable
class SnapshotStore(Protocol):
    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        """A capture of ``tenant``'s ``snapshot_type`` starts: load what ``has_item`` needs (once)."""
        ...

    async def put_item(self, digest: str, body: bytes) -> bool:
        """Store a normalised item body under its sha256 hex digest; False if it was already there.

        A backend may buffer the body and write it with others (at the latest in ``put_manifest``).
        Raises :class:`~jiradrift.model.store_errors.BudgetExceeded` (writing nothing more) when
        the snapshot being captured would not fit the tenant's byte budget.
        """
        ...

    async def has_item(self, digest: str) -> bool: ...

    async def get_item(self, digest: str) -> bytes:
        """Return the body stored under ``digest``; raise KeyError naming it when absent."""
        ...

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        """Several bodies at once (a backend reads each container of bodies once); KeyError when one is absent."""
        ...

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        """Write a snapshot's manifest; called last, so a manifest never points at missing bodies.

        Returns the manifest as stored: ``digest`` filled in, and ``unchanged_from`` set to the
        earliest identical snapshot when it equals its predecessor (same tenant and type), in
        which case nothing new is stored for it.
        """
        ...

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        """The manifest, with ``items`` resolved even when stored as an unchanged reference."""
        ...

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        """Snapshot ids, newest first (by ``captured_at``, then id), optionally for one tenant."""
        ...

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        """Like ``list_manifests`` but small records (cheap: no manifest is loaded)."""
        ...

    async def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a manifest (and its drift report) and every body no remaining manifest refers to."""
        ...

    async def put_drift(self, report: DriftReport) -> None:
        """Store the drift report of snapshot ``report.new_snapshot`` (replacing any earlier one)."""
        ...

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        """The whole stored drift report, or None when none was stored for this snapshot."""
        ...

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        """Changes ``[start, stop)`` of the stored drift report, reading no more than it must."""
        ...

    async def usage(self, tenant: str) -> StoreUsage:
        """Bytes the tenant occupies, for per-tenant budgets."""
        ...
