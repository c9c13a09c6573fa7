"""An incremental window's writes are held in memory (handlers/incremental.StagedStore) until a
type changed: a quiet window writes nothing to the store; a changed type's manifest and its new
bodies are written by ``flush`` (a real FilesystemStore in a temporary directory)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from tests.store.builders import T0, put_snapshot

from jiradrift.handlers.incremental import StagedStore, incremental_snapshot_name
from jiradrift.model.manifest import Manifest
from jiradrift.store.filesystem import FilesystemStore


async def test_writes_are_held_until_flushed_and_reads_go_through(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "store", durable=False)
    base = await put_snapshot(store, "s1", {"workflow/a": {"name": "A"}})
    staged = StagedStore(store)
    body = b'{"name":"B"}'
    digest = hashlib.sha256(body).hexdigest()
    await staged.begin_capture("acme", "workflows")
    assert not await staged.has_item(digest)
    assert await staged.put_item(digest, body)
    manifest = Manifest(
        snapshot_id="s2",
        tenant="acme",
        type="workflows",
        captured_at=T0 + timedelta(hours=1),
        items={"workflow/a": digest, **{k: v for k, v in base.items.items() if k != "workflow/a"}},
        kinds={"workflow/a": "workflow"},
    )
    await staged.put_manifest(manifest)
    # nothing in the store yet; the staged store reads its own writes and the store's
    assert await store.list_manifests("acme") == ["s1"]
    assert not await store.has_item(digest)
    assert (await staged.get_manifest("s2")).items == manifest.items
    assert (await staged.get_manifest("s1")).items == base.items
    assert await staged.get_items([digest, base.items["workflow/a"]]) == {
        digest: body,
        base.items["workflow/a"]: await store.get_item(base.items["workflow/a"]),
    }
    stored = await staged.flush(store, "s2")
    assert stored.items == manifest.items
    assert await store.list_manifests("acme") == ["s2", "s1"]
    assert await store.get_item(digest) == body


def test_an_incremental_snapshot_s_name_is_apart_from_the_full_window_s() -> None:
    assert incremental_snapshot_name("acme", "workflows", T0) == "acme-workflows-inc-20240501t0000z"
    assert len(incremental_snapshot_name("a" * 250, "workflows", T0)) == 253
