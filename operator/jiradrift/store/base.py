"""The SnapshotStore protocol: content-addressed item bodies plus per-snapshot manifests.

Backends (filesystem now, ConfigMaps in a cluster) implement it and pass the same contract
tests (``tests/unit/test_store_contract.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from jiradrift.snapshot.manifest import Manifest


@runtime_checkable
class SnapshotStore(Protocol):
    def put_item(self, digest: str, body: bytes) -> bool:
        """Store a normalised item body under its sha256 hex digest; False if it was already there."""

    def has_item(self, digest: str) -> bool: ...

    def get_item(self, digest: str) -> bytes:
        """Return the body stored under ``digest``; raise KeyError naming it when absent."""

    def put_manifest(self, manifest: Manifest) -> None:
        """Write a snapshot's manifest; called last, so a manifest never points at missing bodies."""

    def get_manifest(self, snapshot_id: str) -> Manifest: ...

    def list_manifests(self, tenant: str | None = None) -> Iterator[str]:
        """Snapshot ids, newest first (by ``captured_at``, then id), optionally for one tenant."""

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a manifest and every body no remaining manifest refers to."""
