"""The reference index kept with each snapshot: written by the capture, read back at diff time
instead of the bodies, and equal to what the bodies say."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from tests.plugins.sites import CapturedSite

from jiradrift.model.store import Manifest
from jiradrift.snapshot import reach_index
from jiradrift.snapshot.blast import BlastRadius, newest_infos
from jiradrift.snapshot.blast import site_radius as radius_of
from jiradrift.snapshot.reach_index import SnapshotEdges, edges_of
from jiradrift.store.filesystem import FilesystemStore


class BodyCountingStore(FilesystemStore):
    """The real filesystem store, counting the bodies read through it."""

    bodies_read = 0

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = set(digests)
        type(self).bodies_read += len(wanted)
        return await super().get_items(wanted)


def test_the_capture_keeps_the_index_and_the_radius_reads_no_body(production: CapturedSite) -> None:
    reach_index._cache.clear()  # as a fresh process: only what the store kept
    store = BodyCountingStore.open(production.store)
    BodyCountingStore.bodies_read = 0

    async def check() -> tuple[BlastRadius, list[str]]:
        infos = await newest_infos(store, (await store.list_snapshots())[0].tenant)
        stored = [await store.get_edges(info.digest) for info in infos]
        assert all(data is not None for data in stored), "the capture kept no reference index"
        return await radius_of(store, infos[0].tenant), [i.snapshot_id for i in infos]

    radius, snapshots = asyncio.run(check())
    assert snapshots and BodyCountingStore.bodies_read == 0
    full = BlastRadius.build(production.items())
    keys = [k for k, _ in production.items()]
    assert sum(bool(full.projects(k)) for k in keys) > 100
    assert all(radius.projects(k) == full.projects(k) for k in keys)
    assert radius.project_keys == full.project_keys


def test_an_index_missing_or_unreadable_is_computed_from_the_bodies_once(production: CapturedSite) -> None:
    reach_index._cache.clear()
    store = BodyCountingStore.open(production.store)
    for path in (production.store / "reach").iterdir():
        path.write_bytes(b"not zstd")  # planted or damaged: recomputed, never misread

    async def twice() -> tuple[SnapshotEdges, SnapshotEdges]:
        [info, *_] = await newest_infos(store, (await store.list_snapshots())[0].tenant)
        BodyCountingStore.bodies_read = 0
        first = await edges_of(store, info)
        read = BodyCountingStore.bodies_read
        assert read > 0
        reach_index._cache.clear()
        second = await edges_of(store, info)  # kept by the first computation
        assert BodyCountingStore.bodies_read == read
        return first, second

    first, second = asyncio.run(twice())
    assert first == second


def test_the_index_of_a_deleted_snapshot_is_collected_with_its_bodies(tmp_path: Path) -> None:
    """Retention deletes a snapshot: its reference index (``reach/<digest>``) goes with its bodies,
    while the index of the snapshot kept stays (and a young one is spared, like a young body)."""
    store = FilesystemStore(tmp_path, gc_grace=timedelta(0))

    async def snapshot(sid: str, hours: int, name: str) -> Manifest:
        body = orjson.dumps({"id": "1", "name": name})
        digest = hashlib.sha256(body).hexdigest()
        await store.put_item(digest, body)
        manifest = await store.put_manifest(
            Manifest(
                snapshot_id=sid,
                tenant="acme",
                type="workflows",
                captured_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours),
                items={"workflow/1": digest},
            )
        )
        edges = SnapshotEdges.of_items([("workflow/1", {"id": "1", "name": name})])
        await reach_index.remember(store, manifest.digest, edges)
        return manifest

    async def scenario() -> tuple[Manifest, Manifest]:
        old = await snapshot("old", 0, "Old Flow")
        new = await snapshot("new", 1, "New Flow")
        await store.delete_snapshot("old")  # what retention does
        return old, new

    old, new = asyncio.run(scenario())
    assert old.digest != new.digest
    kept = {p.name for p in (tmp_path / "reach").iterdir()}
    assert kept == {f"{new.digest}.json.zst"}, kept
    assert asyncio.run(store.get_edges(new.digest)) is not None

    young = FilesystemStore(tmp_path)  # the default grace: a just-written index is never collected
    (tmp_path / "reach" / f"{'0' * 64}.json.zst").write_bytes(b"written just now")
    asyncio.run(young.collect_garbage())
    assert (tmp_path / "reach" / f"{'0' * 64}.json.zst").exists()
