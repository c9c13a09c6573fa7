"""A SnapshotStore on a local directory (the CLI's ``--out DIR``, or a PVC in a cluster).

Layout under ``root``::

    jiradrift-store.json              format marker
    items/<2 hex>/<sha256>.zst        item bodies, zstd-compressed, stored once
    snapshots/<id>/manifest.json.zst  {"manifest": ..., "items_from": <id> | null}
    snapshots/<id>/drift.json         drift report summary (written last: its commit marker)
    snapshots/<id>/drift/<n>.json.zst drift changes, CHANGES_PER_CHUNK per chunk
    index/<tenant>.json               small per-snapshot records, newest first (a cache of the above)
    reach/<content digest>.json.zst   the reference index of a snapshot's content (blast radius)
    reports/<ns.name>/<time>-<hash>.json.zst  a SiteComparison's full reports, the newest few
    tmp/                              in-flight writes; every file appears by an atomic rename

The operator keeps one such store per namespace, ``<root>/namespaces/<namespace>/``
(:meth:`FilesystemStore.for_namespace`): Snapshot names, the snapshot ids, are unique only within a
namespace, so ``team-a/acme`` and ``team-b/acme`` must never share one. A store the operator wrote
before (every namespace in ``<root>``) is moved there, namespace by namespace, on first use.

Everything read back is untrusted (anyone who can write the directory can plant a file): each read
is bounded (:data:`~jiradrift.store.codec.MAX_EXPANDED_BYTES`) and validated, and a bad file is
skipped with a warning by listings, captures and garbage collection.

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
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import (
    CorruptStoredObject,
    ItemNotFound,
    SnapshotNotFound,
    StoreError,
    StoreIntegrityError,
    check_body,
)
from jiradrift.store import layout
from jiradrift.store.bounded import read_file_bounded
from jiradrift.store.codec import MAX_EXPANDED_BYTES, load_json, shared_codec, skip
from jiradrift.store.layout import DEFAULT_GC_GRACE, FORMAT_MARKER, FORMAT_VERSION, Capture, Row


class FilesystemStore:
    """Content-addressed snapshot store in a directory.

    ``durable=True`` flushes bodies to disk (one ``os.sync``) before a manifest is renamed into
    place, so even a power cut cannot leave a manifest pointing at missing bodies; tests turn it
    off for speed. ``gc_grace``: bodies younger than this are never collected, which protects a
    capture that is writing bodies for a manifest it has not put yet. ``budget_bytes``: the bodies
    one snapshot uses may occupy at most this many bytes; a capture past it gets
    :class:`BudgetExceeded` before the body that would not fit is written. ``tenant``: when given,
    the store serves that tenant only: its listings, and reads and deletes of its own snapshots
    (another tenant's raise :class:`SnapshotOfAnotherTenant`, and nothing of it is returned).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        durable: bool = True,
        compression_level: int = 3,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
        budget_bytes: int | None = None,
        tenant: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.tenant = tenant
        self.budget_bytes = budget_bytes
        self._capture: Capture | None = None
        self.durable = durable
        self.gc_grace = gc_grace
        self._codec = shared_codec(compression_level)
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

    @classmethod
    def for_namespace(cls, root: Path | str, namespace: str, **options: Any) -> FilesystemStore:
        """The operator's store of one namespace: ``<root>/namespaces/<namespace>/``.

        A store the operator wrote under ``root`` itself (before stores were per namespace) is
        migrated: the snapshots of this namespace's tenants move here on first use (see
        :func:`jiradrift.store.fs_migrate.migrate_namespace`)."""
        from jiradrift.store.fs_migrate import migrate_namespace

        store = cls(Path(root) / "namespaces" / layout.check_name("namespace", namespace), **options)
        migrate_namespace(Path(root), namespace, store)
        return store

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    def _read(self, path: Path, what: str) -> bytes:
        """A stored file, at most MAX_EXPANDED_BYTES of it (FileNotFoundError passes through)."""
        return read_file_bounded(path, MAX_EXPANDED_BYTES, what, str(self.root))

    # --- plumbing ---------------------------------------------------------------------------

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
        return self.root / "snapshots" / layout.check_name("snapshot id", snapshot_id)

    def _index_path(self, tenant: str) -> Path:
        return self.root / "index" / f"{layout.tenant_file(tenant)}.json"

    @contextlib.contextmanager
    def _index_lock(self, tenant: str) -> Iterator[None]:
        lock = self.root / "index" / f"{layout.tenant_file(tenant)}.lock"
        with open(lock, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _read_index(self, tenant: str) -> list[Row]:
        what = f"the index of tenant {tenant!r}"
        try:
            data = load_json(self._read(self._index_path(tenant), what), what, str(self.root))
        except FileNotFoundError:
            return []
        except CorruptStoredObject as exc:
            skip(exc)
            return []
        return layout.valid_rows(data, what, str(self.root))

    def _write_index(self, tenant: str, rows: list[Row]) -> None:
        rows.sort(key=layout.newest_first, reverse=True)
        self._write_atomic(self._index_path(tenant), orjson.dumps(rows))

    def _tenants(self) -> list[str]:
        return sorted(unquote(p.stem) for p in (self.root / "index").glob("*.json"))

    def _find_row(self, snapshot_id: str) -> dict[str, Any]:
        for tenant in self._tenants():
            for row in self._read_index(tenant):
                if row["id"] == snapshot_id:
                    layout.check_owner(snapshot_id, row["tenant"], self.tenant)
                    return row
        raise SnapshotNotFound(snapshot_id, str(self.root))

    # --- item bodies ------------------------------------------------------------------------

    def _get_item(self, digest: str) -> bytes:
        what = f"item body {digest}"
        try:
            raw = self._read(self._item_path(layout.check_digest(digest)), what)
        except FileNotFoundError:
            raise ItemNotFound(digest, str(self.root)) from None
        return self._codec.decode(raw, what, str(self.root))

    # --- manifests --------------------------------------------------------------------------

    def _put_manifest(self, manifest: Manifest) -> Manifest:
        layout.tenant_file(manifest.tenant)
        snap_dir = self._snapshot_dir(manifest.snapshot_id)
        layout.require_bodies(manifest, lambda d: self._item_path(layout.check_digest(d)).exists())
        digest = manifest.digest or compute_digest(manifest.items)
        with self._index_lock(manifest.tenant):
            rows = self._read_index(manifest.tenant)
            layout.require_new(rows, manifest.snapshot_id)
            self._require_not_foreign(manifest)
            plan = layout.plan_manifest(rows, manifest, digest)
            payload = self._codec.compress(
                orjson.dumps({"manifest": plan.written.model_dump(mode="json"), "items_from": plan.items_from})
            )
            if self.durable and plan.items_from is None:
                os.sync()  # bodies reach the disk before the manifest that names them
            snap_dir.mkdir(exist_ok=True)
            self._write_atomic(snap_dir / "manifest.json.zst", payload, fsync=self.durable)
            rows.append(plan.row(len(payload)))
            self._write_index(manifest.tenant, rows)
        return plan.stored

    def _require_not_foreign(self, manifest: Manifest) -> None:
        """Refuse to write over another tenant's stored snapshot of the same id (S3 and Kubernetes
        refuse a second create of a manifest; a file would be silently replaced)."""
        try:
            owner = self._load_raw(manifest.snapshot_id)["manifest"]["tenant"]
        except (SnapshotNotFound, CorruptStoredObject):
            return  # nothing there, or nothing readable: ours to write
        if owner != manifest.tenant:
            raise StoreIntegrityError(
                f"snapshot {manifest.snapshot_id!r} is already stored for tenant {owner!r} in {self.root}; "
                f"snapshots are immutable: delete that tenant's snapshot first, or capture under a new id"
            )

    def _load_raw(self, snapshot_id: str) -> dict[str, Any]:
        what = f"the manifest of snapshot {snapshot_id!r}"
        try:
            raw = self._read(self._snapshot_dir(snapshot_id) / "manifest.json.zst", what)
        except FileNotFoundError:
            raise SnapshotNotFound(snapshot_id, str(self.root)) from None
        return layout.valid_raw_manifest(self._codec.decode_json(raw, what, str(self.root)), what, str(self.root))

    def _get_manifest(self, snapshot_id: str) -> Manifest:
        data = self._load_raw(snapshot_id)
        manifest = data["manifest"]
        layout.check_owner(snapshot_id, manifest["tenant"], self.tenant)  # before anything of it is read
        if data["items_from"]:
            lender = self._load_raw(data["items_from"])["manifest"]
            layout.check_owner(data["items_from"], lender["tenant"], manifest["tenant"])
            manifest["items"] = lender["items"]
        return layout.validated_manifest(manifest, f"the manifest of snapshot {snapshot_id!r}", str(self.root))

    def _list_snapshots(self, tenant: str | None = None) -> Iterator[SnapshotInfo]:
        tenant = tenant if tenant is not None else self.tenant
        if tenant is not None:
            rows = self._read_index(tenant)
        else:
            rows = [r for t in self._tenants() for r in self._read_index(t)]
            rows.sort(key=layout.newest_first, reverse=True)
        for row in rows:
            yield layout.row_to_info(row)

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
        dependents = sorted((r for r in rows if r["items_from"] == snapshot_id), key=layout.newest_first)
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
                self._codec.compress(orjson.dumps(data)),
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
            try:
                data = self._load_raw(snap_dir.name)
            except SnapshotNotFound:
                continue
            except StoreError as exc:  # planted or damaged (or not a snapshot name): skip, keep collecting
                skip(
                    exc
                    if isinstance(exc, CorruptStoredObject)
                    else CorruptStoredObject(f"snapshot directory {snap_dir.name!r}", str(self.root), str(exc))
                )
                continue
            if not data["items_from"]:
                live.update(str(d) for d in data["manifest"].get("items", {}).values())
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
        self._collect_edges(cutoff)
        for stale in (self.root / "tmp").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if stale.stat().st_mtime < cutoff:
                    if stale.is_dir():
                        shutil.rmtree(stale, ignore_errors=True)
                    else:
                        stale.unlink()
        return removed

    def _collect_edges(self, cutoff: float) -> None:
        """Sweep the reference indexes (``reach/``) of content no listed snapshot has any more (they
        are a cache: one swept by mistake is computed again from the bodies when next needed)."""
        reach = self.root / "reach"
        if not reach.is_dir():
            return
        live = {str(row["digest"]) for tenant in self._tenants() for row in self._read_index(tenant)}
        for entry in os.scandir(reach):
            if entry.name.removesuffix(".json.zst") in live:
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)

    # --- drift reports ----------------------------------------------------------------------

    def _put_drift(self, report: DriftReport) -> None:
        snapshot_id = report.new_snapshot
        row = self._find_row(snapshot_id)
        snap_dir = self._snapshot_dir(snapshot_id)
        staging = self.root / "tmp" / f"drift-{uuid.uuid4().hex}"
        staging.mkdir()
        chunks = layout.drift_chunks(report, self._codec)
        for n, data in enumerate(chunks):
            (staging / f"{n}.json.zst").write_bytes(data)
        summary = layout.drift_summary(report, len(chunks))
        drift_bytes = sum(len(c) for c in chunks) + len(summary)
        with self._index_lock(row["tenant"]):
            # Summary is removed first and written last: it marks a complete report.
            (snap_dir / "drift.json").unlink(missing_ok=True)
            self._remove_tree(snap_dir / "drift")
            os.replace(staging, snap_dir / "drift")
            self._write_atomic(snap_dir / "drift.json", summary)
            rows = self._read_index(row["tenant"])
            layout.record_drift(rows, snapshot_id, report.change_count, drift_bytes)
            self._write_index(row["tenant"], rows)

    def _drift_summary(self, snapshot_id: str) -> dict[str, Any] | None:
        if self.tenant is not None:
            self._find_row(snapshot_id)  # refuses another tenant's snapshot
        what = f"the drift report of snapshot {snapshot_id!r}"
        try:
            summary = load_json(self._read(self._snapshot_dir(snapshot_id) / "drift.json", what), what, str(self.root))
        except FileNotFoundError:
            if not (self._snapshot_dir(snapshot_id) / "manifest.json.zst").exists():
                raise SnapshotNotFound(snapshot_id, str(self.root)) from None
            return None
        return layout.valid_drift_summary(summary, what, str(self.root))

    def _read_chunk(self, snapshot_id: str, n: int) -> list[dict[str, Any]]:
        what = f"drift chunk {n} of snapshot {snapshot_id!r}"
        raw = self._read(self._snapshot_dir(snapshot_id) / "drift" / f"{n}.json.zst", what)
        chunk = self._codec.decode_json(raw, what, str(self.root))
        if not isinstance(chunk, list):
            raise CorruptStoredObject(what, str(self.root), "not a JSON list of changes")
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
        numbers = layout.chunks_to_read(summary, start, stop)
        return layout.changes_in_chunks(summary, start, stop, ((n, self._read_chunk(snapshot_id, n)) for n in numbers))

    # --- accounting -------------------------------------------------------------------------

    def _usage(self, tenant: str) -> StoreUsage:
        rows = self._read_index(tenant)
        digests: set[str] = set()
        for row in rows:
            if not row["items_from"]:
                try:
                    digests.update(self._load_raw(row["id"])["manifest"].get("items", {}).values())
                except SnapshotNotFound:
                    continue
                except CorruptStoredObject as exc:
                    skip(exc)
        body_bytes = 0
        for digest in digests:
            with contextlib.suppress(FileNotFoundError):
                body_bytes += self._item_path(digest).stat().st_size
        return layout.usage_from_rows(tenant, rows, body_bytes)

    def _delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        """Delete several snapshots with one garbage collection; returns bodies removed."""
        for snapshot_id in snapshot_ids:
            self._delete_snapshot(snapshot_id, collect=False)
        return self._collect_garbage()

    # --- the async SnapshotStore protocol ---------------------------------------------------------
    # Small file operations (a stat, one body) stay inline; anything that reads or writes many
    # files or a whole manifest runs in a worker thread so the event loop never waits on a disk.

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        layout.tenant_file(tenant)
        self._capture = Capture(tenant, snapshot_type)

    def _charge(self, digest: str, size: int) -> None:
        """Count a body the snapshot being captured uses; refuse it when over the budget."""
        if self._capture is not None:
            self._capture.charge(digest, size, self.budget_bytes, str(self.root))

    async def put_item(self, digest: str, body: bytes) -> bool:
        path = self._item_path(layout.check_digest(digest))
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            self._charge(digest, size)
            # Refresh the mtime: a capture in flight re-uses this body, so GC must not take it.
            os.utime(path)
            return False
        check_body(digest, body)
        data = self._codec.compress(body)
        self._charge(digest, len(data))  # before writing: over budget writes nothing
        path.parent.mkdir(exist_ok=True)
        self._write_atomic(path, data)
        return True

    async def has_item(self, digest: str) -> bool:
        try:
            size = self._item_path(layout.check_digest(digest)).stat().st_size
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

    # --- comparison reports -------------------------------------------------------------------

    @property
    def report_where(self) -> str:
        return str(self.root)

    def _reports_dir(self, name: str) -> Path:
        return self.root / "reports" / layout.check_report_name(name)

    def _put_report(self, name: str, report: bytes, now: datetime) -> str:
        data = self._codec.compress(report)
        layout.check_report_size(name, data)
        key = layout.new_report_key(name, data, now)
        path = self.root / "reports" / f"{key}.json.zst"
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{uuid.uuid4().hex}.tmp")
        staging.write_bytes(data)
        os.replace(staging, path)  # a reader finds the whole report or none
        older = [p.name.removesuffix(".json.zst") for p in path.parent.glob("*.json.zst")]
        for stale in layout.reports_beyond(older):
            with contextlib.suppress(FileNotFoundError):
                (path.parent / f"{stale}.json.zst").unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.root / "reports" / f"{name}.json.zst").unlink()  # the one report a store kept before
        return key

    def _get_report(self, key: str) -> bytes | None:
        what = f"comparison report {key}"
        if "/" in key:
            layout.report_key_name(key)
            path = self.root / "reports" / f"{key}.json.zst"
        else:  # written before reports were kept by time: reports/NAME.json.zst
            path = self._reports_dir(key).with_name(f"{key}.json.zst")
        try:
            raw = read_file_bounded(path, MAX_EXPANDED_BYTES, what, str(self.root))
        except FileNotFoundError:
            return None
        return self._codec.decode(raw, what, str(self.root))

    def _delete_reports(self, name: str) -> None:
        folder = self._reports_dir(name)
        with contextlib.suppress(FileNotFoundError):
            folder.with_name(f"{name}.json.zst").unlink()
        self._remove_tree(folder)

    async def put_report(self, name: str, report: bytes, owner: Mapping[str, Any] | None = None) -> str:
        """Keep ``report`` (a comparison's JSON) compressed as ``reports/<name>/<time>-<hash>.json.zst``
        beside the newest :data:`~jiradrift.store.layout.REPORTS_KEPT` - 1 before it (older ones are
        deleted); returns its key for :meth:`get_report` (``owner`` is for cluster stores)."""
        return await asyncio.to_thread(self._put_report, name, report, datetime.now(UTC))

    async def get_report(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get_report, key)

    async def delete_reports(self, name: str) -> None:
        """Delete every report of comparison ``name`` (the comparison is gone)."""
        await asyncio.to_thread(self._delete_reports, name)

    async def get_edges(self, digest: str) -> bytes | None:
        """The reference index stored for snapshot content ``digest`` (None when there is none or
        it is unreadable: it is then recomputed; see :mod:`jiradrift.snapshot.reach_index`)."""
        return await asyncio.to_thread(self._get_edges, digest)

    async def put_edges(self, digest: str, data: bytes) -> None:
        await asyncio.to_thread(self._put_edges, digest, data)

    def _edges_path(self, digest: str) -> Path:
        return self.root / "reach" / f"{layout.check_name('content digest', digest)}.json.zst"

    def _get_edges(self, digest: str) -> bytes | None:
        path = self._edges_path(digest)
        try:
            return self._codec.decode(self._read(path, "reference index"), "reference index", str(path))
        except (OSError, StoreError):
            return None

    def _put_edges(self, digest: str, data: bytes) -> None:
        path = self._edges_path(digest)
        path.parent.mkdir(exist_ok=True)
        self._write_atomic(path, self._codec.compress(data))

    async def put_drift(self, report: DriftReport) -> None:
        await asyncio.to_thread(self._put_drift, report)

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        return await asyncio.to_thread(self._get_drift, snapshot_id)

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return await asyncio.to_thread(self._read_changes, snapshot_id, start, stop)

    async def usage(self, tenant: str) -> StoreUsage:
        return await asyncio.to_thread(self._usage, tenant)
