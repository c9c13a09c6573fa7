"""A SnapshotStore in ConfigMaps (or Secrets): the zero-setup default inside a cluster.

    store = ConfigMapStore(kube, "team-a", "team-a/acme").for_owner(snapshot_owner_ref, budget_bytes=50 << 20)
    await store.begin_capture("team-a/acme", "workflows")

All I/O goes through the one async client (:class:`jiradrift.kube.client.Kube`); nothing blocks
the event loop. Every ConfigMap carries ``app.kubernetes.io/managed-by: jira-drift-operator`` and
``jiradrift.io/part``; all payloads are zstd-compressed in ``binaryData`` and no ConfigMap holds more
than ``max_chunk_bytes`` (900 KiB by default, clear of the 1 MiB limit). Four kinds of part:

``pack`` (``<prefix>-p-<random>``)
    Item bodies, one ``binaryData`` key per sha256 digest. ``put_item`` buffers new bodies and
    writes a pack when the buffer is full (and at ``put_manifest``), so a capture of thousands of
    small items writes a handful of ConfigMaps.
``items`` (``<prefix>-i-<random>[-<n>]``)
    A manifest's ``key -> digest`` map plus the body -> pack index, compressed and split over as
    many ConfigMaps as it needs. A snapshot identical to its predecessor re-uses the predecessor's
    items parts: it stores nothing new but its manifest.
``manifest`` (``<prefix>-m-<slug of snapshot id>-<hash>``)
    One per snapshot, written last (its creation commits the snapshot; a second one with the same
    id is refused by the API server). Its annotations are the listing record (tenant, type,
    capturedAt, digest, counts, parts, pack sizes, byte counts, drift summary), so listings and
    budgets read metadata only (``PartialObjectMetadataList``), never payloads.
``drift`` (``<prefix>-d-<random>[-<n>]``)
    The drift report's changes, ``CHANGES_PER_CHUNK`` per ``binaryData`` key, spread over as many
    ConfigMaps as needed; the manifest's ``jiradrift.io/drift`` annotation maps chunks to parts.

API calls per capture grow with packs, not items. ``begin_capture`` lists the tenant's manifest
records once (metadata) and reads the items index of the newest snapshot of that type (cached in
memory across captures: items parts are immutable); ``has_item`` is then answered from memory. An
unchanged capture therefore reads one manifest listing plus (at most) one index, and writes only its
manifest; a first capture writes its packs, its items parts and its manifest.

Why the index is trusted without re-reading packs: garbage collection never removes a body that a
listed manifest's index places in a pack (compaction keeps exactly those). ``put_manifest`` lists the
manifests again; bodies learned from a manifest that has gone meanwhile are verified by reading
their pack before the new manifest is written.

Ownership: a manifest and its drift parts are owned by their Snapshot (``owner``), so deleting the
Snapshot removes them. Packs and items parts may be shared by many snapshots of the tenant, so no
Snapshot owns them (adding each one as an owner would cost a write per part per capture); with
``parts_owner`` (the JiraTenant) they go with the tenant. Within the tenant's life, ``delete_snapshot``
and ``collect_garbage`` remove parts no listed manifest refers to once they are older than
``gc_grace``, and compact packs down to the bodies still referred to.

Budget: with ``budget_bytes``, a capture whose snapshot would occupy more (the packs it uses, its
items index and manifest) raises :class:`BudgetExceeded` before the write that would cross it, and
deletes the packs it wrote. ``usage(tenant)`` sums the stored bytes a tenant's manifests refer to
(shared parts once); ``over_budget``/``enforce_budget`` let retention prune the oldest snapshots.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from jiradrift.kube.client import METADATA_LIST, Kube, KubeError, resource_path
from jiradrift.kube.names import label_value
from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import (
    BudgetExceeded,
    CorruptStoredObject,
    ItemNotFound,
    SnapshotNotFound,
    StoreError,
    StoreIntegrityError,
    check_body,
)
from jiradrift.store import layout
from jiradrift.store.codec import MAX_EXPANDED_BYTES, load_json, shared_codec, skip
from jiradrift.store.layout import CHANGES_PER_CHUNK, DEFAULT_GC_GRACE

GROUP = "jiradrift.io"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "jira-drift-operator"
LABEL_PART = f"{GROUP}/part"
LABEL_TENANT = f"{GROUP}/tenant"
LABEL_SNAPSHOT = f"{GROUP}/snapshot"
LABEL_TYPE = f"{GROUP}/type"

# Annotations (all under jiradrift.io/): the records listings and the garbage collector read.
A_TENANT = f"{GROUP}/tenant"
A_SNAPSHOT = f"{GROUP}/snapshot-id"
A_TYPE = f"{GROUP}/type"
A_CAPTURED = f"{GROUP}/captured-at"
A_DIGEST = f"{GROUP}/digest"
A_ITEM_COUNT = f"{GROUP}/item-count"
A_COMPLETE = f"{GROUP}/complete"
A_UNCHANGED = f"{GROUP}/unchanged-from"
A_ITEMS = f"{GROUP}/items"  # JSON: {"parts": [...], "bytes": n}
A_PACKS = f"{GROUP}/packs"  # comma-separated pack names the manifest's bodies live in
A_PACK_BYTES = f"{GROUP}/pack-bytes"  # comma-separated stored bytes of those packs, same order
A_BYTES = f"{GROUP}/bytes"  # bytes of this ConfigMap's binaryData
A_DRIFT = f"{GROUP}/drift"  # JSON: drift summary + {"parts", "chunk_part", "chunk_size", "bytes"}
A_TOUCHED = f"{GROUP}/touched-at"
A_LIVE = f"{GROUP}/live-bytes"  # set by GC on a pack it could not compact yet (too young)

SNAPSHOT_PACK_TYPE = f"{GROUP}/snapshot-pack"
"""The Secret type of :class:`SecretStore`'s parts."""

DEFAULT_MAX_CHUNK_BYTES = 900 * 1024
#: Keys per pack: the server's managedFields list every binaryData key, and etcd caps the object
#: (payload + metadata) at 1.5 MiB, so many tiny bodies must not push a pack over.
MAX_KEYS_PER_PACK = 2000
ITEMS_CACHE = 8  # items blobs kept in memory (immutable; a tenant's newest per type is what captures need)
PACK_CACHE = 4  # packs' bodies kept in memory for reads
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SLUG = re.compile(r"[^a-z0-9]+")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # a DNS subdomain: no '/', no '..' path


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise StoreError(f"item digest {digest!r} is not a lowercase sha256 hex digest (64 characters)")
    return digest


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _size(binary: Mapping[str, bytes]) -> int:
    return sum(len(k) + len(v) for k, v in binary.items())


@dataclass(frozen=True, slots=True)
class _Record:
    """A manifest ConfigMap's annotations, decoded (metadata only)."""

    name: str
    info: SnapshotInfo
    items_parts: list[str]
    items_bytes: int
    packs: list[str]
    pack_bytes: list[int]
    manifest_bytes: int
    drift: dict[str, Any] | None

    @property
    def key(self) -> tuple[float, str]:
        return (self.info.captured_at.timestamp(), self.info.snapshot_id)

    @property
    def parts_key(self) -> str:
        return ",".join(self.items_parts)


@dataclass
class _Capture:
    """What one capture (one store object, see :meth:`ConfigMapStore.for_owner`) knows and has written.

    ``records``: the tenant's manifests, listed once when the capture began. ``index``: digest -> pack,
    from the items index of the newest snapshot of this tenant and type
    (``source`` names those items parts). ``pending``: new bodies (compressed) not yet in a pack;
    ``written``: packs this capture wrote (digest -> pack in ``index`` too). ``used``: packs the
    snapshot uses so far, with their stored bytes, for the budget.
    """

    tenant: str | None
    type: str | None
    records: list[_Record] = field(default_factory=list)
    index: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    pending: dict[str, bytes] = field(default_factory=dict)
    pending_bytes: int = 0  # _size(pending), kept as bodies arrive (a pack holds up to 2000 of them)
    written: list[str] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)
    pack_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.used.values()) + self.pending_bytes


class ConfigMapStore:
    """Content-addressed snapshot store in the ConfigMaps of one namespace.

    ``tenant``: when given, the store serves that tenant only (its listings, refusing manifests of
    others); None serves every tenant in the namespace. ``owner``: the Snapshot whose manifest and
    drift are written now (a dict with apiVersion, kind, name, uid); see :meth:`for_owner`.
    ``gc_grace``: parts younger than this are never collected or compacted, protecting a capture
    whose manifest is not written yet. ``budget_bytes``: see the module docs.

    One store object serves one capture at a time; :meth:`for_owner` makes one per capture, sharing
    the read caches (items indexes, a few packs).
    """

    RESOURCE = "configmaps"
    KIND = "ConfigMap"
    DATA = "binaryData"
    TYPE: str | None = None

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        tenant: str | None = None,
        *,
        owner: Mapping[str, Any] | None = None,
        max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
        budget_bytes: int | None = None,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
        compression_level: int = 3,
        name_prefix: str = "jiradrift",
        page_size: int = 250,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if max_chunk_bytes > 1000 * 1024 or max_chunk_bytes < 1024:
            raise ValueError(
                f"max_chunk_bytes={max_chunk_bytes} must be between 1 KiB and 1000 KiB: a ConfigMap holds "
                f"at most 1 MiB, and its metadata needs room too"
            )
        self.kube = kube
        self.namespace = namespace
        self.tenant = tenant
        self.owner = _check_owner(owner) if owner is not None else None
        self.parts_owner: dict[str, Any] | None = None
        self.max_chunk_bytes = max_chunk_bytes
        self.budget_bytes = budget_bytes
        self.gc_grace = gc_grace
        self.name_prefix = name_prefix
        self.page_size = page_size
        self._wall_clock = wall_clock
        self._codec = shared_codec(compression_level)
        self._path = resource_path("", "v1", self.RESOURCE, namespace)
        self._shared = _SharedState()
        self._capture: _Capture | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, tenant={self.tenant!r})"

    def for_owner(
        self,
        owner: Mapping[str, Any] | None,
        *,
        budget_bytes: int | None = None,
        parts_owner: Mapping[str, Any] | None = None,
    ) -> ConfigMapStore:
        """A store object for one capture of Snapshot ``owner`` (same read caches), enforcing
        ``budget_bytes`` (default: this store's). ``parts_owner`` (the JiraTenant) owns the packs and
        items parts it writes, so they go with the tenant."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.owner = _check_owner(owner) if owner is not None else None
        clone.parts_owner = _check_owner(parts_owner) if parts_owner is not None else self.parts_owner
        clone.budget_bytes = budget_bytes if budget_bytes is not None else self.budget_bytes
        clone._capture = None
        return clone

    # --- plumbing ---------------------------------------------------------------------------

    def _compress(self, data: bytes) -> bytes:
        return self._codec.compress(data)

    @property
    def _where_text(self) -> str:
        return f"{self.RESOURCE} of namespace {self.namespace}"

    def _decompress(self, data: bytes, what: str = "a stored part") -> bytes:
        """Bounded (MAX_EXPANDED_BYTES): a planted part is skipped, never expanded past the bound."""
        return self._codec.decode(data, what, self._where_text)

    async def _request(self, method: str, name: str = "", **kwargs: Any) -> Any:
        if name and not _OBJECT_NAME.match(name):
            # names come from annotations anyone may plant: never a path ("../secrets/x", another namespace)
            raise CorruptStoredObject(
                f"{self.KIND.lower()} name {name[:80]!r}", self._where_text, "not a Kubernetes object name"
            )
        path = f"{self._path}/{name}" if name else self._path
        try:
            return await self.kube.request(method, path, **kwargs)
        except KubeError as exc:
            if exc.status in (401, 403):
                raise StoreError(
                    f"the API server refused {method} on {self.RESOURCE} in namespace {self.namespace}: "
                    f"{exc.message}; grant the operator's ServiceAccount get/list/create/update/"
                    f"patch/delete on {self.RESOURCE} there"
                ) from exc
            raise

    async def _get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = await self._request("GET", name)
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        if self.TYPE and obj.get("type") != self.TYPE:
            return None  # not ours (a Secret of another type is never read or rewritten as a part)
        return obj

    async def _delete(self, name: str, resource_version: str | None = None) -> bool:
        body = {"preconditions": {"resourceVersion": resource_version}} if resource_version else None
        try:
            await self._request("DELETE", name, body=body)
        except KubeError as exc:
            if exc.not_found or exc.conflict:
                return False
            raise
        return True

    async def _list_meta(self, selector: str) -> list[dict[str, Any]]:
        """Metadata of matching objects (a ``PartialObjectMetadataList``, paged)."""
        query: dict[str, Any] = {"labelSelector": selector}
        if self.TYPE:
            query["fieldSelector"] = f"type={self.TYPE}"
        try:
            return [
                item
                async for item in self.kube.pages(self._path, page_size=self.page_size, accept=METADATA_LIST, **query)
            ]
        except KubeError as exc:
            if exc.status in (401, 403):
                raise StoreError(
                    f"the API server refused to list {self.RESOURCE} in namespace {self.namespace}: {exc.message}; "
                    f"grant the operator's ServiceAccount get/list/create/update/patch/delete on {self.RESOURCE} there"
                ) from exc
            raise

    def _selector(self, part: str, **labels: str) -> str:
        pairs = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART: part, **labels}
        return ",".join(f"{k}={v}" for k, v in pairs.items())

    def _labels(self, part: str, tenant: str | None, snapshot: str | None = None) -> dict[str, str]:
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART: part}
        if tenant is not None:
            labels[LABEL_TENANT] = label_value(tenant)
        snapshot = snapshot or (self.owner or {}).get("name")
        if snapshot:
            labels[LABEL_SNAPSHOT] = label_value(snapshot)
        return labels

    async def _create(
        self,
        name: str,
        binary: Mapping[str, bytes],
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        *,
        owner: Mapping[str, Any] | None = None,
    ) -> None:
        size = _size(binary)
        if size > self.max_chunk_bytes:  # a bug if it happens: callers split first
            raise StoreError(f"{self.KIND} {name} would hold {size} bytes, over max_chunk_bytes={self.max_chunk_bytes}")
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": dict(labels),
            "annotations": {A_BYTES: str(size), A_TOUCHED: _iso(self._wall_clock()), **annotations},
        }
        if owner:
            metadata["ownerReferences"] = [dict(owner)]
        body = {
            "apiVersion": "v1",
            "kind": self.KIND,
            "metadata": metadata,
            self.DATA: {k: base64.b64encode(v).decode() for k, v in binary.items()},
        }
        if self.TYPE:
            body["type"] = self.TYPE
        # The answer echoes the whole object; only success matters here.
        await self._request("POST", body=body)

    async def _write_parts(
        self,
        base: str,
        entries: list[tuple[str, bytes]],
        labels: Mapping[str, str],
        *,
        owner: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], dict[str, int], int]:
        """Spread ``entries`` over ConfigMaps ``base``, ``base-1``, ...; (names, key -> part, bytes)."""
        parts = self._split(entries)
        where = {key: i for i, part in enumerate(parts) for key in part}
        names = [base if i == 0 else f"{base}-{i}" for i in range(len(parts))]
        # The first part last: whoever finds it finds the others.
        for i in reversed(range(len(parts))):
            await self._create(names[i], parts[i], labels, {}, owner=owner)
        return names, where, sum(_size(p) for p in parts)

    def _split(self, entries: list[tuple[str, bytes]]) -> list[dict[str, bytes]]:
        parts: list[dict[str, bytes]] = [{}]
        for key, data in entries:
            if _size(parts[-1]) + len(key) + len(data) > self.max_chunk_bytes and parts[-1]:
                parts.append({})
            parts[-1][key] = data
        return parts

    def _slices(self, blob: bytes, stem: str) -> list[tuple[str, bytes]]:
        step = self.max_chunk_bytes - 64
        return [(f"{stem}.{n}", blob[i : i + step]) for n, i in enumerate(range(0, max(len(blob), 1), step))]

    async def _read_sliced(self, names: list[str], stem: str) -> bytes:
        what = f"{self.KIND.lower()}s {','.join(names[:3])}{'...' if len(names) > 3 else ''}"
        if len(names) > MAX_EXPANDED_BYTES // self.max_chunk_bytes + 1:
            raise CorruptStoredObject(what, self._where_text, f"{len(names)} parts, more than any stored object needs")
        chunks: dict[int, bytes] = {}
        size = 0
        for name in names:
            cm = await self._get(name)
            if cm is None:
                raise StoreError(
                    f"{self.KIND.lower()} {self.namespace}/{name} is missing, so the stored data it held is "
                    f"incomplete; it was deleted by hand or by garbage collection"
                )
            for key, value in (cm.get(self.DATA) or {}).items():
                if key.startswith(stem + "."):
                    try:
                        chunks[int(key.rsplit(".", 1)[1])] = data = base64.b64decode(value)
                    except ValueError as exc:
                        raise CorruptStoredObject(what, self._where_text, f"key {key!r}: {exc}") from None
                    size += len(data)
                    if size > MAX_EXPANDED_BYTES:
                        raise CorruptStoredObject(what, self._where_text, f"over {MAX_EXPANDED_BYTES} bytes")
        return b"".join(chunks[i] for i in sorted(chunks))

    def _name(self, kind: str, text: str | None = None) -> str:
        if text is None:
            return f"{self.name_prefix}-{kind}-{secrets.token_hex(6)}"
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        slug = _SLUG.sub("-", text.lower()).strip("-")[:60].rstrip("-")
        return f"{self.name_prefix}-{kind}-{slug}-{digest}" if slug else f"{self.name_prefix}-{kind}-{digest}"

    def manifest_name(self, snapshot_id: str) -> str:
        """The ConfigMap holding ``snapshot_id``'s manifest (what a Snapshot's storageRef names)."""
        if not snapshot_id:
            raise StoreError("snapshot id is empty; use the Snapshot's name")
        return self._name("m", snapshot_id)

    def _check_tenant(self, tenant: str) -> None:
        if not tenant:
            raise StoreError("manifest tenant is empty; use the JiraTenant as namespace/name")
        if self.tenant is not None and tenant != self.tenant:
            raise StoreError(
                f"this {type(self).__name__} serves tenant {self.tenant!r}, not {tenant!r}; open one with "
                f"tenant={tenant!r} (or tenant=None for all tenants of namespace {self.namespace})"
            )

    # --- records ----------------------------------------------------------------------------

    def _record(self, obj: Mapping[str, Any]) -> _Record:
        """A manifest's record, validated: CorruptStoredObject (naming it) when an annotation is
        missing or malformed (anyone who may create a ConfigMap or Secret here may plant one)."""
        meta = obj.get("metadata") or {}
        try:
            return self._decode_record(meta)
        except (CorruptStoredObject, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            if isinstance(exc, CorruptStoredObject):
                problem = f"{exc.what}: {exc.problem}"
            elif isinstance(exc, KeyError):
                problem = f"annotation {exc.args[0]} is missing"
            else:
                problem = f"malformed: {exc}"
            name = f"manifest {self.KIND.lower()} {self.namespace}/{meta.get('name', '?')}"
            raise CorruptStoredObject(name, self._where_text, problem) from None

    def _decode_record(self, meta: Mapping[str, Any]) -> _Record:
        ann = meta.get("annotations") or {}
        items = orjson.loads(ann.get(A_ITEMS) or "{}")
        drift = orjson.loads(ann[A_DRIFT]) if ann.get(A_DRIFT) else None
        if drift is not None:
            drift = layout.valid_drift_summary(drift, A_DRIFT, self._where_text)
            parts, chunk_part = drift.get("parts"), drift.get("chunk_part")
            if not (isinstance(parts, list) and isinstance(chunk_part, list)):
                raise ValueError(f"{A_DRIFT} lacks its parts")
            if not all(isinstance(p, str) for p in parts) or not all(
                isinstance(n, int) and 0 <= n < len(parts) for n in chunk_part
            ):
                raise ValueError(f"{A_DRIFT} names parts that are not there")
        if not isinstance(items, dict) or not all(isinstance(p, str) for p in items.get("parts", [])):
            raise ValueError(f"{A_ITEMS} is not {{'parts': [names], 'bytes': n}}")
        info = SnapshotInfo(
            snapshot_id=ann[A_SNAPSHOT],
            tenant=ann[A_TENANT],
            type=ann[A_TYPE],
            captured_at=datetime.fromisoformat(ann[A_CAPTURED]),
            digest=ann[A_DIGEST],
            item_count=int(ann[A_ITEM_COUNT]),
            complete=ann.get(A_COMPLETE) == "true",
            unchanged_from=ann.get(A_UNCHANGED) or None,
            change_count=drift["change_count"] if drift else None,
        )
        packs = [p for p in (ann.get(A_PACKS) or "").split(",") if p]
        sizes = [int(b) for b in (ann.get(A_PACK_BYTES) or "").split(",") if b]
        layout.check_name("snapshot id", info.snapshot_id)
        return _Record(
            name=str(meta["name"]),
            info=info,
            items_parts=list(items.get("parts", [])),
            items_bytes=int(items.get("bytes", 0)),
            packs=packs,
            pack_bytes=sizes if len(sizes) == len(packs) else [0] * len(packs),
            manifest_bytes=int(ann.get(A_BYTES, 0)),
            drift=drift,
        )

    async def _records(self, tenant: str | None) -> list[_Record]:
        """Manifest records, newest first, for one tenant or (tenant None) the whole namespace."""
        labels = {LABEL_TENANT: label_value(tenant)} if tenant is not None else {}
        rows = []
        for obj in await self._list_meta(self._selector("manifest", **labels)):
            try:
                rows.append(self._record(obj))
            except CorruptStoredObject as exc:  # planted or damaged: skipped, never fatal
                skip(exc)
        if tenant is not None:
            rows = [r for r in rows if r.info.tenant == tenant]  # labels are lossy; annotations exact
        rows.sort(key=lambda r: r.key, reverse=True)
        return rows

    async def _manifest_cm(self, snapshot_id: str) -> dict[str, Any]:
        cm = await self._get(self.manifest_name(snapshot_id))
        if cm is None or (cm["metadata"].get("annotations") or {}).get(A_SNAPSHOT) != snapshot_id:
            raise SnapshotNotFound(snapshot_id, f"--namespace {self.namespace}")
        return cm

    # --- items indexes ----------------------------------------------------------------------------

    async def _items(self, parts: list[str]) -> dict[str, Any]:
        """A manifest's items blob: {"items": {key: digest}, "packs": [...], "where": [...]}."""
        cache = self._shared.items_cache
        key = ",".join(parts)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        what = f"items index {self.KIND.lower()} {self.namespace}/{parts[0] if parts else '?'}"
        blob = _valid_items_blob(
            load_json(self._decompress(await self._read_sliced(parts, "items"), what), what, self._where_text),
            what,
            self._where_text,
        )
        cache[key] = blob  # items parts are immutable: their names are random and never reused
        while len(cache) > ITEMS_CACHE:
            cache.popitem(last=False)
        return blob

    @staticmethod
    def _where(blob: Mapping[str, Any]) -> dict[str, str]:
        packs = blob["packs"]
        return {digest: packs[at] for digest, at in zip(blob["items"].values(), blob["where"], strict=True)}

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        """List the tenant's manifests once and load the index of its newest ``snapshot_type``."""
        self._check_tenant(tenant)
        await self._begin(tenant, snapshot_type)

    async def _begin(self, tenant: str | None, snapshot_type: str | None) -> _Capture:
        records = await self._records(tenant if tenant is not None else self.tenant)
        capture = self._capture = _Capture(tenant, snapshot_type, records)
        newest: dict[tuple[str, str], _Record] = {}
        for record in records:  # newest first
            if snapshot_type is None or record.info.type == snapshot_type:
                newest.setdefault((record.info.tenant, record.info.type), record)
        for record in newest.values():
            try:
                blob = await self._items(record.items_parts)
            except CorruptStoredObject as exc:  # planted or damaged: capture goes on without it
                skip(exc)
                continue
            except StoreError:
                continue  # deleted while we looked; its bodies are not ours to re-use
            for digest, pack in self._where(blob).items():
                capture.index.setdefault(digest, pack)
            capture.pack_bytes.update(zip(record.packs, record.pack_bytes, strict=True))
            capture.source = record.parts_key if len(newest) == 1 else None
        return capture

    async def _current(self) -> _Capture:
        """This store object's capture; one that did not call ``begin_capture`` learns every type."""
        return self._capture if self._capture is not None else await self._begin(None, None)

    async def _charge(self, capture: _Capture, digest: str, extra: int = 0) -> None:
        """The snapshot uses the pack holding ``digest`` (or ``extra`` new bytes): count it against
        the budget. Over budget, the capture's packs are deleted and :class:`BudgetExceeded` raised."""
        pack = capture.index.get(digest)
        size = capture.pack_bytes.get(pack, 0) if pack is not None and pack not in capture.used else 0
        try:
            self._check_budget(capture, capture.bytes + size + extra)
        except BudgetExceeded:
            await self._abandon(capture)
            raise
        if pack is not None:
            capture.used.setdefault(pack, size)

    def _check_budget(self, capture: _Capture, needed: int) -> None:
        if self.budget_bytes is not None and needed > self.budget_bytes:
            raise BudgetExceeded(
                capture.tenant or self.tenant or "?",
                capture.type or "?",
                self.budget_bytes,
                needed,
                f"{self.RESOURCE} of namespace {self.namespace}",
            )

    async def _flush(self, capture: _Capture) -> None:
        """Write the buffered bodies as one pack."""
        if not capture.pending:
            return
        name = self._name("p")
        size = _size(capture.pending)
        await self._create(name, capture.pending, self._labels("pack", self.tenant), {}, owner=self.parts_owner)
        capture.written.append(name)
        capture.used[name] = size
        capture.pack_bytes[name] = size
        for digest in capture.pending:
            capture.index[digest] = name
        capture.pending, capture.pending_bytes = {}, 0

    async def _abandon(self, capture: _Capture) -> None:
        """Over budget: drop the buffer and delete the packs this capture wrote (nothing refers to them)."""
        capture.pending, capture.pending_bytes = {}, 0
        for name in capture.written:
            await self._delete(name)
        capture.used = {p: b for p, b in capture.used.items() if p not in capture.written}
        capture.written = []

    # --- item bodies ------------------------------------------------------------------------

    async def put_item(self, digest: str, body: bytes) -> bool:
        _check_digest(digest)
        capture = await self._current()
        if digest in capture.pending:
            return False
        if digest in capture.index:
            await self._charge(capture, digest)
            return False
        check_body(digest, body)
        data = self._compress(body)
        if len(data) + len(digest) > self.max_chunk_bytes:
            raise StoreError(
                f"item body {digest} is {len(data)} bytes compressed, more than one {self.KIND} may hold "
                f"(max_chunk_bytes={self.max_chunk_bytes}); store this tenant's snapshots on a PVC "
                f"(the filesystem store) instead"
            )
        await self._charge(capture, digest, len(digest) + len(data))
        pending = capture.pending
        if pending and (
            capture.pending_bytes + len(digest) + len(data) > self.max_chunk_bytes or len(pending) >= MAX_KEYS_PER_PACK
        ):
            await self._flush(capture)
        capture.pending[digest] = data
        capture.pending_bytes += len(digest) + len(data)
        return True

    async def has_item(self, digest: str) -> bool:
        _check_digest(digest)
        capture = await self._current()
        if digest in capture.pending:
            return True
        if digest in capture.index:
            await self._charge(capture, digest)
            return True
        return False

    async def _read_index(self) -> dict[str, str]:
        """digest -> pack over every listed manifest of this store's scope (for reads)."""
        where: dict[str, str] = {}
        for record in await self._records(self.tenant):
            try:
                where.update(self._where(await self._items(record.items_parts)))
            except StoreError:
                continue
        return where

    async def _pack_data(self, pack: str) -> dict[str, str] | None:
        cache = self._shared.packs
        if pack in cache:
            cache.move_to_end(pack)
            return cache[pack]
        cm = await self._get(pack)
        if cm is None:
            return None
        data: dict[str, str] = cm.get(self.DATA) or {}
        cache[pack] = data
        while len(cache) > PACK_CACHE:
            cache.popitem(last=False)
        return data

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = {_check_digest(d) for d in digests}
        out: dict[str, bytes] = {}
        capture = self._capture
        if capture is not None:
            for digest in wanted & capture.pending.keys():
                out[digest] = self._decompress(capture.pending[digest])
        rest = wanted - out.keys()
        if not rest:
            return out
        where = dict(capture.index) if capture is not None else {}
        if not rest <= where.keys():
            where.update(await self._read_index())
        by_pack: dict[str, list[str]] = {}
        for digest in rest:
            if digest not in where:
                raise ItemNotFound(digest, f"{self.RESOURCE} in namespace {self.namespace}")
            by_pack.setdefault(where[digest], []).append(digest)
        for pack, members in by_pack.items():
            data = await self._pack_data(pack)
            for digest in members:
                if data is None or digest not in data:
                    self._shared.packs.pop(pack, None)
                    raise ItemNotFound(digest, f"{self.RESOURCE} in namespace {self.namespace}")
                try:
                    raw = base64.b64decode(data[digest])
                except ValueError as exc:
                    raise CorruptStoredObject(
                        f"item body {digest} in pack {pack}", self._where_text, str(exc)
                    ) from None
                out[digest] = self._decompress(raw, f"item body {digest} in pack {pack}")
        return out

    async def get_item(self, digest: str) -> bytes:
        return (await self.get_items([digest]))[digest]

    # --- manifests --------------------------------------------------------------------------

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        self._check_tenant(manifest.tenant)
        capture = await self._current()
        name = self.manifest_name(manifest.snapshot_id)
        digest = manifest.digest or compute_digest(manifest.items)
        # The listing the capture began with: the Lease serialises captures of a tenant's type, and
        # retention never deletes the newest snapshot of a type (this one's predecessor). A snapshot
        # stored meanwhile under the same id is still refused: its manifest's name is taken (409).
        records = [r for r in capture.records if r.info.tenant == manifest.tenant]
        if any(r.info.snapshot_id == manifest.snapshot_id for r in records):
            raise StoreIntegrityError(
                f"snapshot {manifest.snapshot_id!r} is already stored ({self.KIND.lower()} {self.namespace}/{name}); "
                f"snapshots are immutable, delete it first or capture under a new id"
            )
        predecessor = self._predecessor(records, manifest)
        unchanged_from: str | None = None
        if predecessor is not None and predecessor.info.digest == digest and not manifest.read_nothing:
            unchanged_from = predecessor.info.unchanged_from or predecessor.info.snapshot_id
        if unchanged_from is not None and predecessor is not None:
            # Unchanged: share the predecessor's items parts and packs (listed, so still whole).
            await self._abandon(capture)  # bodies buffered meanwhile are all in its packs already
            items_parts, items_bytes = predecessor.items_parts, predecessor.items_bytes
            packs, pack_bytes = predecessor.packs, predecessor.pack_bytes
            self._check_budget(capture, items_bytes + sum(pack_bytes))
        else:
            where = await self._resolve(capture, manifest, records)
            packs = sorted(set(where.values()))
            pack_bytes = [capture.pack_bytes.get(p, 0) for p in packs]
            at = {p: i for i, p in enumerate(packs)}
            blob = orjson.dumps(
                {
                    "items": manifest.items,
                    "packs": packs,
                    "where": [at[where[d]] for d in manifest.items.values()],
                }
            )
            entries = self._slices(self._compress(blob), "items")
            try:
                self._check_budget(capture, sum(pack_bytes) + sum(len(k) + len(v) for k, v in entries))
            except BudgetExceeded:
                await self._abandon(capture)
                raise
            items_parts, _, items_bytes = await self._write_parts(
                self._name("i"),
                entries,
                self._labels("items", manifest.tenant, manifest.snapshot_id),
                owner=self.parts_owner,
            )
            # The next capture of this type starts from this index: keep it (items parts are immutable).
            self._shared.items_cache[",".join(items_parts)] = orjson.loads(blob)
            while len(self._shared.items_cache) > ITEMS_CACHE:
                self._shared.items_cache.popitem(last=False)
        stored = manifest.model_copy(update={"digest": digest, "unchanged_from": unchanged_from})
        payload = self._compress(orjson.dumps(stored.model_dump(mode="json", exclude={"items"})))
        annotations = {
            A_SNAPSHOT: stored.snapshot_id,
            A_TENANT: stored.tenant,
            A_TYPE: stored.type,
            A_CAPTURED: _iso(stored.captured_at),
            A_DIGEST: digest,
            A_ITEM_COUNT: str(len(stored.items)),
            A_COMPLETE: "true" if stored.complete else "false",
            A_UNCHANGED: unchanged_from or "",
            A_ITEMS: orjson.dumps({"parts": items_parts, "bytes": items_bytes}).decode(),
            A_PACKS: ",".join(packs),
            A_PACK_BYTES: ",".join(str(b) for b in pack_bytes),
        }
        labels = self._labels("manifest", stored.tenant, stored.snapshot_id)
        labels[LABEL_TYPE] = label_value(stored.type)
        try:
            await self._create(name, {"manifest": payload}, labels, annotations, owner=self.owner)
        except KubeError as exc:
            if exc.conflict:
                raise StoreIntegrityError(
                    f"snapshot {manifest.snapshot_id!r} is already stored ({self.KIND.lower()} "
                    f"{self.namespace}/{name}, perhaps by someone else meanwhile); snapshots are immutable"
                ) from exc
            raise
        self._capture = None  # the next capture with this store object starts afresh
        return stored

    async def _resolve(self, capture: _Capture, manifest: Manifest, records: list[_Record]) -> dict[str, str]:
        """digest -> pack for every body of ``manifest``, refusing it when one is not stored.

        Bodies this capture wrote, or learned from a manifest that is still listed, are trusted;
        others (learned from a manifest deleted meanwhile) are checked in their packs.
        """
        await self._flush(capture)
        live = {r.parts_key for r in records}
        where: dict[str, str] = {}
        doubtful: dict[str, list[str]] = {}
        missing: list[str] = []
        for key, digest in manifest.items.items():
            pack = capture.index.get(digest)
            if pack is None:
                missing.append(key)
            elif pack in capture.written or (capture.source is not None and capture.source in live):
                where[digest] = pack
            else:
                doubtful.setdefault(pack, []).append(digest)
        if doubtful:
            fresh = await self._read_index() if capture.source is None else {}
            for pack, digests in doubtful.items():
                data = await self._pack_data(pack) if not fresh else None
                for digest in digests:
                    if fresh.get(digest) is not None:
                        where[digest] = fresh[digest]
                    elif data is not None and digest in data:
                        where[digest] = pack
            missing.extend(k for k, d in manifest.items.items() if d not in where)
        if missing:
            raise StoreIntegrityError(
                f"manifest of snapshot {manifest.snapshot_id!r} refers to {len(missing)} item bodies "
                f"that are not stored (first: {missing[:3]}); put_item every body before put_manifest"
            )
        return where

    @staticmethod
    def _predecessor(records: list[_Record], manifest: Manifest) -> _Record | None:
        key = (manifest.captured_at.timestamp(), manifest.snapshot_id)
        for record in records:  # newest first
            if record.info.type == manifest.type and record.key < key and not record.info.read_nothing:
                return record
        return None

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        cm = await self._manifest_cm(snapshot_id)
        record = self._record(cm)
        layout.check_owner(snapshot_id, record.info.tenant, self.tenant)  # before anything of it is read
        what = f"manifest {self.KIND.lower()} {self.namespace}/{record.name}"
        try:
            raw = base64.b64decode((cm.get(self.DATA) or {})["manifest"])
        except (KeyError, ValueError) as exc:
            raise CorruptStoredObject(what, self._where_text, f"no manifest payload ({exc})") from None
        data = load_json(self._decompress(raw, what), what, self._where_text)
        if not isinstance(data, dict):
            raise CorruptStoredObject(what, self._where_text, "the payload is not a JSON object")
        data["items"] = (await self._items(record.items_parts))["items"]
        manifest = layout.validated_manifest(data, what, self._where_text)
        layout.check_owner(snapshot_id, manifest.tenant, record.info.tenant)
        return manifest

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        return [record.info for record in await self._records(tenant if tenant is not None else self.tenant)]

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        return [info.snapshot_id for info in await self.list_snapshots(tenant)]

    # --- deletion and garbage collection -------------------------------------------------------

    async def delete_snapshot(self, snapshot_id: str, *, collect: bool = True) -> None:
        """Delete a snapshot's manifest and drift, then (``collect``) whatever nothing else uses."""
        record = self._record(await self._manifest_cm(snapshot_id))
        layout.check_owner(snapshot_id, record.info.tenant, self.tenant)
        await self._delete(record.name)  # the snapshot is gone from listings from here on
        for name in (record.drift or {}).get("parts", []):
            await self._delete(name)
        if collect:
            await self.collect_garbage(compact=record.packs, released=[*record.items_parts, *record.packs])

    async def delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        """Delete several snapshots with one garbage collection; returns ConfigMaps removed."""
        packs: set[str] = set()
        parts: set[str] = set()
        for snapshot_id in snapshot_ids:
            record = self._record(await self._manifest_cm(snapshot_id))
            packs.update(record.packs)
            parts.update(record.items_parts)
            await self.delete_snapshot(snapshot_id, collect=False)
        return await self.collect_garbage(compact=packs, released=packs | parts)

    def _old_enough(self, meta: Mapping[str, Any]) -> bool:
        stamp = (meta.get("annotations") or {}).get(A_TOUCHED) or meta.get("creationTimestamp")
        if not stamp:
            return True
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return self._wall_clock() - moment >= self.gc_grace

    async def collect_garbage(self, compact: Iterable[str] = (), released: Iterable[str] = ()) -> int:
        """Delete parts no manifest refers to (older than ``gc_grace``) and rewrite the packs in
        ``compact`` (and those marked earlier as too young to compact) without bodies no manifest
        needs. Returns the number of ConfigMaps deleted.

        Considers every manifest in the namespace (bodies may be shared between tenants). Safe at
        any time: a part written within ``gc_grace`` is left alone (a capture may be about to name
        it), unless it is ``released``: named by a manifest just deleted, so no capture is about to
        name it (captures re-use only what the newest manifest of their type names, which stays
        listed). Deletes and rewrites are conditional on the resourceVersion that was judged.
        """
        released = set(released)
        records = await self._records(None)
        live_items = {n for r in records for n in r.items_parts}
        live_drift = {n for r in records for n in (r.drift or {}).get("parts", [])}
        live_packs = {p for r in records for p in r.packs}
        removed = 0
        marked: set[str] = set()
        for part, live in (("items", live_items), ("drift", live_drift), ("pack", live_packs)):
            for obj in await self._list_meta(self._selector(part)):
                meta = obj["metadata"]
                if meta["name"] not in live and (meta["name"] in released or self._old_enough(meta)):
                    removed += await self._delete(meta["name"], meta.get("resourceVersion"))
                    self._shared.packs.pop(meta["name"], None)
                elif part == "pack" and A_LIVE in (meta.get("annotations") or {}):
                    marked.add(meta["name"])
        for pack in (set(compact) | marked) & live_packs:
            await self._compact(pack, [r for r in records if pack in r.packs])
        return removed

    async def _compact(self, pack: str, users: list[_Record]) -> None:
        needed: set[str] = set()
        for record in users:
            try:
                needed.update(d for d, p in self._where(await self._items(record.items_parts)).items() if p == pack)
            except StoreError:
                return  # a user's index is gone (deleted meanwhile): judge next time
        cm = await self._get(pack)
        if cm is None:
            return
        binary = cm.get(self.DATA) or {}
        if not set(binary) - needed:
            return
        live = sum(len(k) + len(base64.b64decode(v)) for k, v in binary.items() if k in needed)
        if not self._old_enough(cm["metadata"]):
            # Young: a capture may be about to name it. Mark it; a later collection compacts it.
            patch = {"metadata": {"annotations": {A_LIVE: str(live)}}}
            try:
                await self._request("PATCH", pack, body=patch, content_type="application/merge-patch+json")
            except KubeError:
                pass
            return
        cm[self.DATA] = {k: v for k, v in binary.items() if k in needed}
        annotations = cm["metadata"].setdefault("annotations", {})
        annotations[A_BYTES] = str(live)
        annotations.pop(A_LIVE, None)
        try:  # the resourceVersion judged: a 409 means it changed meanwhile; leave it for next time
            await self._request("PUT", pack, body=cm)
        except KubeError as exc:
            if not (exc.conflict or exc.not_found):
                raise
        self._shared.packs.pop(pack, None)

    # --- drift reports ----------------------------------------------------------------------

    async def put_drift(self, report: DriftReport) -> None:
        record = self._record(await self._manifest_cm(report.new_snapshot))
        entries = [
            (
                f"changes.{n}",
                self._compress(orjson.dumps([c.to_dict() for c in report.changes[i : i + CHANGES_PER_CHUNK]])),
            )
            for n, i in enumerate(range(0, report.change_count, CHANGES_PER_CHUNK))
        ]
        parts: list[str] = []
        chunk_part: list[int] = []
        size = 0
        if entries:
            parts, where, size = await self._write_parts(
                self._name("d"),
                entries,
                self._labels("drift", record.info.tenant, record.info.snapshot_id),
                owner=self.owner,
            )
            chunk_part = [where[k] for k, _ in entries]
        drift = {
            **report.summary(),
            "chunk_size": CHANGES_PER_CHUNK,
            "parts": parts,
            "chunk_part": chunk_part,
            "bytes": size,
        }
        patch = {"metadata": {"annotations": {A_DRIFT: orjson.dumps(drift).decode()}}}
        await self._request("PATCH", record.name, body=patch, content_type="application/merge-patch+json")
        for name in (record.drift or {}).get("parts", []):
            await self._delete(name)

    # --- comparison reports -------------------------------------------------------------------

    @property
    def report_where(self) -> str:
        """Where reports live, for a status a user reads (``secrets of namespace acme``)."""
        return self._where_text

    async def put_report(self, name: str, report: bytes, owner: Mapping[str, Any] | None = None) -> str:
        """Keep ``report`` (a comparison's JSON) compressed under ``name``, replacing the one kept
        before; returns its key for :meth:`get_report`. ``owner``: whose deletion removes it."""
        data = self._compress(report)
        layout.check_report_size(name, data)
        base = self._name("r", name)
        await self._delete_report(base)  # the previous report, replaced (a reader in between finds none)
        entries = self._slices(data, "report")
        await self._write_parts(base, entries, self._labels("report", None), owner=owner)
        return base

    async def get_report(self, key: str) -> bytes | None:
        """The report kept under ``key`` (None when there is none)."""
        chunks: list[bytes] = []
        for i in range(layout.MAX_REPORT_BYTES // self.max_chunk_bytes + 2):
            obj = await self._get(key if i == 0 else f"{key}-{i}")
            if obj is None:
                break
            data = obj.get(self.DATA) or {}
            keys = sorted((k for k in data if k.startswith("report.")), key=lambda k: int(k.rsplit(".", 1)[1]))
            chunks += [base64.b64decode(data[k]) for k in keys]
        if not chunks:
            return None
        return self._decompress(b"".join(chunks), f"comparison report {key}")

    async def delete_reports(self, name: str) -> None:
        """Delete the report of comparison ``name`` (its owner reference deletes it too)."""
        await self._delete_report(self._name("r", name))

    async def _delete_report(self, key: str) -> None:
        for i in range(layout.MAX_REPORT_BYTES // self.max_chunk_bytes + 2):
            if not await self._delete(key if i == 0 else f"{key}-{i}"):
                break

    async def _drift(self, snapshot_id: str) -> dict[str, Any] | None:
        record = self._record(await self._manifest_cm(snapshot_id))
        layout.check_owner(snapshot_id, record.info.tenant, self.tenant)
        return record.drift

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        drift = await self._drift(snapshot_id)
        if drift is None:
            return None
        report = DriftReport.from_dict(drift)
        report.changes = await self._read_changes(drift, 0, drift["change_count"])
        return report

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        drift = await self._drift(snapshot_id)
        return [] if drift is None else await self._read_changes(drift, start, stop)

    async def _read_changes(self, drift: Mapping[str, Any], start: int, stop: int) -> list[Change]:
        size: int = drift["chunk_size"]
        start, stop = max(start, 0), min(stop, drift["change_count"])
        out: list[Change] = []
        if stop <= start:
            return out
        fetched: dict[str, dict[str, str]] = {}
        for n in range(start // size, (stop - 1) // size + 1):
            name = drift["parts"][drift["chunk_part"][n]]
            if name not in fetched:
                cm = await self._get(name)
                if cm is None:
                    raise StoreError(f"drift part {self.namespace}/{name} is missing; store the drift report again")
                fetched[name] = cm.get(self.DATA) or {}
            what = f"drift chunk {n} in {self.KIND.lower()} {self.namespace}/{name}"
            try:
                raw = base64.b64decode(fetched[name][f"changes.{n}"])
            except (KeyError, ValueError) as exc:
                raise CorruptStoredObject(what, self._where_text, f"missing or not base64 ({exc})") from None
            chunk = load_json(self._decompress(raw, what), what, self._where_text)
            if not isinstance(chunk, list):
                raise CorruptStoredObject(what, self._where_text, "not a JSON list of changes")
            lo = max(start - n * size, 0)
            hi = min(stop - n * size, len(chunk))
            out.extend(Change.from_dict(c) for c in chunk[lo:hi])
        return out

    # --- accounting -------------------------------------------------------------------------

    async def usage(self, tenant: str) -> StoreUsage:
        records = await self._records(tenant)
        items_bytes = {r.parts_key: r.items_bytes for r in records}
        packs = {p for r in records for p in r.packs}
        body_bytes = 0
        if packs:
            for obj in await self._list_meta(self._selector("pack")):
                meta = obj["metadata"]
                if meta["name"] in packs:
                    body_bytes += int((meta.get("annotations") or {}).get(A_BYTES, 0))
        return StoreUsage(
            tenant=tenant,
            snapshots=len(records),
            manifest_bytes=sum(r.manifest_bytes for r in records) + sum(items_bytes.values()),
            body_bytes=body_bytes,
            drift_bytes=sum(int((r.drift or {}).get("bytes", 0)) for r in records),
        )

    async def over_budget(self, tenant: str) -> int:
        """Bytes by which ``tenant`` exceeds ``budget_bytes`` (0 when within it or no budget)."""
        if self.budget_bytes is None:
            return 0
        return max((await self.usage(tenant)).total_bytes - self.budget_bytes, 0)

    async def enforce_budget(self, tenant: str, *, keep: int = 1) -> list[str]:
        """Delete ``tenant``'s oldest snapshots until it fits ``budget_bytes``, always keeping the
        newest ``keep``. Returns the deleted ids, oldest first."""
        deleted: list[str] = []
        if self.budget_bytes is None:
            return deleted
        candidates = [r.info.snapshot_id for r in await self._records(tenant)][keep:]
        while candidates and await self.over_budget(tenant) > 0:
            oldest = candidates.pop()
            await self.delete_snapshot(oldest)
            deleted.append(oldest)
        return deleted


class SecretStore(ConfigMapStore):
    """The same store in Secrets of type ``jiradrift.io/snapshot-pack``: the in-cluster default.

    Snapshot payloads (permission schemes, role actors, workflows) are configuration an attacker
    would like to read. The built-in ``view`` role (and ``edit``'s read part) grants ConfigMaps but
    never Secrets, so a namespace viewer can read ConfigMap payloads but not these. Lists carry a
    ``type`` field selector and reads check the type, so a Secret of any other type (a credential)
    is never read, rewritten or deleted as a part.
    """

    RESOURCE = "secrets"
    KIND = "Secret"
    DATA = "data"
    TYPE = SNAPSHOT_PACK_TYPE


class _SharedState:
    """Read caches a store and its :meth:`ConfigMapStore.for_owner` siblings share (one event loop)."""

    def __init__(self) -> None:
        self.packs: OrderedDict[str, dict[str, str]] = OrderedDict()  # a few packs' binaryData (base64)
        self.items_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _valid_items_blob(blob: Any, what: str, where: str) -> dict[str, Any]:
    """A read items index: ``{"items": {key: digest}, "packs": [names], "where": [pack number per item]}``."""
    ok = (
        isinstance(blob, dict)
        and isinstance(blob.get("items"), dict)
        and isinstance(blob.get("packs"), list)
        and isinstance(blob.get("where"), list)
        and len(blob["where"]) == len(blob["items"])
        and all(isinstance(p, str) for p in blob["packs"])
        and all(isinstance(n, int) and 0 <= n < len(blob["packs"]) for n in blob["where"])
        and all(isinstance(d, str) and _DIGEST.match(d) for d in blob["items"].values())
    )
    if not ok:
        raise CorruptStoredObject(what, where, "not an items index (items, packs and where do not match)")
    return dict(blob)


def _check_owner(owner: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("apiVersion", "kind", "name", "uid") if not owner.get(k)]
    if missing:
        raise ValueError(
            f"owner {dict(owner)!r} lacks {missing}; pass the Snapshot's apiVersion, kind, name and uid "
            f"(e.g. from kopf's body)"
        )
    return {k: owner[k] for k in ("apiVersion", "kind", "name", "uid")} | {"blockOwnerDeletion": False}
