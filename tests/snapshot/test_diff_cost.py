"""The cost of a diff is its changed items, plus one pass over the manifests: counted, not timed.

On two 100k-item manifests with 1 % changed (bench/diff_bench.py) the passes over the manifests are
most of a diff's time: each costs about a third of serialising both snapshots with orjson. The diff
took 1.12x that serialisation on 2026-11-30 and 1.83x after reading the bodies (``bodies_for_diff``)
and comparing them (``diff_manifests``) each made their own passes, three lookups per item. These
tests count the passes and the per-item lookups a diff makes through ``diff_stored`` (what capture,
``jiradrift diff`` and the operator run) over a real store, so a pass added again fails here
whatever the machine's load.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from pathlib import Path
from typing import Any

from tests.store.builders import put_snapshot

from jiradrift.model.manifest import Manifest
from jiradrift.snapshot.recording import diff_stored
from jiradrift.store.filesystem import FilesystemStore

ITEMS, CHANGED = 2_000, 20


class CountedItems(dict[str, str]):
    """A manifest's ``items`` that counts whole passes (items/keys/values/iteration) and lookups."""

    def __init__(self, items: dict[str, str], counts: Counter[str], side: str) -> None:
        super().__init__(items)
        self.counts, self.side = counts, side

    def _count(self, what: str) -> None:
        self.counts[f"{self.side} {what}"] += 1

    def items(self) -> ItemsView[str, str]:
        self._count("pass")
        return super().items()

    def keys(self) -> KeysView[str]:
        self._count("pass")
        return super().keys()

    def values(self) -> ValuesView[str]:
        self._count("pass")
        return super().values()

    def __iter__(self) -> Iterator[str]:
        self._count("pass")
        return super().__iter__()

    def get(self, key: str, default: Any = None) -> Any:
        self._count("lookup")
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self._count("lookup")
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._count("lookup")
        return super().__contains__(key)


def body(i: int, version: int) -> dict[str, Any]:
    return {"id": str(i), "name": f"Field {i}", "description": f"v{version}"}


async def counted_diff(root: Path) -> tuple[Counter[str], int]:
    store = FilesystemStore(root, durable=False)
    old_objects = {f"field/{i}": body(i, 1) for i in range(ITEMS)}
    new_objects = dict(old_objects)
    for i in range(0, CHANGED, 2):  # half modified, a quarter removed, a quarter added
        new_objects[f"field/{i}"] = body(i, 2)
    for i in range(1, CHANGED // 2, 2):
        del new_objects[f"field/{i}"]
    for i in range(ITEMS, ITEMS + CHANGED // 4):
        new_objects[f"field/{i}"] = body(i, 1)
    old = await put_snapshot(store, "old", old_objects, hours=0)
    new = await put_snapshot(store, "new", new_objects, hours=1)
    counts: Counter[str] = Counter()

    def counted(m: Manifest, side: str) -> Manifest:
        m.items = CountedItems(m.items, counts, side)
        return m

    report = await diff_stored(store, counted(old, "old"), counted(new, "new"))
    return counts, report.added + report.removed + report.changed


def test_a_diff_passes_over_each_manifest_once_and_looks_up_the_changed_items_only(tmp_path: Path) -> None:
    counts, changed = asyncio.run(counted_diff(tmp_path))
    assert changed == CHANGED // 2 + CHANGED // 4 + CHANGED // 4, counts
    # One pass over each side's keys (a set difference in C) and one over the new items' (key, digest).
    assert counts["old pass"] <= 2 and counts["new pass"] <= 2, counts
    # The one pass looks each new key up in the old manifest once; everything else is per changed item.
    assert counts["old lookup"] <= ITEMS + 10 * CHANGED, counts
    assert counts["new lookup"] <= 10 * CHANGED, counts
