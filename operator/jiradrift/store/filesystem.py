"""A SnapshotStore on a local directory (the CLI's ``--out DIR``, or a PVC in a cluster).

Layout under ``root``::

    jiradrift-store.json              format marker
    items/<2 hex>/<sha256>.zst        item bodies, zstd-compressed, stored once
    snapshots/<id>/manifest.json.zst  {"manifest": ..., "items_from": <id> | null}
    snapshots/<id>/drift.json         drift report summary (written last: its commit marker)
    snapshots/<id>/drift/<n>.json.zst drift changes, CHANGES_PER_CHUNK per chunk
    index/<tenant>.json               small per-snapshot records, newest first (a cache of the above)
    tmp/                              in-flight writes; every file appears by an atomic rename

Why this shape: bodies are content-addressed so an unchanged item costs nothing; a manifest that
equals its predecessor is stored as a reference (``items_from``) so an unchanged snapshot costs
nothing either; the index lets listings and the drift paginator work without opening manifests;
drift changes are chunked so a page of events reads at most a few small files.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import orjson
import zstandard

from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import (
    BudgetExceeded,
    InvalidStoreName,
    ItemNotFound,
    SnapshotNotFound,
    StoreError,
    StoreIntegrityError,
    check_body,
)

FORMAT_MARKER = "jiradrift-store.json"
FORMAT_VERSION = 1
CHANGES_PER_CHUNK = 100
DEFAULT_GC_GRACE = timedelta(hours=1)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,252}$")


def _check_name(what: str, value: str) -> str:
    if not _NAME.match(value):
        raise InvalidStoreName(
            f"{what} {value!r} cannot be stored: use 1-253 characters from letters, digits and "
            f"'._:@+=-', starting with a letter or digit (Kubernetes object names always qualify)"
        )
    return value


def _tenant_file(tenant: str) -> str:
    """A file name for a tenant: any non-empty name works (the operator uses ``namespace/name``)."""
    if not tenant:
        raise InvalidStoreName("a snapshot's tenant is empty; set Manifest.tenant to the tenant's name")
    encoded = quote(tenant, safe="")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def _check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise StoreError(f"item digest {digest!r} is not a lowercase sha256 hex digest (64 characters)")
    return digest


def _info_to_json(info: SnapshotInfo, manifest_bytes: int, drift_bytes: int, items_from: str | None) -> dict[str, Any]:
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


def _info_from_json(row: dict[str, Any]) -> SnapshotInfo:
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


def _newest_first(row: dict[str, Any]) -> tuple[float, str]:
    return (datetime.fromisoformat(row["captured_at"]).timestamp(), row["id"])


@dataclass
class _Capture:
    """The snapshot being captured: the bodies it uses so far and their stored bytes."""

    tenant: str
    type: str
    bytes: int = 0
    seen: set[str] = field(default_factory=set)


class FilesystemStore:
    """Content-addressed snapshot store in a directory.

    ``durable=True`` flushes bodies to disk (one ``os.sync``) before a manifest is renamed into
    place, so even a power cut cannot leave a manifest pointing at missing bodies; tests turn it
    off for speed. ``gc_grace``: bodies younger than this are never collected, which protects a
    capture that is writing bodies for a manifest it has not put yet. ``budget_bytes``: the bodies
    one snapshot uses may occupy at most this many bytes; a capture past it gets
    :class:`BudgetExceeded` before the body that would not fit is written.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        durable: bool = True,
        compression_level: int = 3,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
        budget_bytes: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.budget_bytes = budget_bytes
        self._capture: _Capture | None = None
        self.durable = durable
        self.gc_grace = gc_grace
        self._level = compression_level
        self._local = threading.local()
        marker = self.root / FORMAT_MARKER
        if self.root.exists() and any(self.root.iterdir()) and not marker.exists():
            raise StoreError(
                f"{self.root} is not empty and is not a jiradrift store (no {FORMAT_MARKER}); "
                f"pick an empty or new directory"
            )
        for sub in ("items", "snapshots", "index", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            self._write_atomic(marker, orjson.dumps({"format": FORMAT_VERSION}))

    @classmethod
    def open(cls, root: Path | str, **options: Any) -> FilesystemStore:
        """Open a store that must already exist (for commands that only read)."""
        if not (Path(root) / FORMAT_MARKER).exists():
            raise StoreError(
                f"{root} is not a jiradrift store (no {FORMAT_MARKER}); point at a directory written "
                f"by `jiradrift snapshot --out DIR`"
            )
        return cls(root, **options)

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    # --- plumbing ---------------------------------------------------------------------------

    def _zstd(self) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
        # zstandard (de)compressors must not be shared between threads.
        pair: tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor] | None = getattr(self._local, "zstd", None)
        if pair is None:
            pair = (zstandard.ZstdCompressor(level=self._level), zstandard.ZstdDecompressor())
            self._local.zstd = pair
        return pair

    def _compress(self, data: bytes) -> bytes:
        return self._zstd()[0].compress(data)

    def _decompress(self, data: bytes) -> bytes:
        return self._zstd()[1].decompress(data)

    def _write_atomic(self, path: Path, data: bytes, *, fsync: bool = False) -> None:
        tmp = self.root / "tmp" / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    def _item_path(self, digest: str) -> Path:
        return self.root / "items" / digest[:2] / f"{digest}.zst"

    def _snapshot_dir(self, snapshot_id: str) -> Path:
        return self.root / "snapshots" / _check_name("snapshot id", snapshot_id)

    def _index_path(self, tenant: str) -> Path:
        return self.root / "index" / f"{_tenant_file(tenant)}.json"

    @contextlib.contextmanager
    def _index_lock(self, tenant: str) -> Iterator[None]:
        lock = self.root / "index" / f"{_tenant_file(tenant)}.lock"
        with open(lock, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _read_index(self, tenant: str) -> list[dict[str, Any]]:
        try:
            rows: list[dict[str, Any]] = orjson.loads(self._index_path(tenant).read_bytes())
        except FileNotFoundError:
            return []
        return rows

    def _write_index(self, tenant: str, rows: list[dict[str, Any]]) -> None:
        rows.sort(key=_newest_first, reverse=True)
        self._write_atomic(self._index_path(tenant), orjson.dumps(rows))

    def _tenants(self) -> list[str]:
        return sorted(unquote(p.stem) for p in (self.root / "index").glob("*.json"))

    def _find_row(self, snapshot_id: str) -> dict[str, Any]:
        for tenant in self._tenants():
            for row in self._read_index(tenant):
                if row["id"] == snapshot_id:
                    return row
        raise SnapshotNotFound(snapshot_id, str(self.root))

    # --- item bodies ------------------------------------------------------------------------

    def _get_item(self, digest: str) -> bytes:
        try:
            raw = self._item_path(_check_digest(digest)).read_bytes()
        except FileNotFoundError:
            raise ItemNotFound(digest, str(self.root)) from None
        return self._decompress(raw)

    # --- manifests --------------------------------------------------------------------------

    def _put_manifest(self, manifest: Manifest) -> Manifest:
        _tenant_file(manifest.tenant)
        snap_dir = self._snapshot_dir(manifest.snapshot_id)
        missing = [k for k, d in manifest.items.items() if not self._item_path(_check_digest(d)).exists()]
        if missing:
            raise StoreIntegrityError(
                f"manifest of snapshot {manifest.snapshot_id!r} refers to {len(missing)} item bodies "
                f"that are not stored (first: {missing[:3]}); put_item every body before put_manifest"
            )
        digest = manifest.digest or compute_digest(manifest.items)
        with self._index_lock(manifest.tenant):
            rows = self._read_index(manifest.tenant)
            if any(r["id"] == manifest.snapshot_id for r in rows):
                raise StoreIntegrityError(
                    f"snapshot {manifest.snapshot_id!r} is already stored; snapshots are immutable, "
                    f"delete it first or capture under a new id"
                )
            predecessor = self._predecessor(rows, manifest)
            items_from: str | None = None
            unchanged_from: str | None = None  # the store decides: only it sees the predecessor
            if predecessor is not None and predecessor["digest"] == digest:
                unchanged_from = predecessor["unchanged_from"] or predecessor["id"]
                items_from = predecessor["items_from"] or predecessor["id"]
            stored = manifest.model_copy(update={"digest": digest, "unchanged_from": unchanged_from})
            on_disk = stored.model_copy(update={"items": {}}) if items_from else stored
            payload = self._compress(
                orjson.dumps({"manifest": on_disk.model_dump(mode="json"), "items_from": items_from})
            )
            if self.durable and items_from is None:
                os.sync()  # bodies reach the disk before the manifest that names them
            snap_dir.mkdir(exist_ok=True)
            self._write_atomic(snap_dir / "manifest.json.zst", payload, fsync=self.durable)
            info = SnapshotInfo(
                snapshot_id=stored.snapshot_id,
                tenant=stored.tenant,
                type=stored.type,
                captured_at=stored.captured_at,
                digest=digest,
                item_count=len(stored.items),
                complete=stored.complete,
                unchanged_from=unchanged_from,
                change_count=None,
            )
            rows.append(_info_to_json(info, len(payload), 0, items_from))
            self._write_index(stored.tenant, rows)
        return stored

    @staticmethod
    def _predecessor(rows: list[dict[str, Any]], manifest: Manifest) -> dict[str, Any] | None:
        key = (manifest.captured_at.timestamp(), manifest.snapshot_id)
        older = [r for r in rows if r["type"] == manifest.type and _newest_first(r) < key]
        return max(older, key=_newest_first) if older else None

    def _load_raw(self, snapshot_id: str) -> dict[str, Any]:
        try:
            raw = (self._snapshot_dir(snapshot_id) / "manifest.json.zst").read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFound(snapshot_id, str(self.root)) from None
        data: dict[str, Any] = orjson.loads(self._decompress(raw))
        return data

    def _get_manifest(self, snapshot_id: str) -> Manifest:
        data = self._load_raw(snapshot_id)
        manifest = data["manifest"]
        if data["items_from"]:
            manifest["items"] = self._load_raw(data["items_from"])["manifest"]["items"]
        return Manifest.model_validate(manifest)

    def _list_snapshots(self, tenant: str | None = None) -> Iterator[SnapshotInfo]:
        if tenant is not None:
            rows = self._read_index(tenant)
        else:
            rows = [r for t in self._tenants() for r in self._read_index(t)]
            rows.sort(key=_newest_first, reverse=True)
        for row in rows:
            yield _info_from_json(row)

    def _list_manifests(self, tenant: str | None = None) -> Iterator[str]:
        for info in self._list_snapshots(tenant):
            yield info.snapshot_id

    # --- deletion and garbage collection -------------------------------------------------------

    def _delete_snapshot(self, snapshot_id: str, *, collect: bool = True) -> None:
        """Delete one snapshot; with ``collect`` (default) also sweep bodies nothing refers to.

        Deleting many snapshots? Pass ``collect=False`` and call ``collect_garbage()`` once.
        """
        row = self._find_row(snapshot_id)
        tenant = row["tenant"]
        with self._index_lock(tenant):
            self._rehome_dependents(tenant, snapshot_id)
            rows = [r for r in self._read_index(tenant) if r["id"] != snapshot_id]
            # Index first: a crash then leaves an unlisted directory (garbage), never a listed
            # snapshot without a manifest.
            self._write_index(tenant, rows)
            self._remove_tree(self._snapshot_dir(snapshot_id))
        if collect:
            self._collect_garbage()

    def _rehome_dependents(self, tenant: str, snapshot_id: str) -> None:
        """Before deleting a snapshot, give the snapshots that borrow its items their own copy."""
        rows = self._read_index(tenant)
        dependents = sorted((r for r in rows if r["items_from"] == snapshot_id), key=_newest_first)
        if not dependents:
            return
        items = self._load_raw(snapshot_id)["manifest"]["items"]
        heir = dependents[0]["id"]
        for row in dependents:
            data = self._load_raw(row["id"])
            if row["id"] == heir:
                data["manifest"]["items"] = items
                data["items_from"] = None
            else:
                data["items_from"] = heir
            self._write_atomic(
                self._snapshot_dir(row["id"]) / "manifest.json.zst",
                self._compress(orjson.dumps(data)),
                fsync=self.durable,
            )
            row["items_from"] = data["items_from"]
        self._write_index(tenant, rows)

    def _remove_tree(self, path: Path) -> None:
        # Rename away first so a half-deleted directory is never seen under its real name.
        if not path.exists():
            return
        trash = self.root / "tmp" / f"trash-{uuid.uuid4().hex}"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _referenced_digests(self) -> set[str]:
        live: set[str] = set()
        for snap_dir in (self.root / "snapshots").iterdir():
            with contextlib.suppress(SnapshotNotFound):
                data = self._load_raw(snap_dir.name)
                if not data["items_from"]:
                    live.update(data["manifest"]["items"].values())
        return live

    def _collect_garbage(self) -> int:
        """Mark bodies referenced by any manifest, sweep the rest (older than ``gc_grace``).

        Returns the number of bodies removed. Safe to run at any time: a crash leaves garbage,
        never a manifest pointing at a missing body.
        """
        live = self._referenced_digests()
        cutoff = time.time() - self.gc_grace.total_seconds()
        removed = 0
        for shard in (self.root / "items").iterdir():
            for entry in os.scandir(shard):
                digest = entry.name.removesuffix(".zst")
                if digest in live:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        for stale in (self.root / "tmp").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if stale.stat().st_mtime < cutoff:
                    if stale.is_dir():
                        shutil.rmtree(stale, ignore_errors=True)
                    else:
                        stale.unlink()
        return removed

    # --- drift reports ----------------------------------------------------------------------

    def _put_drift(self, report: DriftReport) -> None:
        snapshot_id = report.new_snapshot
        row = self._find_row(snapshot_id)
        snap_dir = self._snapshot_dir(snapshot_id)
        staging = self.root / "tmp" / f"drift-{uuid.uuid4().hex}"
        staging.mkdir()
        drift_bytes = 0
        chunks = 0
        for start in range(0, report.change_count, CHANGES_PER_CHUNK):
            chunk = [c.to_dict() for c in report.changes[start : start + CHANGES_PER_CHUNK]]
            data = self._compress(orjson.dumps(chunk))
            (staging / f"{chunks}.json.zst").write_bytes(data)
            drift_bytes += len(data)
            chunks += 1
        summary = orjson.dumps({**report.summary(), "chunks": chunks, "chunk_size": CHANGES_PER_CHUNK})
        drift_bytes += len(summary)
        with self._index_lock(row["tenant"]):
            # Summary is removed first and written last: it marks a complete report.
            (snap_dir / "drift.json").unlink(missing_ok=True)
            self._remove_tree(snap_dir / "drift")
            os.replace(staging, snap_dir / "drift")
            self._write_atomic(snap_dir / "drift.json", summary)
            rows = self._read_index(row["tenant"])
            for r in rows:
                if r["id"] == snapshot_id:
                    r["changes"] = report.change_count
                    r["drift_bytes"] = drift_bytes
            self._write_index(row["tenant"], rows)

    def _drift_summary(self, snapshot_id: str) -> dict[str, Any] | None:
        try:
            summary: dict[str, Any] = orjson.loads((self._snapshot_dir(snapshot_id) / "drift.json").read_bytes())
        except FileNotFoundError:
            if not (self._snapshot_dir(snapshot_id) / "manifest.json.zst").exists():
                raise SnapshotNotFound(snapshot_id, str(self.root)) from None
            return None
        return summary

    def _read_chunk(self, snapshot_id: str, n: int) -> list[dict[str, Any]]:
        raw = (self._snapshot_dir(snapshot_id) / "drift" / f"{n}.json.zst").read_bytes()
        chunk: list[dict[str, Any]] = orjson.loads(self._decompress(raw))
        return chunk

    def _get_drift(self, snapshot_id: str) -> DriftReport | None:
        summary = self._drift_summary(snapshot_id)
        if summary is None:
            return None
        report = DriftReport.from_dict(summary)
        report.changes = self._read_changes(snapshot_id, 0, summary["change_count"])
        return report

    def _read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        summary = self._drift_summary(snapshot_id)
        if summary is None:
            return []
        size: int = summary["chunk_size"]
        start, stop = max(start, 0), min(stop, summary["change_count"])
        out: list[Change] = []
        if stop <= start:
            return out
        for n in range(start // size, (stop - 1) // size + 1):
            chunk = self._read_chunk(snapshot_id, n)
            lo = max(start - n * size, 0)
            hi = min(stop - n * size, len(chunk))
            out.extend(Change.from_dict(c) for c in chunk[lo:hi])
        return out

    # --- accounting -------------------------------------------------------------------------

    def _usage(self, tenant: str) -> StoreUsage:
        rows = self._read_index(tenant)
        digests: set[str] = set()
        for row in rows:
            if not row["items_from"]:
                digests.update(self._load_raw(row["id"])["manifest"]["items"].values())
        body_bytes = 0
        for digest in digests:
            with contextlib.suppress(FileNotFoundError):
                body_bytes += self._item_path(digest).stat().st_size
        return StoreUsage(
            tenant=tenant,
            snapshots=len(rows),
            manifest_bytes=sum(r["manifest_bytes"] for r in rows),
            body_bytes=body_bytes,
            drift_bytes=sum(r["drift_bytes"] for r in rows),
        )

    def _delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        """Delete several snapshots with one garbage collection; returns bodies removed."""
        for snapshot_id in snapshot_ids:
            self._delete_snapshot(snapshot_id, collect=False)
        return self._collect_garbage()

    # --- the async SnapshotStore protocol ---------------------------------------------------------
    # Small file operations (a stat, one body) stay inline; anything that reads or writes many
    # files or a whole manifest runs in a worker thread so the event loop never waits on a disk.

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        _tenant_file(tenant)
        self._capture = _Capture(tenant, snapshot_type)

    def _charge(self, digest: str, size: int) -> None:
        """Count a body the snapshot being captured uses; refuse it when over the budget."""
        capture = self._capture
        if self.budget_bytes is None or capture is None or digest in capture.seen:
            return
        if capture.bytes + size > self.budget_bytes:
            raise BudgetExceeded(capture.tenant, capture.type, self.budget_bytes, capture.bytes + size, str(self.root))
        capture.bytes += size
        capture.seen.add(digest)

    async def put_item(self, digest: str, body: bytes) -> bool:
        path = self._item_path(_check_digest(digest))
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            self._charge(digest, size)
            # Refresh the mtime: a capture in flight re-uses this body, so GC must not take it.
            os.utime(path)
            return False
        check_body(digest, body)
        data = self._compress(body)
        self._charge(digest, len(data))  # before writing: over budget writes nothing
        path.parent.mkdir(exist_ok=True)
        self._write_atomic(path, data)
        return True

    async def has_item(self, digest: str) -> bool:
        try:
            size = self._item_path(_check_digest(digest)).stat().st_size
        except FileNotFoundError:
            return False
        self._charge(digest, size)
        return True

    async def get_item(self, digest: str) -> bytes:
        return self._get_item(digest)

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(digests))
        return await asyncio.to_thread(lambda: {d: self._get_item(d) for d in wanted})

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        stored = await asyncio.to_thread(self._put_manifest, manifest)
        self._capture = None
        return stored

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        return await asyncio.to_thread(self._get_manifest, snapshot_id)

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        return await asyncio.to_thread(lambda: list(self._list_snapshots(tenant)))

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        return [info.snapshot_id for info in await self.list_snapshots(tenant)]

    async def delete_snapshot(self, snapshot_id: str, *, collect: bool = True) -> None:
        await asyncio.to_thread(self._delete_snapshot, snapshot_id, collect=collect)

    async def delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        ids = list(snapshot_ids)
        return await asyncio.to_thread(self._delete_snapshots, ids)

    async def collect_garbage(self) -> int:
        return await asyncio.to_thread(self._collect_garbage)

    async def put_drift(self, report: DriftReport) -> None:
        await asyncio.to_thread(self._put_drift, report)

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        return await asyncio.to_thread(self._get_drift, snapshot_id)

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return await asyncio.to_thread(self._read_changes, snapshot_id, start, stop)

    async def usage(self, tenant: str) -> StoreUsage:
        return await asyncio.to_thread(self._usage, tenant)
