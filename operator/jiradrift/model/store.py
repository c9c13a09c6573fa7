"""The SnapshotStore protocol: content-addressed item bodies plus per-snapshot manifests.

Backends (filesystem now, ConfigMaps in a cluster) implement it and pass the same contract
tests (``tests/store/contract.py``; a backend's test module subclasses ``StoreContract`` and
provides a ``store`` fixture).

Write order is part of the contract: capture calls ``put_item`` for every body, then
``put_manifest`` last; a backend refuses a manifest whose bodies are missing. The drift report of a
snapshot (``put_drift``) is written after its manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from jiradrift.model.manifest import Manifest
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
    def put_item(self, digest: str, body: bytes) -> bool:
        """Store a normalised item body under its sha256 hex digest; False if it was already there."""
        ...

    def has_item(self, digest: str) -> bool: ...

    def get_item(self, digest: str) -> bytes:
        """Return the body stored under ``digest``; raise KeyError naming it when absent."""
        ...

    def put_manifest(self, manifest: Manifest) -> Manifest:
        """Write a snapshot's manifest; called last, so a manifest never points at missing bodies.

        Returns the manifest as stored: ``digest`` filled in, and ``unchanged_from`` set to the
        earliest identical snapshot when it equals its predecessor (same tenant and type), in
        which case nothing new is stored for it.
        """
        ...

    def get_manifest(self, snapshot_id: str) -> Manifest:
        """The manifest, with ``items`` resolved even when stored as an unchanged reference."""
        ...

    def list_manifests(self, tenant: str | None = None) -> Iterator[str]:
        """Snapshot ids, newest first (by ``captured_at``, then id), optionally for one tenant."""
        ...

    def list_snapshots(self, tenant: str | None = None) -> Iterator[SnapshotInfo]:
        """Like ``list_manifests`` but yields small records (cheap: no manifest is loaded)."""
        ...

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a manifest (and its drift report) and every body no remaining manifest refers to."""
        ...

    def put_drift(self, report: DriftReport) -> None:
        """Store the drift report of snapshot ``report.new_snapshot`` (replacing any earlier one)."""
        ...

    def get_drift(self, snapshot_id: str) -> DriftReport | None:
        """The whole stored drift report, or None when none was stored for this snapshot."""
        ...

    def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        """Changes ``[start, stop)`` of the stored drift report, reading no more than it must."""
        ...

    def usage(self, tenant: str) -> StoreUsage:
        """Bytes the tenant occupies, for per-tenant budgets."""
        ...
