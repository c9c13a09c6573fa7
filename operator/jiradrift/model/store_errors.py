"""Store errors: each names the object and says what to do about it."""

from __future__ import annotations

import hashlib


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


def check_body(digest: str, body: bytes) -> None:
    """Refuse a body that does not hash to the digest it is stored under (every backend's put_item)."""
    if hashlib.sha256(body).hexdigest() != digest:
        raise StoreIntegrityError(
            f"item body does not hash to {digest}; put_item needs the sha256 hex digest of the "
            f"exact canonical bytes being stored"
        )


class InvalidStoreName(StoreError, ValueError):
    """A tenant or snapshot id cannot be used as a storage name."""


class BudgetExceeded(StoreError):
    """A capture would not fit the tenant's byte budget; the store wrote nothing more for it.

    ``reason`` is the Snapshot condition reason (phase ``Incomplete``) a handler reports.
    """

    reason = "BudgetExceeded"

    def __init__(self, tenant: str, snapshot_type: str, budget_bytes: int, needed_bytes: int, where: str) -> None:
        super().__init__(
            f"the {snapshot_type} snapshot of tenant {tenant!r} needs more than {needed_bytes} stored bytes, over "
            f"the byte budget of {budget_bytes} in {where}; nothing more was written. Raise the JiraTenant's "
            f"spec.retention.maxBytes (within the operator's store.maxBytesPerTenant cap), or capture fewer kinds"
        )
        self.tenant = tenant
        self.snapshot_type = snapshot_type
        self.budget_bytes = budget_bytes
        self.needed_bytes = needed_bytes


class CorruptStoredObject(StoreError):
    """Something read from a store is not what jiradrift writes: too large when expanded, not zstd,
    not JSON, or missing fields. Stored objects are untrusted input (anyone who may create a Secret,
    ConfigMap or file there may plant one): a reader skips such an object with a warning, never crashes.
    """

    def __init__(self, what: str, where: str, problem: str) -> None:
        super().__init__(
            f"{what} in {where} is not a valid jiradrift object ({problem}); it was skipped. If nobody "
            f"wrote it by hand, delete it: jiradrift writes every object it reads, and will write it again"
        )
        self.what = what
        self.where = where
        self.problem = problem


class SnapshotOfAnotherTenant(StoreError):
    """A stored snapshot was asked for by a tenant it does not belong to. Nothing of it is returned."""

    def __init__(self, snapshot_id: str, owner: str, asking: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} belongs to tenant {owner!r}, not to {asking!r}; a tenant reads only its "
            f"own snapshots. Name one of {asking!r}'s Snapshots (e.g. in spec.drift.baselineSnapshot), "
            f"or set spec.drift.compareTo to previous"
        )
        self.snapshot_id = snapshot_id
        self.owner = owner
        self.asking = asking
