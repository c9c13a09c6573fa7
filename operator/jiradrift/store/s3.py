"""A SnapshotStore in an S3 bucket (AWS S3 or any S3-compatible server): nothing goes to etcd.

The layout mirrors the filesystem store, under the configured prefix::

    jiradrift-store.json               format marker
    items/<2 hex>/<sha256>.zst         item bodies, zstd-compressed, stored once (content-addressed)
    snapshots/<id>/manifest.json.zst   {"manifest": ..., "items_from": <id> | null, "sizes": {digest: bytes}}
    snapshots/<id>/drift.json          drift report summary (written last: its commit marker)
    snapshots/<id>/drift/<n>.json.zst  drift changes, CHANGES_PER_CHUNK per chunk
    index/<tenant>.json                small per-snapshot records, newest first

Consistency: S3 has no rename and no lock, so the per-tenant index is updated by compare-and-swap
(``If-Match`` on the etag read, ``If-None-Match: *`` for a new one; retried on conflict), and a
manifest is created with ``If-None-Match: *`` so an id is stored once even with two writers. The
operator's snapshot Lease keeps one writer per tenant; these conditions make a second one safe.

Cost per capture: ``begin_capture`` reads the tenant's index and the newest manifest of the type
(two GETs); a body that manifest already uses is known without a request, any other body costs one
HEAD (and a PUT when new). ``put_manifest`` checks only bodies it has not seen, reads the index
(predecessor, duplicate id), writes the manifest, and updates the index (one more GET, one PUT).
An unchanged capture is therefore 4 GETs and 2 PUTs, whatever the number of items.

Garbage collection lists ``items/`` and removes bodies no manifest refers to that are older than
``gc_grace`` (by the object's Last-Modified); a re-used body older than half of ``gc_grace`` is
written again, which renews its age (S3 has no ``touch``). A sweep reads every manifest, so
``delete_snapshot`` starts one at most every half ``gc_grace`` (``gc.json`` records the last).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import orjson

from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import CorruptStoredObject, ItemNotFound, SnapshotNotFound, StoreError, check_body
from jiradrift.store import layout
from jiradrift.store.codec import load_json, shared_codec, skip
from jiradrift.store.layout import DEFAULT_GC_GRACE, FORMAT_MARKER, FORMAT_VERSION, Capture, Row
from jiradrift.store.s3client import ObjectInfo, S3Client

MAX_CAS_ATTEMPTS = 20
GC_MARKER = "gc.json"  # when garbage collection last ran in this store
# Every key the store writes starts with one of these (items, snapshots, tenant indexes, GC state).
OWN_PREFIXES = ("items/", "snapshots/", "index/", "reports/", GC_MARKER, FORMAT_MARKER)
_CONCURRENCY = 16  # parallel requests of one bulk read or delete


class S3Store:
    """Content-addressed snapshot store in one bucket under one prefix.

    ``gc_grace``: bodies younger than this are never collected (a capture in flight writes bodies
    before its manifest). ``budget_bytes``: the bodies one snapshot uses may occupy at most this
    many stored bytes; a capture past it gets :class:`BudgetExceeded` before the body that would
    not fit is written. The store does not own ``client``'s connection pool unless ``owns_client``.
    ``tenant``: when given, the store serves that tenant only (listings, reads and deletes; another
    tenant's snapshot raises :class:`SnapshotOfAnotherTenant` and nothing of it is returned).
    """

    def __init__(
        self,
        client: S3Client,
        *,
        compression_level: int = 3,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
        budget_bytes: int | None = None,
        tenant: str | None = None,
    ) -> None:
        self.client = client
        self.tenant = tenant
        self.gc_grace = gc_grace
        self.budget_bytes = budget_bytes
        # bounded like a response: a small hostile object must not expand without limit
        self._codec = shared_codec(compression_level, max_output_size=client.config.max_response_bytes)
        self._capture: Capture | None = None
        # bodies known to be stored, with their stored size (from a manifest, a HEAD or a PUT)
        self._known: dict[str, int] = {}
        # bodies a HEAD just found missing: capture asks has_item, then put_item; one HEAD is enough
        self._absent: set[str] = set()
        self._checked_marker = False

    @classmethod
    def for_namespace(
        cls, root: S3Client, namespace: str, *, budget_bytes: int | None = None, tenant: str | None = None
    ) -> S3Store:
        """The operator's store of one namespace: keys under ``PREFIX/NAMESPACE/`` (Snapshot names,
        the snapshot ids, are unique per namespace; bodies are shared within it, like the ConfigMap store)."""
        return cls(root.scoped(layout.check_name("namespace", namespace)), budget_bytes=budget_bytes, tenant=tenant)

    @property
    def where(self) -> str:
        return self.client.config.where

    def __repr__(self) -> str:
        return f"S3Store({self.where!r})"

    # --- plumbing ---------------------------------------------------------------------------

    def _decompress(self, data: bytes, what: str = "an object") -> bytes:
        return self._codec.decode(data, what, self.where)

    async def _ensure_marker(self) -> None:
        """Write the format marker on first write; refuse a prefix that holds something else."""
        if self._checked_marker:
            return
        found = await self.client.get(FORMAT_MARKER)
        if found is None:
            # Objects in our own layout without the marker are another first capture of this
            # namespace writing at the same moment (it writes items before it gets here): fine.
            # Anything else means the prefix belongs to someone else.
            async for info in self.client.list(""):
                if not info.key.startswith(OWN_PREFIXES):
                    raise StoreError(
                        f"{self.where} is not empty and is not a jiradrift store (no {FORMAT_MARKER}, and "
                        f"{info.key} is not ours); pick an empty bucket or another prefix"
                    )
            # create-only: of two first writers, one creates it and the other finds it there
            await self.client.put(FORMAT_MARKER, orjson.dumps({"format": FORMAT_VERSION}), if_none_match=True)
        self._checked_marker = True

    @staticmethod
    def _item_key(digest: str) -> str:  # under OWN_PREFIXES, as the manifest and index keys
        return f"items/{digest[:2]}/{digest}.zst"

    @staticmethod
    def _snapshot_prefix(snapshot_id: str) -> str:
        return f"snapshots/{layout.check_name('snapshot id', snapshot_id)}/"

    def _manifest_key(self, snapshot_id: str) -> str:
        return self._snapshot_prefix(snapshot_id) + "manifest.json.zst"

    @staticmethod
    def _index_key(tenant: str) -> str:
        return f"index/{layout.tenant_file(tenant)}.json"

    async def _read_index(self, tenant: str) -> tuple[list[Row], str | None]:
        found = await self.client.get(self._index_key(tenant))
        if found is None:
            return [], None
        what = f"the index of tenant {tenant!r}"
        try:
            data = load_json(found[0], what, self.where)
        except CorruptStoredObject as exc:
            skip(exc)
            return [], found[1]
        return layout.valid_rows(data, what, self.where), found[1]

    async def _update_index(self, tenant: str, change: Callable[[list[Row]], None]) -> None:
        """Read-modify-write the tenant's index with compare-and-swap; ``change`` edits the rows in place."""
        for _ in range(MAX_CAS_ATTEMPTS):
            rows, etag = await self._read_index(tenant)
            change(rows)
            rows.sort(key=layout.newest_first, reverse=True)
            data = orjson.dumps(rows)
            if etag is None:
                written = await self.client.put(self._index_key(tenant), data, if_none_match=True)
            else:
                written = await self.client.put(self._index_key(tenant), data, if_match=etag)
            if written is not None:
                return
        raise StoreError(
            f"the index of tenant {tenant!r} in {self.where} kept changing under {MAX_CAS_ATTEMPTS} attempts to "
            f"update it; is more than one operator writing this tenant? Retry later"
        )

    async def _tenants(self) -> list[str]:
        tenants = []
        async for obj in self.client.list("index/"):
            name = obj.key.removeprefix("index/")
            if name.endswith(".json"):
                tenants.append(unquote(name.removesuffix(".json")))
        return sorted(tenants)

    async def _load_raw(self, snapshot_id: str) -> dict[str, Any]:
        found = await self.client.get(self._manifest_key(snapshot_id))
        if found is None:
            raise SnapshotNotFound(snapshot_id, self.where)
        what = f"the manifest of snapshot {snapshot_id!r}"
        return layout.valid_raw_manifest(self._codec.decode_json(found[0], what, self.where), what, self.where)

    async def _find_row(self, snapshot_id: str) -> dict[str, Any]:
        data = await self._load_raw(snapshot_id)
        tenant = data["manifest"]["tenant"]
        layout.check_owner(snapshot_id, tenant, self.tenant)
        rows, _ = await self._read_index(tenant)
        for row in rows:
            if row["id"] == snapshot_id:
                return row
        raise SnapshotNotFound(snapshot_id, self.where)

    async def _gather(self, calls: Iterable[Awaitable[Any]]) -> list[Any]:
        """Run requests with bounded parallelism, results in order."""
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(call: Awaitable[Any]) -> Any:
            async with gate:
                return await call

        return list(await asyncio.gather(*(one(c) for c in calls)))

    # --- item bodies ------------------------------------------------------------------------

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        layout.tenant_file(tenant)
        self._capture = Capture(tenant, snapshot_type)
        rows, etag = await self._read_index(tenant)
        if etag is not None:
            self._checked_marker = True  # an index exists: this prefix is a store
        newest = next((r for r in rows if r["type"] == snapshot_type), None)
        if newest is not None:
            with_items = newest["items_from"] or newest["id"]
            try:
                data = await self._load_raw(with_items)
            except SnapshotNotFound:
                return
            except CorruptStoredObject as exc:  # capture goes on: it re-checks bodies with HEADs
                skip(exc)
                return
            sizes = data.get("sizes")
            if isinstance(sizes, dict):
                self._known.update({str(d): n for d, n in sizes.items() if isinstance(n, int)})

    def _charge(self, digest: str, size: int) -> None:
        if self._capture is not None:
            self._capture.charge(digest, size, self.budget_bytes, self.where)

    async def put_item(self, digest: str, body: bytes) -> bool:
        layout.check_digest(digest)
        if digest in self._known:
            self._charge(digest, self._known[digest])
            return False
        info = None if digest in self._absent else await self.client.head(self._item_key(digest))
        if info is not None:
            self._charge(digest, info.size)
            self._known[digest] = info.size
            if datetime.now(UTC) - info.last_modified > self.gc_grace / 2:
                # Renew its age: a capture re-uses this body, so GC must not take it.
                await self.client.put(self._item_key(digest), self._codec.compress(body))
            return False
        check_body(digest, body)
        data = self._codec.compress(body)
        self._charge(digest, len(data))  # before writing: over budget writes nothing
        await self._ensure_marker()
        await self.client.put(self._item_key(digest), data)
        self._known[digest] = len(data)
        self._absent.discard(digest)
        return True

    async def has_item(self, digest: str) -> bool:
        layout.check_digest(digest)
        size = self._known.get(digest)
        if size is None:
            info = await self.client.head(self._item_key(digest))
            if info is None:
                self._absent.add(digest)
                return False
            size = self._known[digest] = info.size
        self._charge(digest, size)
        return True

    async def get_item(self, digest: str) -> bytes:
        found = await self.client.get(self._item_key(layout.check_digest(digest)))
        if found is None:
            self._known.pop(digest, None)
            raise ItemNotFound(digest, self.where)
        return self._decompress(found[0])

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(digests))
        bodies = await self._gather(self.get_item(d) for d in wanted)
        return dict(zip(wanted, bodies, strict=True))

    # --- manifests --------------------------------------------------------------------------

    async def _sizes(self, digests: Iterable[str]) -> dict[str, int]:
        """Stored sizes of bodies; raises StoreIntegrityError naming those that are missing."""
        unknown = sorted({d for d in digests if d not in self._known})
        infos = await self._gather(self.client.head(self._item_key(layout.check_digest(d))) for d in unknown)
        for digest, info in zip(unknown, infos, strict=True):
            if info is not None:
                self._known[digest] = info.size
        return {d: self._known[d] for d in digests if d in self._known}

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        layout.tenant_file(manifest.tenant)
        key = self._manifest_key(manifest.snapshot_id)
        sizes = await self._sizes(manifest.items.values())
        layout.require_bodies(manifest, lambda d: d in sizes)
        await self._ensure_marker()
        digest = manifest.digest or compute_digest(manifest.items)
        rows, _ = await self._read_index(manifest.tenant)
        layout.require_new(rows, manifest.snapshot_id)
        plan = layout.plan_manifest(rows, manifest, digest)
        payload = self._codec.compress(
            orjson.dumps(
                {
                    "manifest": plan.written.model_dump(mode="json"),
                    "items_from": plan.items_from,
                    "sizes": {} if plan.items_from else dict(sorted(sizes.items())),
                }
            )
        )
        if await self.client.put(key, payload, if_none_match=True) is None:
            # A manifest object with this id exists but the index does not list it: an earlier
            # attempt died between the two writes (or another writer is between them right now).
            rows, _ = await self._read_index(manifest.tenant)
            layout.require_new(rows, manifest.snapshot_id)
            await self.client.put(key, payload)
        row = plan.row(len(payload))

        def add(rows: list[Row]) -> None:
            rows[:] = [r for r in rows if r["id"] != manifest.snapshot_id]
            rows.append(row)

        await self._update_index(manifest.tenant, add)
        self._capture = None
        return plan.stored

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        data = await self._load_raw(snapshot_id)
        manifest = data["manifest"]
        layout.check_owner(snapshot_id, manifest["tenant"], self.tenant)  # before anything of it is read
        if data["items_from"]:
            lender = (await self._load_raw(data["items_from"]))["manifest"]
            layout.check_owner(data["items_from"], lender["tenant"], manifest["tenant"])
            manifest["items"] = lender["items"]
        return layout.validated_manifest(manifest, f"the manifest of snapshot {snapshot_id!r}", self.where)

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        tenant = tenant if tenant is not None else self.tenant
        if tenant is not None:
            rows, _ = await self._read_index(tenant)
        else:
            indexes = await self._gather(self._read_index(t) for t in await self._tenants())
            rows = [r for found, _ in indexes for r in found]
            rows.sort(key=layout.newest_first, reverse=True)
        return [layout.row_to_info(r) for r in rows]

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        return [info.snapshot_id for info in await self.list_snapshots(tenant)]

    # --- deletion and garbage collection -------------------------------------------------------

    async def delete_snapshot(self, snapshot_id: str, *, collect: bool = True) -> None:
        """Delete one snapshot; with ``collect`` (default) also sweep bodies nothing refers to."""
        row = await self._find_row(snapshot_id)
        tenant = row["tenant"]
        await self._rehome_dependents(tenant, snapshot_id)
        # Index first: a crash then leaves unlisted objects (garbage), never a listed snapshot
        # without a manifest.

        def remove(rows: list[Row]) -> None:
            rows[:] = [r for r in rows if r["id"] != snapshot_id]

        await self._update_index(tenant, remove)
        await self._delete_prefix(self._snapshot_prefix(snapshot_id), last=self._manifest_key(snapshot_id))
        if collect and await self._gc_due():
            await self.collect_garbage()

    async def _gc_due(self) -> bool:
        """A sweep reads every manifest of the store, so deletions trigger one at most every half
        ``gc_grace`` (a body younger than ``gc_grace`` is never removed anyway). Budgets count only
        bodies that manifests refer to, so garbage waiting for the next sweep costs no tenant."""
        if self.gc_grace <= timedelta(0):
            return True
        found = await self.client.get(GC_MARKER)
        if found is None:
            return True
        last = datetime.fromisoformat(orjson.loads(found[0])["at"])
        return datetime.now(UTC) - last >= self.gc_grace / 2

    async def delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        """Delete several snapshots with one garbage collection; returns bodies removed."""
        for snapshot_id in list(snapshot_ids):
            await self.delete_snapshot(snapshot_id, collect=False)
        return await self.collect_garbage()

    async def _delete_prefix(self, prefix: str, *, last: str | None = None) -> None:
        keys = [o.key async for o in self.client.list(prefix) if o.key != last]
        await self._gather(self.client.delete(k) for k in keys)
        if last is not None:
            await self.client.delete(last)

    async def _rehome_dependents(self, tenant: str, snapshot_id: str) -> None:
        """Before deleting a snapshot, give the snapshots that borrow its items their own copy."""
        rows, _ = await self._read_index(tenant)
        dependents = sorted((r for r in rows if r["items_from"] == snapshot_id), key=layout.newest_first)
        if not dependents:
            return
        own = await self._load_raw(snapshot_id)
        heir = dependents[0]["id"]
        moved: dict[str, str | None] = {}
        for row in dependents:
            data = await self._load_raw(row["id"])
            if row["id"] == heir:
                data["manifest"]["items"] = own["manifest"]["items"]
                data["sizes"] = own.get("sizes") or {}
                data["items_from"] = None
            else:
                data["items_from"] = heir
            await self.client.put(self._manifest_key(row["id"]), self._codec.compress(orjson.dumps(data)))
            moved[row["id"]] = data["items_from"]

        def rehome(rows: list[Row]) -> None:
            for r in rows:
                if r["id"] in moved:
                    r["items_from"] = moved[r["id"]]

        await self._update_index(tenant, rehome)

    async def _referenced_digests(self) -> set[str]:
        keys = [o.key async for o in self.client.list("snapshots/") if o.key.endswith("/manifest.json.zst")]
        ids = [k.removeprefix("snapshots/").removesuffix("/manifest.json.zst") for k in keys]

        async def digests(snapshot_id: str) -> Iterable[str]:
            try:
                data = await self._load_raw(snapshot_id)
            except SnapshotNotFound:
                return ()
            except StoreError as exc:  # planted or damaged: skip it, keep collecting
                skip(
                    exc
                    if isinstance(exc, CorruptStoredObject)
                    else CorruptStoredObject(f"snapshot {snapshot_id!r}", self.where, str(exc))
                )
                return ()
            return () if data["items_from"] else [str(d) for d in data["manifest"].get("items", {}).values()]

        live: set[str] = set()
        for found in await self._gather(digests(i) for i in ids):
            live.update(found)
        return live

    async def collect_garbage(self) -> int:
        """Mark bodies referenced by any manifest, sweep the rest (older than ``gc_grace``).

        Returns the number of bodies removed. Safe at any time: it never removes a body a stored
        manifest names, and a capture in flight is protected by the grace period.
        """
        live = await self._referenced_digests()
        cutoff = datetime.now(UTC) - self.gc_grace
        doomed = []
        async for obj in self.client.list("items/"):
            digest = obj.key.rsplit("/", 1)[-1].removesuffix(".zst")
            if digest not in live and obj.last_modified <= cutoff:
                doomed.append((digest, obj.key))
        await self._gather(self.client.delete(k) for _, k in doomed)
        for digest, _ in doomed:
            self._known.pop(digest, None)
        await self.client.put(GC_MARKER, orjson.dumps({"at": datetime.now(UTC).isoformat(), "removed": len(doomed)}))
        return len(doomed)

    # --- drift reports ----------------------------------------------------------------------

    def _drift_prefix(self, snapshot_id: str) -> str:
        return self._snapshot_prefix(snapshot_id) + "drift/"

    async def put_drift(self, report: DriftReport) -> None:
        snapshot_id = report.new_snapshot
        row = await self._find_row(snapshot_id)
        base = self._snapshot_prefix(snapshot_id)
        # The summary is removed first and written last: it marks a complete report.
        await self.client.delete(base + "drift.json")
        await self._delete_prefix(self._drift_prefix(snapshot_id))
        chunks = layout.drift_chunks(report, self._codec)
        await self._gather(
            self.client.put(f"{self._drift_prefix(snapshot_id)}{n}.json.zst", data) for n, data in enumerate(chunks)
        )
        summary = layout.drift_summary(report, len(chunks))
        drift_bytes = sum(len(c) for c in chunks) + len(summary)
        await self.client.put(base + "drift.json", summary)

        await self._update_index(
            row["tenant"], lambda rows: layout.record_drift(rows, snapshot_id, report.change_count, drift_bytes)
        )

    async def _drift_summary(self, snapshot_id: str) -> dict[str, Any] | None:
        if self.tenant is not None:
            await self._find_row(snapshot_id)  # refuses another tenant's snapshot
        found = await self.client.get(self._snapshot_prefix(snapshot_id) + "drift.json")
        if found is None:
            if await self.client.head(self._manifest_key(snapshot_id)) is None:
                raise SnapshotNotFound(snapshot_id, self.where)
            return None
        what = f"the drift report of snapshot {snapshot_id!r}"
        return layout.valid_drift_summary(load_json(found[0], what, self.where), what, self.where)

    async def _read_chunk(self, snapshot_id: str, n: int) -> list[dict[str, Any]]:
        found = await self.client.get(f"{self._drift_prefix(snapshot_id)}{n}.json.zst")
        if found is None:
            raise StoreError(
                f"drift chunk {n} of snapshot {snapshot_id!r} is missing in {self.where}; the report is being "
                f"rewritten, or was damaged: record it again (jiradrift drift list backfills it)"
            )
        what = f"drift chunk {n} of snapshot {snapshot_id!r}"
        chunk = self._codec.decode_json(found[0], what, self.where)
        if not isinstance(chunk, list):
            raise CorruptStoredObject(what, self.where, "not a JSON list of changes")
        return chunk

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        summary = await self._drift_summary(snapshot_id)
        if summary is None:
            return None
        report = DriftReport.from_dict(summary)
        report.changes = await self._read_changes(snapshot_id, summary, 0, summary["change_count"])
        return report

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        summary = await self._drift_summary(snapshot_id)
        if summary is None:
            return []
        return await self._read_changes(snapshot_id, summary, start, stop)

    async def _read_changes(self, snapshot_id: str, summary: dict[str, Any], start: int, stop: int) -> list[Change]:
        numbers = layout.chunks_to_read(summary, start, stop)
        chunks = await self._gather(self._read_chunk(snapshot_id, n) for n in numbers)
        return layout.changes_in_chunks(summary, start, stop, zip(numbers, chunks, strict=True))

    # --- comparison reports -------------------------------------------------------------------

    @property
    def report_where(self) -> str:
        return self.where

    async def put_report(self, name: str, report: bytes, owner: Mapping[str, Any] | None = None) -> str:
        """Keep ``report`` (a comparison's JSON) compressed as ``reports/<name>/<time>-<hash>.json.zst``
        beside the newest :data:`~jiradrift.store.layout.REPORTS_KEPT` - 1 before it (older ones are
        deleted); returns its key for :meth:`get_report` (``owner`` is for cluster stores)."""
        data = self._codec.compress(report)
        layout.check_report_size(name, data)
        key = layout.new_report_key(name, data, datetime.now(UTC))
        await self._ensure_marker()
        await self.client.put(f"reports/{key}.json.zst", data)
        kept = [info.key.removeprefix("reports/").removesuffix(".json.zst") async for info in self._reports(name)]
        await self._gather(self.client.delete(f"reports/{k}.json.zst") for k in layout.reports_beyond(kept))
        return key

    async def get_report(self, key: str) -> bytes | None:
        """The report kept under ``key`` (None when there is none)."""
        layout.report_key_name(key)
        found = await self.client.get(f"reports/{key}.json.zst")
        return None if found is None else self._decompress(found[0], f"comparison report {key}")

    async def delete_reports(self, name: str) -> None:
        """Delete every report of comparison ``name`` (the comparison is gone)."""
        keys = [info.key async for info in self._reports(name)]
        await self._gather(self.client.delete(k) for k in keys)

    def _reports(self, name: str) -> AsyncIterator[ObjectInfo]:
        return self.client.list(f"reports/{layout.check_report_name(name)}/")

    # --- accounting -------------------------------------------------------------------------

    async def usage(self, tenant: str) -> StoreUsage:
        rows, _ = await self._read_index(tenant)
        owners = [r["id"] for r in rows if not r["items_from"]]
        sizes: dict[str, int] = {}

        async def load(snapshot_id: str) -> dict[str, Any]:
            try:
                return await self._load_raw(snapshot_id)
            except SnapshotNotFound:
                return {}
            except CorruptStoredObject as exc:  # planted or damaged: counts nothing, never fatal
                skip(exc)
                return {}

        for data in await self._gather(load(i) for i in owners):
            found = data.get("sizes")
            if isinstance(found, dict):
                sizes.update({str(d): n for d, n in found.items() if isinstance(n, int)})
        return layout.usage_from_rows(tenant, rows, sum(sizes.values()))
