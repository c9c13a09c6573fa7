"""FilesystemStore: the shared contract, plus what only a directory-backed store promises."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from tests.store.builders import T0, canonical, put_snapshot
from tests.store.contract import WF_A, WF_B, StoreContract

from jiradrift.model.manifest import Manifest
from jiradrift.model.store_errors import InvalidStoreName, StoreError, StoreIntegrityError
from jiradrift.store.filesystem import FilesystemStore

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


class TestFilesystemStoreContract(StoreContract):
    @pytest.fixture
    def store(self, root: Path) -> FilesystemStore:
        return FilesystemStore(root, durable=False, gc_grace=timedelta(0))


def test_bodies_are_compressed_and_sharded_by_digest_prefix(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    digest, body = canonical({"description": "x" * 5000})
    store.put_item(digest, body)
    on_disk = root / "items" / digest[:2] / f"{digest}.zst"
    assert on_disk.read_bytes().startswith(ZSTD_MAGIC)
    assert on_disk.stat().st_size < len(body) / 10


def test_writes_leave_nothing_behind_in_the_staging_directory(root: Path) -> None:
    store = FilesystemStore(root, durable=True, gc_grace=timedelta(0))
    put_snapshot(store, "s1", WF_A, hours=0)
    put_snapshot(store, "s2", WF_B, hours=1)
    store.delete_snapshot("s1")
    assert list((root / "tmp").iterdir()) == []


def test_an_unchanged_snapshot_stores_no_new_bodies_and_no_items(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    put_snapshot(store, "s1", WF_A, hours=0)
    bodies = sorted((root / "items").rglob("*.zst"))
    put_snapshot(store, "s2", WF_A, hours=1)
    assert sorted((root / "items").rglob("*.zst")) == bodies
    s1 = (root / "snapshots" / "s1" / "manifest.json.zst").stat().st_size
    s2 = (root / "snapshots" / "s2" / "manifest.json.zst").stat().st_size
    assert s2 < s1


def test_a_crash_before_the_manifest_leaves_garbage_that_gc_removes(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(0))
    put_snapshot(store, "s1", WF_A)
    orphan, body = canonical({"name": "written by a capture that died"})
    store.put_item(orphan, body)
    (root / "tmp" / "manifest.json.zst.123.deadbeef").write_bytes(b"half a manifest")
    assert list(store.list_manifests()) == ["s1"]
    assert store.collect_garbage() == 1
    assert store.has_item(orphan) is False
    assert list((root / "tmp").iterdir()) == []
    assert all(store.has_item(d) for d in store.get_manifest("s1").items.values())


def test_gc_spares_bodies_younger_than_the_grace_period(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(minutes=5))
    in_flight, body = canonical({"name": "capture in progress"})
    store.put_item(in_flight, body)
    assert store.collect_garbage() == 0
    assert store.has_item(in_flight)


def test_put_item_of_a_known_body_refreshes_its_age_so_gc_spares_it(root: Path) -> None:
    store = FilesystemStore(root, durable=False, gc_grace=timedelta(minutes=5))
    digest, body = canonical({"name": "reused"})
    store.put_item(digest, body)
    path = root / "items" / digest[:2] / f"{digest}.zst"
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert store.put_item(digest, body) is False
    assert path.stat().st_mtime > old + 3000
    assert store.collect_garbage() == 0


def test_a_reopened_store_sees_everything(root: Path) -> None:
    put_snapshot(FilesystemStore(root, durable=False), "s1", WF_A)
    again = FilesystemStore(root, durable=False)
    assert list(again.list_manifests()) == ["s1"]
    assert again.get_manifest("s1").items["field/f1"] == canonical(WF_A["field/f1"])[0]


def test_a_non_empty_directory_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a jiradrift store"):
        FilesystemStore(tmp_path)


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden"])
def test_snapshot_ids_that_are_not_safe_file_names_are_refused_with_the_rule(root: Path, bad: str) -> None:
    store = FilesystemStore(root, durable=False)
    with pytest.raises(InvalidStoreName, match="letters, digits"):
        put_snapshot(store, bad, WF_A)


@pytest.mark.parametrize("tenant", ["team-a/acme", "../up", ".dot", "a%2Fb", "ünï code"])
def test_any_tenant_name_is_stored_and_listed_as_given(root: Path, tenant: str) -> None:
    store = FilesystemStore(root, durable=False)
    put_snapshot(store, "s1", WF_A, tenant=tenant)
    put_snapshot(store, "s2", WF_A, tenant="plain", hours=1)
    assert list(store.list_manifests(tenant)) == ["s1"]
    assert [i.tenant for i in store.list_snapshots()] == ["plain", tenant]
    assert store.usage(tenant).snapshots == 1
    assert not list(root.parent.glob("*.json"))  # nothing escaped the store directory


def test_an_empty_tenant_is_refused(root: Path) -> None:
    with pytest.raises(InvalidStoreName, match="tenant is empty"):
        put_snapshot(FilesystemStore(root, durable=False), "s1", WF_A, tenant="")


def test_a_malformed_digest_is_refused(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    with pytest.raises(StoreError, match="sha256 hex"):
        store.put_item("../../etc/passwd", b"x")


def test_concurrent_writers_of_one_tenant_lose_no_snapshot(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            put_snapshot(FilesystemStore(root, durable=False), f"s{i}", {"field/f": {"n": i}}, hours=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list(store.list_manifests("acme")) == [f"s{i}" for i in reversed(range(8))]


def test_integrity_error_names_the_snapshot_and_the_fix(root: Path) -> None:
    store = FilesystemStore(root, durable=False)
    digest, _ = canonical({"x": 1})
    with pytest.raises(StoreIntegrityError) as info:
        store.put_manifest(
            Manifest(snapshot_id="snap-7", tenant="acme", type="t", captured_at=T0, items={"field/x": digest})
        )
    assert "snap-7" in str(info.value) and "put_item every body before put_manifest" in str(info.value)
