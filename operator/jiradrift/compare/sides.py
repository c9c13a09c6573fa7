"""One side of a comparison read from a store: the items of a tenant's newest complete snapshots and
its blast radius (from the reference index kept with each snapshot)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from jiradrift.model.store import SnapshotInfo, SnapshotStore
from jiradrift.snapshot.blast import BlastRadius, newest_infos
from jiradrift.snapshot.natural import Json
from jiradrift.snapshot.reach_index import SnapshotEdges, remember, stored_edges


@dataclass
class Side:
    """One side of a comparison: its label, the items of its newest snapshots and its blast radius
    (from the reference index kept with each snapshot: no body is read for it)."""

    label: str
    items: list[tuple[str, Json]]
    radius: BlastRadius
    snapshots: tuple[str, ...] = ()  # the snapshot ids read

    def __repr__(self) -> str:  # asyncio may repr a finished task's result: never the whole site
        return f"Side({self.label!r}, {len(self.items)} items)"


async def read_side(label: str, store: SnapshotStore, tenant: str, types: list[str]) -> Side | None:
    infos = await newest_infos(store, tenant, types)
    if not infos:
        return None
    return await read_snapshots(label, store, infos)


async def read_snapshots(label: str, store: SnapshotStore, infos: list[SnapshotInfo]) -> Side:
    """The side made of the snapshots ``infos`` (their items, and the radius from their index)."""
    items: list[tuple[str, Json]] = []
    keys_of: dict[str, set[str]] = {}
    for info in infos:
        manifest = await store.get_manifest(info.snapshot_id)
        keys_of[info.snapshot_id] = set(manifest.items)
        bodies = await store.get_items(set(manifest.items.values()))
        items.extend((key, orjson.loads(bodies[digest])) for key, digest in manifest.items.items())
    # The reference index kept with each snapshot; a snapshot stored before there was one gets it
    # from the bodies just read (and kept, so the next comparison finds it).
    edges = []
    for info in infos:
        found = await stored_edges(store, info)
        if found is None:
            found = SnapshotEdges.of_items(i for i in items if i[0] in keys_of[info.snapshot_id])
            await remember(store, info.digest, found)
        edges.append(found)
    return Side(label, items, BlastRadius.from_edges(edges), tuple(i.snapshot_id for i in infos))
