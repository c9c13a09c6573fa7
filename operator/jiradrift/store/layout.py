"""The layout the filesystem and S3 stores share: names, index rows, manifest dedup, drift chunks.

Both stores keep the same objects (see :mod:`jiradrift.store.filesystem`): content-addressed
bodies, a manifest per snapshot that may borrow its predecessor's items (``items_from``), drift
changes in chunks of ``CHANGES_PER_CHUNK``, and a per-tenant index of small rows, newest first.
Everything here is pure: the stores bring the I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson

from jiradrift.model.manifest import Manifest, read_nothing
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import (
    BudgetExceeded,
    CorruptStoredObject,
    InvalidStoreName,
    SnapshotOfAnotherTenant,
    StoreError,
    StoreIntegrityError,
)
from jiradrift.store.codec import ZstdCodec, skip

FORMAT_MARKER = "jiradrift-store.json"
FORMAT_VERSION = 1
CHANGES_PER_CHUNK = 100
MAX_REPORT_BYTES = 16 * 1024 * 1024  # a comparison report, compressed: beyond it the report is refused
DEFAULT_GC_GRACE = timedelta(hours=1)
#: Reports kept per comparison in a file or S3 store: the newest (``status.report`` names it) and
#: the ones just before it (a reader that got the previous status still finds its report).
REPORTS_KEPT = 3

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,252}$")

Row = dict[str, Any]  # one snapshot's record in a tenant's index


# --- names ------------------------------------------------------------------------------------


def check_name(what: str, value: str) -> str:
    """``value`` if it can name a stored object (a snapshot id, a namespace); else InvalidStoreName."""
    if not _NAME.match(value):
        raise InvalidStoreName(
            f"{what} {value!r} cannot be stored: use 1-253 characters from letters, digits and "
            f"'._:@+=-', starting with a letter or digit (Kubernetes object names always qualify)"
        )
    return value


def tenant_file(tenant: str) -> str:
    """A file name for a tenant: any non-empty name works (the operator uses ``namespace/name``)."""
    if not tenant:
        raise InvalidStoreName("a snapshot's tenant is empty; set Manifest.tenant to the tenant's name")
    encoded = quote(tenant, safe="")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def check_digest(digest: str) -> str:
    """``digest`` if it is a lowercase sha256 hex digest; else StoreError."""
    if not _DIGEST.match(digest):
        raise StoreError(f"item digest {digest!r} is not a lowercase sha256 hex digest (64 characters)")
    return digest


# --- index rows -------------------------------------------------------------------------------


def info_to_row(info: SnapshotInfo, manifest_bytes: int, drift_bytes: int, items_from: str | None) -> Row:
    return {
        "id": info.snapshot_id,
        "tenant": info.tenant,
        "type": info.type,
        "captured_at": info.captured_at.isoformat(),
        "digest": info.digest,
        "items": info.item_count,
        "complete": info.complete,
        "unchanged_from": info.unchanged_from,
        "changes": info.change_count,
        "manifest_bytes": manifest_bytes,
        "drift_bytes": drift_bytes,
        "items_from": items_from,  # storage detail: whose stored manifest holds the items
    }


def row_to_info(row: Row) -> SnapshotInfo:
    return SnapshotInfo(
        snapshot_id=row["id"],
        tenant=row["tenant"],
        type=row["type"],
        captured_at=datetime.fromisoformat(row["captured_at"]),
        digest=row["digest"],
        item_count=row["items"],
        complete=row["complete"],
        unchanged_from=row["unchanged_from"],
        change_count=row["changes"],
    )


_ROW_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "tenant": str,
    "type": str,
    "captured_at": str,
    "digest": str,
    "items": int,
    "complete": bool,
    "unchanged_from": (str, type(None)),
    "changes": (int, type(None)),
    "manifest_bytes": int,
    "drift_bytes": int,
    "items_from": (str, type(None)),
}


def valid_rows(data: Any, what: str, where: str) -> list[Row]:
    """The well-formed rows of a read index; anything else is skipped (with a warning): a planted or
    damaged index never stops a listing, a capture or garbage collection."""
    if not isinstance(data, list):
        skip(CorruptStoredObject(what, where, "not a JSON list of snapshot records"))
        return []
    rows: list[Row] = []
    for row in data:
        problem = _row_problem(row)
        if problem:
            skip(CorruptStoredObject(f"a record in {what}", where, problem))
        else:
            rows.append(row)
    return rows


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    for name, kind in _ROW_FIELDS.items():
        if not isinstance(row.get(name), kind):
            return f"field {name!r} is missing or not a {kind}"
    try:
        check_name("snapshot id", row["id"])
        datetime.fromisoformat(row["captured_at"])
    except (StoreError, ValueError) as exc:
        return str(exc)
    return None


def valid_raw_manifest(data: Any, what: str, where: str) -> dict[str, Any]:
    """A stored manifest object (``{"manifest": {...}, "items_from": id | null}``) checked for shape;
    CorruptStoredObject otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("manifest"), dict):
        raise CorruptStoredObject(what, where, "no 'manifest' object")
    manifest = data["manifest"]
    if not isinstance(manifest.get("tenant"), str) or not isinstance(manifest.get("items", {}), dict):
        raise CorruptStoredObject(what, where, "the manifest's 'tenant' or 'items' is missing or malformed")
    items_from = data.get("items_from")
    if items_from is not None and not (isinstance(items_from, str) and _NAME.match(items_from)):
        raise CorruptStoredObject(what, where, "'items_from' is not a snapshot id")
    data.setdefault("items_from", None)
    manifest.setdefault("items", {})
    return data


def valid_drift_summary(data: Any, what: str, where: str) -> dict[str, Any]:
    """A stored drift summary checked for shape (what readers index with); CorruptStoredObject otherwise."""
    if not isinstance(data, dict):
        raise CorruptStoredObject(what, where, "not a JSON object")
    for name in ("tenant", "type", "new_snapshot"):
        if not isinstance(data.get(name), str):
            raise CorruptStoredObject(what, where, f"field {name!r} is missing or not a string")
    count, size = data.get("change_count"), data.get("chunk_size", CHANGES_PER_CHUNK)
    if not (isinstance(count, int) and count >= 0 and isinstance(size, int) and size > 0):
        raise CorruptStoredObject(what, where, "'change_count' or 'chunk_size' is not a count")
    return data


def check_owner(snapshot_id: str, owner: Any, asking: str | None) -> None:
    """Refuse (SnapshotOfAnotherTenant) a snapshot ``asking`` (a tenant, or None: any) does not own."""
    if asking is not None and owner != asking:
        raise SnapshotOfAnotherTenant(snapshot_id, str(owner), asking)


def validated_manifest(data: dict[str, Any], what: str, where: str) -> Manifest:
    """``Manifest.model_validate`` for data read from a store: CorruptStoredObject when it does not fit."""
    try:
        return Manifest.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise CorruptStoredObject(what, where, f"not a manifest: {str(exc).splitlines()[0]}") from None


def newest_first(row: Row) -> tuple[float, str]:
    """Sort key of index rows (with ``reverse=True``): capture time, ties broken by id."""
    return (datetime.fromisoformat(row["captured_at"]).timestamp(), row["id"])


def record_drift(rows: list[Row], snapshot_id: str, change_count: int, drift_bytes: int) -> None:
    """Note a stored drift report in the snapshot's index row."""
    for r in rows:
        if r["id"] == snapshot_id:
            r["changes"] = change_count
            r["drift_bytes"] = drift_bytes


def usage_from_rows(tenant: str, rows: list[Row], body_bytes: int) -> StoreUsage:
    return StoreUsage(
        tenant=tenant,
        snapshots=len(rows),
        manifest_bytes=sum(r["manifest_bytes"] for r in rows),
        body_bytes=body_bytes,
        drift_bytes=sum(r["drift_bytes"] for r in rows),
    )


# --- manifests --------------------------------------------------------------------------------


def require_bodies(manifest: Manifest, is_stored: Callable[[str], bool]) -> None:
    """Refuse a manifest that names a body the store does not hold."""
    missing = [k for k, d in manifest.items.items() if not is_stored(d)]
    if missing:
        raise StoreIntegrityError(
            f"manifest of snapshot {manifest.snapshot_id!r} refers to {len(missing)} item bodies "
            f"that are not stored (first: {missing[:3]}); put_item every body before put_manifest"
        )


def require_new(rows: list[Row], snapshot_id: str) -> None:
    """Refuse to store a snapshot id the index already lists: snapshots are immutable."""
    if any(r["id"] == snapshot_id for r in rows):
        raise StoreIntegrityError(
            f"snapshot {snapshot_id!r} is already stored; snapshots are immutable, "
            f"delete it first or capture under a new id"
        )


@dataclass(frozen=True)
class ManifestPlan:
    """How a manifest is stored: ``stored`` is what the caller gets back, ``written`` what is
    written (without items when it borrows them from ``items_from``, an identical predecessor)."""

    stored: Manifest
    written: Manifest
    items_from: str | None

    def row(self, manifest_bytes: int) -> Row:
        """The index row of the stored manifest (no drift report yet)."""
        stored = self.stored
        info = SnapshotInfo(
            snapshot_id=stored.snapshot_id,
            tenant=stored.tenant,
            type=stored.type,
            captured_at=stored.captured_at,
            digest=stored.digest,
            item_count=len(stored.items),
            complete=stored.complete,
            unchanged_from=stored.unchanged_from,
            change_count=None,
        )
        return info_to_row(info, manifest_bytes, 0, self.items_from)


def plan_manifest(rows: list[Row], manifest: Manifest, digest: str) -> ManifestPlan:
    """Compare ``manifest`` (whose items hash to ``digest``) with its predecessor of the same type.

    The store decides ``unchanged_from``: only it sees the predecessor.
    """
    predecessor = _predecessor(rows, manifest)
    items_from: str | None = None
    unchanged_from: str | None = None
    if predecessor is not None and predecessor["digest"] == digest and not manifest.read_nothing:
        unchanged_from = predecessor["unchanged_from"] or predecessor["id"]
        items_from = predecessor["items_from"] or predecessor["id"]
    stored = manifest.model_copy(update={"digest": digest, "unchanged_from": unchanged_from})
    written = stored.model_copy(update={"items": {}}) if items_from else stored
    return ManifestPlan(stored, written, items_from)


def _predecessor(rows: list[Row], manifest: Manifest) -> Row | None:
    key = (manifest.captured_at.timestamp(), manifest.snapshot_id)
    older = [
        r
        for r in rows
        if r["type"] == manifest.type and newest_first(r) < key and not read_nothing(r["items"], r["complete"])
    ]
    return max(older, key=newest_first) if older else None


# --- drift reports ----------------------------------------------------------------------------


def drift_chunks(report: DriftReport, codec: ZstdCodec) -> list[bytes]:
    """The report's changes, CHANGES_PER_CHUNK per compressed chunk."""
    return [
        codec.compress(orjson.dumps([c.to_dict() for c in report.changes[start : start + CHANGES_PER_CHUNK]]))
        for start in range(0, report.change_count, CHANGES_PER_CHUNK)
    ]


def drift_summary(report: DriftReport, chunks: int) -> bytes:
    """The report's summary object: written last, it marks a complete report."""
    return orjson.dumps({**report.summary(), "chunks": chunks, "chunk_size": CHANGES_PER_CHUNK})


def chunks_to_read(summary: dict[str, Any], start: int, stop: int) -> list[int]:
    """The numbers of the chunks that hold changes ``start`` to ``stop`` of a stored report."""
    size: int = summary["chunk_size"]
    start, stop = max(start, 0), min(stop, summary["change_count"])
    if stop <= start:
        return []
    return list(range(start // size, (stop - 1) // size + 1))


def changes_in_chunks(
    summary: dict[str, Any], start: int, stop: int, chunks: Iterable[tuple[int, list[dict[str, Any]]]]
) -> list[Change]:
    """Changes ``start`` to ``stop`` from the numbered chunks :func:`chunks_to_read` named."""
    size: int = summary["chunk_size"]
    start, stop = max(start, 0), min(stop, summary["change_count"])
    out: list[Change] = []
    for n, chunk in chunks:
        lo = max(start - n * size, 0)
        hi = min(stop - n * size, len(chunk))
        try:
            out.extend(Change.from_dict(c) for c in chunk[lo:hi])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"drift chunk {n} of snapshot {summary['new_snapshot']!r}"
            raise CorruptStoredObject(what, "the store", repr(exc)) from None
    return out


# --- capture budget ---------------------------------------------------------------------------


@dataclass
class Capture:
    """The snapshot being captured: the bodies it uses so far and their stored bytes."""

    tenant: str
    type: str
    bytes: int = 0
    seen: set[str] = field(default_factory=set)

    def charge(self, digest: str, size: int, budget_bytes: int | None, where: str) -> None:
        """Count a body this snapshot uses; refuse it (BudgetExceeded) when over ``budget_bytes``."""
        if budget_bytes is None or digest in self.seen:
            return
        if self.bytes + size > budget_bytes:
            raise BudgetExceeded(self.tenant, self.type, budget_bytes, self.bytes + size, where)
        self.bytes += size
        self.seen.add(digest)


# --- comparison reports (file and S3 stores) ---------------------------------------------------

_REPORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # namespace.name: no path
_REPORT_KEY = re.compile(r"^(?P<name>[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)/\d{8}T\d{12}Z-[0-9a-f]{16}$")


def check_report_name(name: str) -> str:
    """``name`` if it is a comparison's ``namespace.name``; else StoreError."""
    if not _REPORT_NAME.match(name):
        raise StoreError(f"comparison report name {name[:80]!r} is not a Kubernetes namespace.name")
    return name


def new_report_key(name: str, data: bytes, now: datetime) -> str:
    """The key of one report of comparison ``name``: ``NAME/<UTC time>-<content hash>``, so a
    comparison's keys sort oldest first and two reports never share one."""
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{check_report_name(name)}/{stamp}-{hashlib.sha256(data).hexdigest()[:16]}"


def report_key_name(key: str) -> str:
    """The comparison a report key belongs to; StoreError for a key no store wrote (no path)."""
    found = _REPORT_KEY.match(key)
    if found is None:
        raise StoreError(f"comparison report key {key[:120]!r} is not NAME/<time>-<hash> (as status.report says)")
    return found["name"]


def reports_beyond(keys: Iterable[str], kept: int = REPORTS_KEPT) -> list[str]:
    """The report keys of one comparison to delete: all but the newest ``kept``."""
    ordered = sorted(keys)
    return ordered[: max(len(ordered) - kept, 0)]


def check_report_size(name: str, data: bytes) -> None:
    if len(data) > MAX_REPORT_BYTES:
        raise StoreError(
            f"comparison report {name} is {len(data)} bytes compressed, more than "
            f"{MAX_REPORT_BYTES} a store keeps; narrow spec.types or add ignore rules"
        )
