"""The reference index of one snapshot: what the blast radius needs, without reading a body again.

    edges = SnapshotEdges.of_items(items)            # at capture: (item key, body) as they pass
    await remember(store, manifest.digest, edges)    # kept with the snapshot (by content digest)
    radius = BlastRadius.from_edges([await edges_of(store, info) for info in newest])

A snapshot's edges are its items' references (:data:`jiradrift.snapshot.natural.RULES`), stored the
way the radius walks them: ``used_by`` (item key -> the item keys of this snapshot that use it),
``applies`` (item -> project ids), the field contexts that apply to
every project, and every project's key. They are a function of the snapshot's content, so they are
keyed by its manifest digest: two snapshots with equal content share them, and a snapshot stored
``unchanged_from`` an earlier one reuses its edges.

Where they live: in the process (a bounded cache by digest), and in the store when it offers
:class:`EdgeStore` (the filesystem store keeps them in ``reach/<digest>.json``); a store without it
(Secret, ConfigMap, S3) has them computed once per process from the bodies of the kinds that carry
references, then cached. Reach at diff time is then a lookup: load the edges of the newest snapshot
of each type and walk only from the changed items.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import orjson

from jiradrift.model.store import SnapshotInfo, SnapshotStore
from jiradrift.snapshot.natural import RULES, Json, references

#: Kinds whose bodies the edges come from: those with references, projects (their keys) and field
#: contexts (a global one applies everywhere). Other kinds have no edges at all.
EDGE_KINDS = frozenset({*(k for k, r in RULES.items() if r.refs), "project", "field-context"})
#: Snapshots whose edges one process keeps (a tenant has one newest snapshot per type).
CACHE_SIZE = 256
#: The format of the stored edges; a different one is recomputed, never misread.
VERSION = 2


@runtime_checkable
class EdgeStore(Protocol):
    """A store that keeps each snapshot's edges beside it (optional; see the module doc)."""

    async def get_edges(self, digest: str) -> bytes | None: ...

    async def put_edges(self, digest: str, data: bytes) -> None: ...


@dataclass
class SnapshotEdges:
    used_by: dict[str, list[str]] = field(default_factory=dict)  # item key -> item keys that use it
    applies: dict[str, list[str]] = field(default_factory=dict)  # item key -> project ids
    everywhere: list[str] = field(default_factory=list)  # item keys applying to every project
    project_keys: dict[str, str] = field(default_factory=dict)  # project id -> project key

    def add(self, item_key: str, body: Json) -> None:
        """Record one item's edges (the capture calls this for every item it stores)."""
        kind, _, ident = item_key.partition("/")
        if kind not in EDGE_KINDS:
            return
        if kind == "project":
            self.project_keys[ident] = str(body.get("key") or ident)
        if kind == "field-context" and body.get("isGlobalContext") and not body.get("projectIds"):
            self.everywhere.append(item_key)
        uses: set[str] = set()
        applies: set[str] = set()
        for ref, value in references(kind, body):
            if ref.relation == "applies" and ref.target == "project":
                applies.add(value)
            elif ref.relation == "uses":
                uses.add(f"{ref.target}/{value}")
        for target in uses:
            self.used_by.setdefault(target, []).append(item_key)
        if applies:
            self.applies[item_key] = sorted(applies)

    @classmethod
    def of_items(cls, items: Iterable[tuple[str, Json]]) -> SnapshotEdges:
        edges = cls()
        for key, body in items:
            edges.add(key, body)
        return edges

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "version": VERSION,
                "usedBy": self.used_by,
                "applies": self.applies,
                "everywhere": sorted(self.everywhere),
                "projectKeys": self.project_keys,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SnapshotEdges | None:
        """The edges, or None when ``data`` is not edges of this version (then they are recomputed)."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            return None
        parts = (raw.get("usedBy"), raw.get("applies"), raw.get("everywhere"), raw.get("projectKeys"))
        if not all(isinstance(p, dict | list) for p in parts):
            return None
        return cls(*parts)  # type: ignore[arg-type]


_cache: OrderedDict[str, SnapshotEdges] = OrderedDict()


def _keep(digest: str, edges: SnapshotEdges) -> None:
    _cache[digest] = edges
    _cache.move_to_end(digest)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


async def remember(store: SnapshotStore, digest: str, edges: SnapshotEdges) -> None:
    """Keep ``edges`` as those of the snapshot content ``digest`` (in the process and the store)."""
    if not digest:
        return
    _keep(digest, edges)
    if isinstance(store, EdgeStore):
        await store.put_edges(digest, edges.to_bytes())


async def stored_edges(store: SnapshotStore, info: SnapshotInfo) -> SnapshotEdges | None:
    """The edges of snapshot ``info`` if they are cached or stored, else None."""
    digest = info.digest
    if not digest:
        return None
    found = _cache.get(digest)
    if found is not None:
        _cache.move_to_end(digest)
        return found
    if isinstance(store, EdgeStore):
        data = await store.get_edges(digest)
        found = SnapshotEdges.from_bytes(data) if data is not None else None
        if found is not None:
            _keep(digest, found)
    return found


async def edges_of(store: SnapshotStore, info: SnapshotInfo) -> SnapshotEdges:
    """The edges of snapshot ``info``: cached, stored, or (once) computed from its bodies."""
    found = await stored_edges(store, info)
    if found is not None:
        return found
    manifest = await store.get_manifest(info.snapshot_id)
    wanted = {k: d for k, d in manifest.items.items() if k.partition("/")[0] in EDGE_KINDS}
    bodies = await store.get_items(set(wanted.values()))
    edges = SnapshotEdges.of_items((key, orjson.loads(bodies[d])) for key, d in wanted.items())
    await remember(store, info.digest or manifest.digest, edges)
    return edges
