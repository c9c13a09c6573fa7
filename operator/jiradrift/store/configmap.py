"""A SnapshotStore in ConfigMaps: the zero-setup default inside a cluster.

    store = ConfigMapStore(api, "team-a", "team-a/acme", owner=snapshot_owner_ref(snapshot))

Every ConfigMap carries ``app.kubernetes.io/managed-by: jira-drift-operator`` and
``jiradrift.io/part``; all payloads are zstd-compressed in ``binaryData`` and no ConfigMap holds more
than ``max_chunk_bytes`` (900 KiB by default, clear of the 1 MiB limit). Four kinds of part:

``pack`` (``<prefix>-p-<random>``)
    Item bodies, one ``binaryData`` key per sha256 digest. ``put_item`` buffers new bodies and
    writes a pack when the buffer is full (and at ``put_manifest``), so a capture of thousands of
    small items writes a handful of ConfigMaps. A body already in a pack is referenced, not stored
    again; ``put_item`` "touches" that pack (annotation ``jiradrift.io/touched-at`` and the owner
    added), which keeps garbage collection off it for ``gc_grace``.
``items`` (``<prefix>-i-<random>[-<n>]``)
    A manifest's ``key -> digest`` map plus the body -> pack index, compressed and split over as
    many ConfigMaps as it needs. A snapshot identical to its predecessor re-uses the predecessor's
    items parts (and becomes one more owner of them): it stores nothing new but its manifest.
``manifest`` (``<prefix>-m-<slug of snapshot id>-<hash>``)
    One per snapshot, written last (its creation commits the snapshot; a second one with the same
    id is refused by the API server). Its annotations are the listing record (tenant, type,
    capturedAt, digest, counts, parts, byte counts, drift summary), so listings and budgets read
    metadata only (``PartialObjectMetadataList``), never payloads.
``drift`` (``<prefix>-d-<random>[-<n>]``)
    The drift report's changes, ``CHANGES_PER_CHUNK`` per ``binaryData`` key, spread over as many
    ConfigMaps as needed; the manifest's ``jiradrift.io/drift`` annotation maps chunks to parts.

Ownership: with ``owner`` (the Snapshot's apiVersion/kind/name/uid) every part written or re-used
for that snapshot gets an ownerReference to it, so in a real cluster the garbage collector removes a
part only when *every* snapshot using it is gone. The store does not rely on that:
``delete_snapshot`` deletes the manifest and its drift, then deletes items parts and packs no
remaining manifest refers to, and rewrites a still-used pack without the bodies nobody needs.

Budget: ``usage(tenant)`` sums the stored bytes a tenant's manifests refer to (shared parts once);
``over_budget``/``enforce_budget`` let retention prune the oldest snapshots until it fits.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import zstandard
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from jiradrift.kube.api import ACCEPT_METADATA_LIST, label_value, request_json, status_message
from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.model.store_errors import ItemNotFound, SnapshotNotFound, StoreError, StoreIntegrityError
from jiradrift.store.filesystem import CHANGES_PER_CHUNK, DEFAULT_GC_GRACE

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
A_BYTES = f"{GROUP}/bytes"  # bytes of this ConfigMap's binaryData
A_DRIFT = f"{GROUP}/drift"  # JSON: drift summary + {"parts", "chunk_part", "chunk_size", "bytes"}
A_TOUCHED = f"{GROUP}/touched-at"
A_LIVE = f"{GROUP}/live-bytes"  # set by GC on a pack it could not compact because it was in use

SNAPSHOT_PACK_TYPE = f"{GROUP}/snapshot-pack"
"""The Secret type of :class:`SecretStore`'s parts."""

DEFAULT_MAX_CHUNK_BYTES = 900 * 1024
#: Keys per pack: the server's managedFields list every binaryData key, and etcd caps the object
#: (payload + metadata) at 1.5 MiB, so many tiny bodies must not push a pack over.
MAX_KEYS_PER_PACK = 2000
MIN_TOUCH_INTERVAL = 5.0
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SLUG = re.compile(r"[^a-z0-9]+")
_API = "/api/v1/namespaces/{namespace}/{resource}"
MERGE_PATCH = "application/strategic-merge-patch+json"  # ownerReferences merge by uid


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
    manifest_bytes: int
    drift: dict[str, Any] | None

    @property
    def key(self) -> tuple[float, str]:
        return (self.info.captured_at.timestamp(), self.info.snapshot_id)


class ConfigMapStore:
    """Content-addressed snapshot store in the ConfigMaps of one namespace.

    ``tenant``: when given, the store serves that tenant only (its listings, its bodies' index,
    refusing manifests of others); None serves every tenant in the namespace. ``owner``: the
    Snapshot the parts written now belong to (a dict with apiVersion, kind, name, uid); see
    :meth:`for_owner`. ``gc_grace``: parts younger (packs: touched more recently) than this are
    never collected, protecting a capture whose manifest is not written yet.
    """

    RESOURCE = "configmaps"
    KIND = "ConfigMap"
    DATA = "binaryData"
    TYPE: str | None = None

    def __init__(
        self,
        api: ApiClient,
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
        index_ttl: float = 30.0,
        wall_clock: Callable[[], datetime] = _utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_chunk_bytes > 1000 * 1024 or max_chunk_bytes < 1024:
            raise ValueError(
                f"max_chunk_bytes={max_chunk_bytes} must be between 1 KiB and 1000 KiB: a ConfigMap holds "
                f"at most 1 MiB, and its metadata needs room too"
            )
        self.api = api
        self.namespace = namespace
        self.tenant = tenant
        self.owner = _check_owner(owner) if owner is not None else None
        self.max_chunk_bytes = max_chunk_bytes
        self.budget_bytes = budget_bytes
        self.gc_grace = gc_grace
        self.name_prefix = name_prefix
        self.page_size = page_size
        self.index_ttl = index_ttl
        self._level = compression_level
        self._wall_clock = wall_clock
        self._clock = clock
        self._path = _API.format(namespace=namespace, resource=self.RESOURCE)
        self._shared = _SharedState()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, tenant={self.tenant!r})"

    def for_owner(self, owner: Mapping[str, Any] | None) -> ConfigMapStore:
        """The same store (same caches and write buffer) writing parts owned by ``owner``."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.owner = _check_owner(owner) if owner is not None else None
        return clone

    # --- plumbing ---------------------------------------------------------------------------

    def _zstd(self) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
        local = self._shared.local
        pair: tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor] | None = getattr(local, "zstd", None)
        if pair is None:  # (de)compressors must not be shared between threads
            pair = (zstandard.ZstdCompressor(level=self._level), zstandard.ZstdDecompressor())
            local.zstd = pair
        return pair

    def _compress(self, data: bytes) -> bytes:
        return self._zstd()[0].compress(data)

    def _decompress(self, data: bytes) -> bytes:
        return self._zstd()[1].decompress(data)

    def _request(self, method: str, path: str = "", **kwargs: Any) -> dict[str, Any]:
        try:
            return request_json(self.api, method, self._path + path, **kwargs)
        except ApiException as exc:
            if exc.status in (401, 403):
                raise StoreError(
                    f"the API server refused {method} on {self.RESOURCE} in namespace {self.namespace}: "
                    f"{status_message(exc)}; grant the operator's ServiceAccount get/list/create/update/"
                    f"patch/delete on {self.RESOURCE} there"
                ) from exc
            raise

    def _get(self, name: str) -> dict[str, Any] | None:
        try:
            obj = self._request("GET", f"/{name}")
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        if self.TYPE and obj.get("type") != self.TYPE:
            return None  # not ours (a Secret of another type is never read or rewritten as a part)
        return obj

    def _delete(self, name: str, resource_version: str | None = None) -> bool:
        body = {"preconditions": {"resourceVersion": resource_version}} if resource_version else None
        try:
            self._request("DELETE", f"/{name}", body=body)
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    def _list_meta(self, selector: str) -> Iterator[dict[str, Any]]:
        """Metadata of matching ConfigMaps, page by page (``limit``/``continue``)."""
        for _attempt in range(3):
            token: str | None = None
            try:
                while True:
                    query: dict[str, str | int] = {"labelSelector": selector, "limit": self.page_size}
                    if self.TYPE:
                        query["fieldSelector"] = f"type={self.TYPE}"
                    if token:
                        query["continue"] = token
                    page = self._request("GET", query=query, accept=ACCEPT_METADATA_LIST)
                    yield from page.get("items") or []
                    token = page.get("metadata", {}).get("continue")
                    if not token:
                        return
            except ApiException as exc:
                if exc.status == 410 and token:  # continue token expired: list again, consistently
                    continue
                raise
        raise StoreError(f"listing {self.RESOURCE} {selector!r} in {self.namespace} kept expiring; retry later")

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

    def _create(
        self,
        name: str,
        binary: Mapping[str, bytes],
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> dict[str, Any]:
        size = _size(binary)
        if size > self.max_chunk_bytes:  # a bug if it happens: callers split first
            raise StoreError(f"{self.KIND} {name} would hold {size} bytes, over max_chunk_bytes={self.max_chunk_bytes}")
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": dict(labels),
            "annotations": {A_BYTES: str(size), A_TOUCHED: _iso(self._wall_clock()), **annotations},
        }
        if self.owner:
            metadata["ownerReferences"] = [self.owner]
        body = {
            "apiVersion": "v1",
            "kind": self.KIND,
            "metadata": metadata,
            self.DATA: {k: base64.b64encode(v).decode() for k, v in binary.items()},
        }
        if self.TYPE:
            body["type"] = self.TYPE
        return self._request("POST", body=body)

    def _write_parts(
        self, base: str, entries: list[tuple[str, bytes]], labels: Mapping[str, str]
    ) -> tuple[list[str], dict[str, int], int]:
        """Spread ``entries`` over ConfigMaps ``base``, ``base-1``, ...; (names, key -> part, bytes)."""
        parts: list[dict[str, bytes]] = [{}]
        where: dict[str, int] = {}
        for key, data in entries:
            if _size(parts[-1]) + len(key) + len(data) > self.max_chunk_bytes and parts[-1]:
                parts.append({})
            parts[-1][key] = data
            where[key] = len(parts) - 1
        names = [base if i == 0 else f"{base}-{i}" for i in range(len(parts))]
        # The first part last: whoever finds it finds the others.
        for i in reversed(range(len(parts))):
            self._create(names[i], parts[i], labels, {})
        return names, where, sum(_size(p) for p in parts)

    def _slices(self, blob: bytes, stem: str) -> list[tuple[str, bytes]]:
        step = self.max_chunk_bytes - 64
        return [(f"{stem}.{n}", blob[i : i + step]) for n, i in enumerate(range(0, max(len(blob), 1), step))]

    def _read_sliced(self, names: list[str], stem: str) -> bytes:
        chunks: dict[int, bytes] = {}
        for name in names:
            cm = self._get(name)
            if cm is None:
                raise StoreError(
                    f"configmap {self.namespace}/{name} is missing, so the stored data it held is "
                    f"incomplete; it was deleted by hand or by garbage collection of its owner"
                )
            for key, value in (cm.get(self.DATA) or {}).items():
                if key.startswith(stem + "."):
                    chunks[int(key.rsplit(".", 1)[1])] = base64.b64decode(value)
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
                f"this ConfigMapStore serves tenant {self.tenant!r}, not {tenant!r}; open one with "
                f"tenant={tenant!r} (or tenant=None for all tenants of namespace {self.namespace})"
            )

    # --- records ----------------------------------------------------------------------------

    def _record(self, obj: Mapping[str, Any]) -> _Record:
        meta = obj["metadata"]
        ann = meta.get("annotations") or {}
        items = orjson.loads(ann.get(A_ITEMS) or "{}")
        drift = orjson.loads(ann[A_DRIFT]) if ann.get(A_DRIFT) else None
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
        return _Record(
            name=meta["name"],
            info=info,
            items_parts=list(items.get("parts", [])),
            items_bytes=int(items.get("bytes", 0)),
            packs=[p for p in (ann.get(A_PACKS) or "").split(",") if p],
            manifest_bytes=int(ann.get(A_BYTES, 0)),
            drift=drift,
        )

    def _records(self, tenant: str | None) -> list[_Record]:
        """Manifest records, newest first, for one tenant or (tenant None) the whole namespace."""
        labels = {LABEL_TENANT: label_value(tenant)} if tenant is not None else {}
        rows = [self._record(obj) for obj in self._list_meta(self._selector("manifest", **labels))]
        if tenant is not None:
            rows = [r for r in rows if r.info.tenant == tenant]  # labels are lossy; annotations exact
        rows.sort(key=lambda r: r.key, reverse=True)
        return rows

    def _manifest_cm(self, snapshot_id: str) -> dict[str, Any]:
        cm = self._get(self.manifest_name(snapshot_id))
        if cm is None or (cm["metadata"].get("annotations") or {}).get(A_SNAPSHOT) != snapshot_id:
            raise SnapshotNotFound(snapshot_id, f"--namespace {self.namespace}")
        return cm

    # --- the body index (digest -> pack) ---------------------------------------------------------

    def _items(self, parts: list[str]) -> dict[str, Any]:
        """A manifest's items blob: {"items": {key: digest}, "packs": [...], "where": [...]}."""
        cache = self._shared.items_cache
        key = ",".join(parts)
        with self._shared.lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        blob: dict[str, Any] = orjson.loads(self._decompress(self._read_sliced(parts, "items")))
        with self._shared.lock:
            cache[key] = blob  # items parts are immutable: their names are random and never reused
            while len(cache) > 8:
                cache.popitem(last=False)
        return blob

    def _refresh_index(self, force: bool = False) -> None:
        """Learn digest -> pack from stored manifests.

        For writing (not ``force``), the newest manifest of each tenant and type is enough: a
        capture re-uses mostly its predecessor's bodies. Reading a body nobody indexed yet
        (``force``) reads every manifest's index once.
        """
        shared = self._shared
        if not force and self._clock() - shared.index_time < self.index_ttl:
            return
        records = self._records(self.tenant)
        if force:
            with shared.lock:
                shared.indexed.clear()
        else:
            newest: dict[tuple[str, str], _Record] = {}
            for record in records:  # newest first
                newest.setdefault((record.info.tenant, record.info.type), record)
            records = list(newest.values())
        for record in records:
            parts_key = ",".join(record.items_parts)
            if parts_key in shared.indexed:
                continue
            try:
                blob = self._items(record.items_parts)
            except StoreError:
                continue  # deleted while we looked; its bodies are not ours to re-use
            packs = blob["packs"]
            with shared.lock:
                for digest, at in zip(blob["items"].values(), blob["where"], strict=True):
                    shared.index.setdefault(digest, packs[at])
                shared.indexed.add(parts_key)
        shared.index_time = self._clock()

    def _pack_keys(self, name: str, *, touch: bool, force: bool = False) -> frozenset[str] | None:
        """The digests pack ``name`` holds now (None: gone). ``touch`` marks it in use (and owned)."""
        shared = self._shared
        # Re-touch at most every half grace (a few seconds at least: with no grace there is no
        # protection to keep up, and a capture re-using 1000 bodies should not PATCH 1000 times).
        fresh_for = max(self.gc_grace.total_seconds() / 2, MIN_TOUCH_INTERVAL)
        with shared.lock:
            seen = shared.touched.get(name)
        owner_uid = (self.owner or {}).get("uid")
        if (
            touch
            and not force
            and seen
            and self._clock() - seen[0] < fresh_for
            and (not owner_uid or owner_uid in seen[2])
        ):
            return seen[1]
        if touch:
            patch: dict[str, Any] = {"metadata": {"annotations": {A_TOUCHED: _iso(self._wall_clock())}}}
            if self.owner:
                patch["metadata"]["ownerReferences"] = [self.owner]
            try:
                cm = self._request("PATCH", f"/{name}", body=patch, content_type=MERGE_PATCH)
            except ApiException as exc:
                if exc.status == 404:
                    cm = None
                else:
                    raise
        else:
            cm = self._get(name)
        if cm is None:
            with shared.lock:
                shared.touched.pop(name, None)
                shared.packs.pop(name, None)
            return None
        keys = frozenset(cm.get(self.DATA) or {})
        owners = frozenset(o.get("uid", "") for o in cm["metadata"].get("ownerReferences") or [])
        ann = cm["metadata"].get("annotations") or {}
        retiring = A_LIVE in ann and int(ann[A_LIVE]) * 2 < int(ann.get(A_BYTES, 0))
        with shared.lock:
            if retiring:
                shared.retiring.add(name)
            else:
                shared.retiring.discard(name)
            shared.packs[name] = cm.get(self.DATA) or {}
            shared.packs.move_to_end(name)
            while len(shared.packs) > 4:
                shared.packs.popitem(last=False)
            if touch:
                shared.touched[name] = (self._clock(), keys, owners)
        return keys

    def _locate(self, digest: str, *, touch: bool) -> str | None:
        """The pack holding ``digest`` (verified against the server), or None.

        A miss re-reads the manifests: when writing (``touch``) at most every ``index_ttl``
        seconds, since a miss there is the common case of a new body; when reading, always.
        """
        refreshed = False
        for _attempt in range(4):
            with self._shared.lock:
                pack = self._shared.index.get(digest)
            if pack is None:
                if refreshed:
                    return None
                self._refresh_index(force=not touch)
                refreshed = True
                continue
            keys = self._pack_keys(pack, touch=touch)
            if keys is not None and digest in keys:
                return pack
            with self._shared.lock:  # stale: the pack is gone or was compacted
                if self._shared.index.get(digest) == pack:
                    del self._shared.index[digest]
        return None

    def _flush(self) -> None:
        """Write buffered bodies as packs (called with the buffer lock held)."""
        shared = self._shared
        if not shared.pending:
            return
        name = self._name("p")
        labels = self._labels("pack", self.tenant)
        cm = self._create(name, shared.pending, labels, {})
        keys = frozenset(shared.pending)
        for digest in keys:
            shared.index[digest] = name
        owners = frozenset([self.owner["uid"]]) if self.owner else frozenset()
        shared.touched[name] = (self._clock(), keys, owners)
        shared.packs[name] = cm.get(self.DATA) or {}
        shared.pending = {}

    # --- item bodies ------------------------------------------------------------------------

    def put_item(self, digest: str, body: bytes) -> bool:
        _check_digest(digest)
        with self._shared.lock:
            if digest in self._shared.pending:
                return False
        pack = self._locate(digest, touch=True)
        if pack is not None and pack not in self._shared.retiring:
            return False
        # New, or only in a pack that is mostly garbage: (re-)store it, so that pack can go.
        if hashlib.sha256(body).hexdigest() != digest:
            raise StoreIntegrityError(
                f"item body does not hash to {digest}; put_item needs the sha256 hex digest of the "
                f"exact canonical bytes being stored"
            )
        data = self._compress(body)
        if len(data) + len(digest) > self.max_chunk_bytes:
            raise StoreError(
                f"item body {digest} is {len(data)} bytes compressed, more than one ConfigMap may hold "
                f"(max_chunk_bytes={self.max_chunk_bytes}); store this tenant's snapshots on a PVC "
                f"(the filesystem store) instead"
            )
        with self._shared.lock:
            pending = self._shared.pending
            if pending and (
                _size(pending) + len(digest) + len(data) > self.max_chunk_bytes or len(pending) >= MAX_KEYS_PER_PACK
            ):
                self._flush()
            self._shared.pending[digest] = data
        return True

    def has_item(self, digest: str) -> bool:
        _check_digest(digest)
        with self._shared.lock:
            if digest in self._shared.pending:
                return True
        return self._locate(digest, touch=False) is not None

    def get_item(self, digest: str) -> bytes:
        _check_digest(digest)
        with self._shared.lock:
            data = self._shared.pending.get(digest)
            pack = self._shared.index.get(digest)
            cached = self._shared.packs.get(pack) if pack else None
        if data is not None:
            return self._decompress(data)
        if cached is not None and digest in cached:
            return self._decompress(base64.b64decode(cached[digest]))
        pack = self._locate(digest, touch=False)
        with self._shared.lock:
            value = self._shared.packs.get(pack or "", {}).get(digest)
        if value is None and pack is not None:  # evicted from the cache meanwhile
            value = ((self._get(pack) or {}).get(self.DATA) or {}).get(digest)
        if value is None:
            raise ItemNotFound(digest, f"configmaps in namespace {self.namespace}")
        return self._decompress(base64.b64decode(value))

    # --- manifests --------------------------------------------------------------------------

    def put_manifest(self, manifest: Manifest) -> Manifest:
        self._check_tenant(manifest.tenant)
        name = self.manifest_name(manifest.snapshot_id)
        if self._get(name) is not None:
            raise StoreIntegrityError(
                f"snapshot {manifest.snapshot_id!r} is already stored (configmap {self.namespace}/{name}); "
                f"snapshots are immutable, delete it first or capture under a new id"
            )
        with self._shared.lock:
            self._flush()
        where = self._resolve(set(manifest.items.values()))
        missing = [k for k, d in manifest.items.items() if d not in where]
        if missing:
            raise StoreIntegrityError(
                f"manifest of snapshot {manifest.snapshot_id!r} refers to {len(missing)} item bodies "
                f"that are not stored (first: {missing[:3]}); put_item every body before put_manifest"
            )
        digest = manifest.digest or compute_digest(manifest.items)
        predecessor = self._predecessor(manifest)
        unchanged_from: str | None = None
        if predecessor is not None and predecessor.info.digest == digest:
            unchanged_from = predecessor.info.unchanged_from or predecessor.info.snapshot_id
        # Unchanged: share the predecessor's items parts and packs (touched and owned by us now),
        # unless one of those packs is being retired, or gone.
        shared_parts = (
            predecessor is not None
            and unchanged_from is not None
            and all(
                self._pack_keys(pack, touch=True, force=True) is not None and pack not in self._shared.retiring
                for pack in predecessor.packs
            )
        )
        if shared_parts and predecessor is not None:
            items_parts, items_bytes, packs = (
                predecessor.items_parts,
                predecessor.items_bytes,
                predecessor.packs,
            )
            self._own(items_parts)
        else:
            packs = sorted(set(where.values()))
            at = {p: i for i, p in enumerate(packs)}
            blob = orjson.dumps(
                {
                    "items": manifest.items,
                    "packs": packs,
                    "where": [at[where[d]] for d in manifest.items.values()],
                }
            )
            items_parts, _, items_bytes = self._write_parts(
                self._name("i"),
                self._slices(self._compress(blob), "items"),
                self._labels("items", manifest.tenant, manifest.snapshot_id),
            )
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
        }
        labels = self._labels("manifest", stored.tenant, stored.snapshot_id)
        labels[LABEL_TYPE] = label_value(stored.type)
        try:
            self._create(name, {"manifest": payload}, labels, annotations)
        except ApiException as exc:
            if exc.status == 409:
                raise StoreIntegrityError(
                    f"snapshot {manifest.snapshot_id!r} was stored by someone else meanwhile "
                    f"(configmap {self.namespace}/{name}); snapshots are immutable"
                ) from exc
            raise
        return stored

    def _resolve(self, digests: set[str]) -> dict[str, str]:
        """digest -> pack for each stored digest, touching every pack once (it is now in use)."""
        by_pack: dict[str, list[str]] = {}
        with self._shared.lock:
            for digest in digests:
                by_pack.setdefault(self._shared.index.get(_check_digest(digest), ""), []).append(digest)
        where: dict[str, str] = {}
        for pack, members in by_pack.items():
            keys = self._pack_keys(pack, touch=True, force=True) if pack else None
            for digest in members:
                found = pack if keys is not None and digest in keys else self._locate(digest, touch=True)
                if found is not None:
                    where[digest] = found
        return where

    def _predecessor(self, manifest: Manifest) -> _Record | None:
        key = (manifest.captured_at.timestamp(), manifest.snapshot_id)
        for record in self._records(manifest.tenant):  # newest first
            if record.info.type == manifest.type and record.key < key:
                return record
        return None

    def _own(self, names: Iterable[str]) -> None:
        if not self.owner:
            return
        patch = {"metadata": {"ownerReferences": [self.owner]}}
        for name in names:
            self._request("PATCH", f"/{name}", body=patch, content_type=MERGE_PATCH)

    def get_manifest(self, snapshot_id: str) -> Manifest:
        cm = self._manifest_cm(snapshot_id)
        record = self._record(cm)
        data = orjson.loads(self._decompress(base64.b64decode(cm[self.DATA]["manifest"])))
        data["items"] = self._items(record.items_parts)["items"]
        return Manifest.model_validate(data)

    def list_snapshots(self, tenant: str | None = None) -> Iterator[SnapshotInfo]:
        for record in self._records(tenant if tenant is not None else self.tenant):
            yield record.info

    def list_manifests(self, tenant: str | None = None) -> Iterator[str]:
        for info in self.list_snapshots(tenant):
            yield info.snapshot_id

    # --- deletion and garbage collection -------------------------------------------------------

    def delete_snapshot(self, snapshot_id: str, *, collect: bool = True) -> None:
        """Delete a snapshot's manifest and drift, then (``collect``) whatever nothing else uses."""
        cm = self._manifest_cm(snapshot_id)
        record = self._record(cm)
        self._delete(record.name)  # the snapshot is gone from listings from here on
        for name in (record.drift or {}).get("parts", []):
            self._delete(name)
        if collect:
            self.collect_garbage(compact=record.packs)

    def delete_snapshots(self, snapshot_ids: Iterable[str]) -> int:
        """Delete several snapshots with one garbage collection; returns ConfigMaps removed."""
        packs: set[str] = set()
        for snapshot_id in snapshot_ids:
            packs.update(self._record(self._manifest_cm(snapshot_id)).packs)
            self.delete_snapshot(snapshot_id, collect=False)
        return self.collect_garbage(compact=packs)

    def _old_enough(self, meta: Mapping[str, Any]) -> bool:
        stamp = (meta.get("annotations") or {}).get(A_TOUCHED) or meta.get("creationTimestamp")
        if not stamp:
            return True
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return self._wall_clock() - moment >= self.gc_grace

    def collect_garbage(self, compact: Iterable[str] = ()) -> int:
        """Delete parts no manifest refers to (older than ``gc_grace``) and rewrite the packs in
        ``compact`` without bodies no manifest needs. Returns the number of ConfigMaps deleted.

        Considers every manifest in the namespace (bodies may be shared between tenants). Safe at
        any time: a pack touched or written within ``gc_grace`` is left alone, and deletes and
        rewrites are conditional on the resourceVersion that was judged.
        """
        records = self._records(None)
        live_items = {n for r in records for n in r.items_parts}
        live_drift = {n for r in records for n in (r.drift or {}).get("parts", [])}
        live_packs = {p for r in records for p in r.packs}
        removed = 0
        for part, live in (("items", live_items), ("drift", live_drift), ("pack", live_packs)):
            for obj in list(self._list_meta(self._selector(part))):
                meta = obj["metadata"]
                if meta["name"] not in live and self._old_enough(meta):
                    removed += self._delete(meta["name"], meta.get("resourceVersion"))
                    with self._shared.lock:
                        self._shared.touched.pop(meta["name"], None)
                        self._shared.packs.pop(meta["name"], None)
        with self._shared.lock:
            self._shared.indexed.clear()  # re-read manifests next time: some are gone
        for pack in set(compact) & live_packs:
            self._compact(pack, [r for r in records if pack in r.packs])
        return removed

    def _compact(self, pack: str, users: list[_Record]) -> None:
        needed: set[str] = set()
        for record in users:
            blob = self._items(record.items_parts)
            at = blob["packs"].index(pack) if pack in blob["packs"] else -1
            needed.update(d for d, w in zip(blob["items"].values(), blob["where"], strict=True) if w == at)
        cm = self._get(pack)
        if cm is None:
            return
        binary = cm.get(self.DATA) or {}
        if not set(binary) - needed:
            return
        if not self._old_enough(cm["metadata"]):
            # In use by a capture: do not pull bodies from under it. Mark how much of it is live;
            # when that is under half, writers store their bodies afresh instead of re-using it,
            # so it drops out of use and is collected whole.
            live = sum(len(k) + len(base64.b64decode(v)) for k, v in binary.items() if k in needed)
            patch = {"metadata": {"annotations": {A_LIVE: str(live)}}}
            with contextlib.suppress(ApiException):
                self._request("PATCH", f"/{pack}", body=patch, content_type=MERGE_PATCH)
            return
        kept = {k: v for k, v in binary.items() if k in needed}
        cm[self.DATA] = kept
        cm["metadata"].setdefault("annotations", {})[A_BYTES] = str(
            sum(len(k) + len(base64.b64decode(v)) for k, v in kept.items())
        )
        with contextlib.suppress(ApiException):  # 409: touched meanwhile; leave it for next time
            self._request("PUT", f"/{pack}", body=cm)
        with self._shared.lock:
            self._shared.packs.pop(pack, None)
            self._shared.touched.pop(pack, None)

    # --- drift reports ----------------------------------------------------------------------

    def put_drift(self, report: DriftReport) -> None:
        cm = self._manifest_cm(report.new_snapshot)
        record = self._record(cm)
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
            parts, where, size = self._write_parts(
                self._name("d"), entries, self._labels("drift", record.info.tenant, record.info.snapshot_id)
            )
            chunk_part = [where[k] for k, _ in entries]
        drift = {
            **report.summary(),
            "chunk_size": CHANGES_PER_CHUNK,
            "parts": parts,
            "chunk_part": chunk_part,
            "bytes": size,
        }
        for _attempt in range(5):
            cm["metadata"]["annotations"][A_DRIFT] = orjson.dumps(drift).decode()
            try:
                self._request("PUT", f"/{record.name}", body=cm)
                break
            except ApiException as exc:
                if exc.status != 409:
                    raise
                cm = self._manifest_cm(report.new_snapshot)
        else:
            raise StoreError(f"could not record the drift of {report.new_snapshot!r}: its manifest kept changing")
        for name in (record.drift or {}).get("parts", []):
            self._delete(name)

    def _drift(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._record(self._manifest_cm(snapshot_id)).drift

    def get_drift(self, snapshot_id: str) -> DriftReport | None:
        drift = self._drift(snapshot_id)
        if drift is None:
            return None
        report = DriftReport.from_dict(drift)
        report.changes = self._read_changes(drift, 0, drift["change_count"])
        return report

    def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        drift = self._drift(snapshot_id)
        return [] if drift is None else self._read_changes(drift, start, stop)

    def _read_changes(self, drift: Mapping[str, Any], start: int, stop: int) -> list[Change]:
        size: int = drift["chunk_size"]
        start, stop = max(start, 0), min(stop, drift["change_count"])
        out: list[Change] = []
        if stop <= start:
            return out
        fetched: dict[str, dict[str, str]] = {}
        for n in range(start // size, (stop - 1) // size + 1):
            name = drift["parts"][drift["chunk_part"][n]]
            if name not in fetched:
                cm = self._get(name)
                if cm is None:
                    raise StoreError(f"drift part {self.namespace}/{name} is missing; store the drift report again")
                fetched[name] = cm.get(self.DATA) or {}
            chunk = orjson.loads(self._decompress(base64.b64decode(fetched[name][f"changes.{n}"])))
            lo = max(start - n * size, 0)
            hi = min(stop - n * size, len(chunk))
            out.extend(Change.from_dict(c) for c in chunk[lo:hi])
        return out

    # --- accounting -------------------------------------------------------------------------

    def usage(self, tenant: str) -> StoreUsage:
        records = self._records(tenant)
        items_bytes = {",".join(r.items_parts): r.items_bytes for r in records}
        packs = {p for r in records for p in r.packs}
        body_bytes = 0
        if packs:
            for obj in self._list_meta(self._selector("pack")):
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

    def over_budget(self, tenant: str) -> int:
        """Bytes by which ``tenant`` exceeds ``budget_bytes`` (0 when within it or no budget)."""
        if self.budget_bytes is None:
            return 0
        return max(self.usage(tenant).total_bytes - self.budget_bytes, 0)

    def enforce_budget(self, tenant: str, *, keep: int = 1) -> list[str]:
        """Delete ``tenant``'s oldest snapshots until it fits ``budget_bytes``, always keeping the
        newest ``keep``. Returns the deleted ids, oldest first."""
        deleted: list[str] = []
        if self.budget_bytes is None:
            return deleted
        candidates = [r.info.snapshot_id for r in self._records(tenant)][keep:]
        while candidates and self.over_budget(tenant) > 0:
            oldest = candidates.pop()
            self.delete_snapshot(oldest)
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
    """What a store and its :meth:`ConfigMapStore.for_owner` siblings share."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.local = threading.local()
        self.pending: dict[str, bytes] = {}  # digest -> compressed body, not yet in a pack
        self.index: dict[str, str] = {}  # digest -> pack name
        self.indexed: set[str] = set()  # items blobs merged into the index
        self.index_time = float("-inf")
        self.touched: dict[str, tuple[float, frozenset[str], frozenset[str]]] = {}  # pack -> (when, keys, owners)
        self.packs: OrderedDict[str, dict[str, str]] = OrderedDict()  # a few packs' binaryData (base64)
        self.retiring: set[str] = set()  # packs mostly garbage: re-store rather than re-use
        self.items_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _check_owner(owner: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("apiVersion", "kind", "name", "uid") if not owner.get(k)]
    if missing:
        raise ValueError(
            f"owner {dict(owner)!r} lacks {missing}; pass the Snapshot's apiVersion, kind, name and uid "
            f"(e.g. from kopf's body)"
        )
    return {k: owner[k] for k in ("apiVersion", "kind", "name", "uid")} | {"blockOwnerDeletion": False}
