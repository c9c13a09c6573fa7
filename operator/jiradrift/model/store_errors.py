"""Store errors: each names the object and says what to do about it."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error a snapshot store raises on purpose."""


class _NotFound(StoreError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ItemNotFound(_NotFound):
    """No body is stored under a digest."""

    def __init__(self, digest: str, where: str) -> None:
        super().__init__(
            f"item body {digest} is not in the store at {where}; it was never put, or garbage "
            f"collection removed it after its last snapshot was deleted"
        )
        self.digest = digest


class SnapshotNotFound(_NotFound):
    """No manifest is stored under a snapshot id."""

    def __init__(self, snapshot_id: str, where: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} is not in the store at {where}; list the stored snapshots "
            f"with `jiradrift drift list {where}` or check the id"
        )
        self.snapshot_id = snapshot_id


class StoreIntegrityError(StoreError):
    """A write would break the store's invariants (e.g. a manifest pointing at missing bodies)."""


class InvalidStoreName(StoreError, ValueError):
    """A tenant or snapshot id cannot be used as a storage name."""
