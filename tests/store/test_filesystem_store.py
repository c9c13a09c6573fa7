"""FilesystemStore: the shared contract, plus what only a directory-backed store promises."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from tests.store.builders import T0, canonical, put_snapshot
from tests.store.contract import WF_A, WF_B, StoreContract

from jiradrift.model.manifest import Manifest
from jiradrift.model.store_errors import BudgetExceeded, InvalidStoreName, StoreError, StoreIntegrityError
from jiradrift.store.filesystem import FilesystemStore

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


class TestFilesystemStoreContract(StoreContract):
    @pytest.fixture
    def store(self, root: Path) -> FilesystemStore:
        return FilesystemStore(root, durable=False, gc_grace=timedelta(0))

    @pytest.fixture
    def tenant_store(self, root: Path) -> Callable[[str], FilesystemStore]:
        return lambda tenant: FilesystemStore(root, durable=False, gc_grace=timedelta(0), tenant=tenant)


async def test_bodies_are_compressed_and_sharded_by_digest_prefix(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    digest, body = canonical({"description": "x" * 5000})
    await store.put_item(digest, body)
    on_disk = root / "items" / digest[:2] / f"{digest}.zst"
    assert on_disk.read_bytes().startswith(ZSTD_MAGIC)
    assert on_disk.stat().st_size < len(body) / 10


async def test_writes_leave_nothing_behind_in_the_staging_directory(root: Path) -> None:
    store = FilesystemStore(root, durable=True, gc_grace=timedelta(0))
    await put_snapshot(store, "s1", WF_A, hours=0)
    await put_snapshot(store, "s2", WF_B, hours=1)
    await store.delete_snapshot("s1")
    assert list((root / "tmp").iterdir()) == []


async def test_an_unchanged_snapshot_stores_no_new_bodies_and_no_items(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    await put_snapshot(store, "s1", WF_A, hours=0)
    bodies = sorted((root / "items").rglob("*.zst"))
    await put_snapshot(store, "s2", WF_A, hours=1)
    assert sorted((root / "items").rglob("*.zst")) == bodies
    s1 = (root / "snapshots" / "s1" / "manifest.json.zst").stat().st_size
    s2 = (root / "snapshots" / "s2" / "manifest.json.zst").stat().st_size
    assert s2 < s1


async def test_a_crash_before_the_manifest_leaves_garbage_that_gc_removes(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(0))
    await put_snapshot(store, "s1", WF_A)
    orphan, body = canonical({"name": "written by a capture that died"})
    await store.put_item(orphan, body)
    (root / "tmp" / "manifest.json.zst.123.deadbeef").write_bytes(b"half a manifest")
    assert list(await store.list_manifests()) == ["s1"]
    assert await store.collect_garbage() == 1
    assert await store.has_item(orphan) is False
    assert list((root / "tmp").iterdir()) == []
    assert all([await store.has_item(d) for d in (await store.get_manifest("s1")).items.values()])


async def test_gc_spares_bodies_younger_than_the_grace_period(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(minutes=5))
    in_flight, body = canonical({"name": "capture in progress"})
    await store.put_item(in_flight, body)
    assert await store.collect_garbage() == 0
    assert await store.has_item(in_flight)


async def test_put_item_of_a_known_body_refreshes_its_age_so_gc_spares_it(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(minutes=5))
    digest, body = canonical({"name": "reused"})
    await store.put_item(digest, body)
    path = root / "items" / digest[:2] / f"{digest}.zst"
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert await store.put_item(digest, body) is False
    assert path.stat().st_mtime > old + 3000
    assert await store.collect_garbage() == 0


async def test_a_reopened_store_sees_everything(root: Path) -> None:
    await put_snapshot(FilesystemStore(root, durable=False), "s1", WF_A)
    again = FilesystemStore(root, durable=False)
    assert list(await again.list_manifests()) == ["s1"]
    assert (await again.get_manifest("s1")).items["field/f1"] == canonical(WF_A["field/f1"])[0]


async def test_a_non_empty_directory_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a jiradrift store"):
        FilesystemStore(tmp_path)


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden"])
async def test_snapshot_ids_that_are_not_safe_file_names_are_refused_with_the_rule(root: Path, bad: str) -> None:
    store = FilesystemStore(root, durable=False)
    with pytest.raises(InvalidStoreName, match="letters, digits"):
        await put_snapshot(store, bad, WF_A)


@pytest.mark.parametrize("tenant", ["team-a/acme", "../up", ".dot", "a%2Fb", "ünï code"])
async def test_any_tenant_name_is_stored_and_listed_as_given(root: Path, tenant: str) -> None:
    store = FilesystemStore(root, durable=False)
    await put_snapshot(store, "s1", WF_A, tenant=tenant)
    await put_snapshot(store, "s2", WF_A, tenant="plain", hours=1)
    assert list(await store.list_manifests(tenant)) == ["s1"]
    assert [i.tenant for i in await store.list_snapshots()] == ["plain", tenant]
    assert (await store.usage(tenant)).snapshots == 1
    assert not list(root.parent.glob("*.json"))  # nothing escaped the store directory


async def test_an_empty_tenant_is_refused(root: Path) -> None:
    with pytest.raises(InvalidStoreName, match="tenant is empty"):
        await put_snapshot(FilesystemStore(root, durable=False), "s1", WF_A, tenant="")


async def test_a_malformed_digest_is_refused(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    with pytest.raises(StoreError, match="sha256 hex"):
        await store.put_item("../../etc/passwd", b"x")


async def test_concurrent_writers_of_one_tenant_lose_no_snapshot(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    # put_manifest runs in worker threads: eight at once contend for the tenant's index lock
    results = await asyncio.gather(
        *(
            put_snapshot(FilesystemStore(root, durable=False), f"s{i}", {"field/f": {"n": i}}, hours=i)
            for i in range(8)
        ),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert list(await store.list_manifests("acme")) == [f"s{i}" for i in reversed(range(8))]


async def test_integrity_error_names_the_snapshot_and_the_fix(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    digest, _ = canonical({"x": 1})
    with pytest.raises(StoreIntegrityError) as info:
        await store.put_manifest(
            Manifest(snapshot_id="snap-7", tenant="acme", type="t", captured_at=T0, items={"field/x": digest})
        )
    assert "snap-7" in str(info.value) and "put_item every body before put_manifest" in str(info.value)


async def test_a_capture_over_the_budget_is_refused_before_the_body_that_would_not_fit(root: Path) -> None:
    store = FilesystemStore(root, durable=False, budget_bytes=16 * 1024)
    await store.begin_capture("acme", "fields")
    bodies = [canonical({"blob": os.urandom(1024).hex()}) for _ in range(40)]  # ~1.1 KiB each compressed
    with pytest.raises(BudgetExceeded) as info:
        for digest, body in bodies:
            await store.put_item(digest, body)
    assert info.value.reason == "BudgetExceeded" and info.value.needed_bytes > 16 * 1024
    stored = sum(f.stat().st_size for f in (root / "items").rglob("*.zst"))
    assert 0 < stored <= 16 * 1024
    assert await store.list_manifests() == []
    # Bodies the snapshot re-uses count too: a second capture of the same bodies is refused as well.
    again = FilesystemStore(root, durable=False, budget_bytes=16 * 1024)
    await again.begin_capture("acme", "fields")
    with pytest.raises(BudgetExceeded):
        for digest, body in bodies:
            if not await again.has_item(digest):
                await again.put_item(digest, body)
