"""Move an operator's filesystem store from one root for every namespace to one store per namespace.

Before, the operator kept every namespace's snapshots in ``<root>`` itself, keyed by Snapshot name:
``team-a/acme`` and ``team-b/acme`` (same scheduled names) read, overwrote and deleted each other's.
Now each namespace has ``<root>/namespaces/<namespace>/``. On first use of a namespace's store, the
snapshots of that namespace's tenants move there from the old root: bodies are hard-linked (copied
across file systems), snapshot directories renamed, the tenant's index moved last. A crash in
between leaves the old index in place, so the next use finishes the move (every step is repeatable).
Bodies the old root no longer needs go with its next garbage collection, run after a move.

A CLI store (``jiradrift snapshot --out DIR``) is not touched: it stays one store in ``DIR``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from jiradrift.model.store_errors import CorruptStoredObject, SnapshotNotFound, StoreError
from jiradrift.store import layout
from jiradrift.store.codec import skip
from jiradrift.store.layout import FORMAT_MARKER

if TYPE_CHECKING:
    from jiradrift.store.filesystem import FilesystemStore

log = logging.getLogger(__name__)


def legacy_tenants(root: Path, namespace: str) -> list[str]:
    """Tenants of ``namespace`` still in the old shared layout at ``root`` (cheap: one glob)."""
    index = root / "index"
    if not (root / FORMAT_MARKER).exists() or not index.is_dir():
        return []
    prefix = quote(f"{namespace}/", safe="")
    return sorted(f"{namespace}/{p.name.removesuffix('.json')[len(prefix) :]}" for p in index.glob(f"{prefix}*.json"))


def migrate_namespace(root: Path, namespace: str, target: FilesystemStore) -> int:
    """Move ``namespace``'s snapshots from the old shared store at ``root`` into ``target``; returns
    how many moved. Nothing to do (the usual case) costs one ``exists`` and one glob."""
    tenants = legacy_tenants(root, namespace)
    if not tenants:
        return 0
    from jiradrift.store.filesystem import FilesystemStore

    legacy = FilesystemStore(root, durable=target.durable, gc_grace=target.gc_grace)
    moved = 0
    for tenant in tenants:
        moved += _move_tenant(legacy, target, tenant)
    legacy._collect_garbage()
    log.info("moved %d snapshot(s) of namespace %s from %s to %s", moved, namespace, root, target.root)
    return moved


def _move_tenant(legacy: FilesystemStore, target: FilesystemStore, tenant: str) -> int:
    with legacy._index_lock(tenant), target._index_lock(tenant):
        rows = legacy._read_index(tenant)
        have = {r["id"] for r in target._read_index(tenant)}
        moving = [r for r in rows if r["id"] not in have]
        for row in moving:
            try:
                data = legacy._load_raw(row["id"])
            except SnapshotNotFound:
                continue
            except StoreError as exc:
                skip(
                    exc
                    if isinstance(exc, CorruptStoredObject)
                    else CorruptStoredObject(row["id"], str(legacy), str(exc))
                )
                continue
            if data["manifest"]["tenant"] != tenant:
                skip(CorruptStoredObject(f"snapshot {row['id']!r}", str(legacy.root), f"not a snapshot of {tenant!r}"))
                continue
            for digest in data["manifest"].get("items", {}).values():
                _link(legacy._item_path(layout.check_digest(str(digest))), target._item_path(str(digest)))
            source, dest = legacy._snapshot_dir(row["id"]), target._snapshot_dir(row["id"])
            if source.exists() and not dest.exists():
                os.replace(source, dest)
        moved = [r for r in moving if target._snapshot_dir(r["id"]).exists()]
        target._write_index(tenant, [*target._read_index(tenant), *moved])
        with contextlib.suppress(FileNotFoundError):
            legacy._index_path(tenant).unlink()  # last: until here, a retry finds the tenant again
    return len(moved)


def _link(source: Path, dest: Path) -> None:
    if dest.exists() or not source.exists():
        return
    dest.parent.mkdir(exist_ok=True)
    try:
        os.link(source, dest)
    except FileExistsError:
        pass
    except OSError:  # another file system: copy
        shutil.copy2(source, dest)
