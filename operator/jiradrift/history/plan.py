"""Which files one snapshot writes and removes, given what the branch holds for its type.

    needed = bodies_needed(previous, manifest.items)        # only new or changed items
    bodies = {digest: parsed body for digest in needed}     # read from the store by the caller
    step = plan_type("workflows", previous, manifest.items, bodies)
    step.writes     # path -> YAML bytes
    step.deletes    # paths that no longer hold an object

``previous`` is the type's index as the branch holds it (``<type>/.index.jsonl``: one row per
object, its item key, digest, name and parent), so a window with ten changes reads ten bodies and
renders ten files, whatever the size of the site. Renames move a file (a parent's rename moves its
children); a name shared by two objects gives each its id; the index is rewritten with the files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from jiradrift.history.layout import IndexEntry, item_paths
from jiradrift.history.render import render_yaml

INDEX_DIR = ".index"
SHARDS = 256  # a window rewrites the few index shards its changes fall in, not a 10k-row file


def index_dir(type_dir: str) -> str:
    return f"{type_dir}/{INDEX_DIR}"


def shard_of(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[0] % SHARDS


def shard_path(type_dir: str, shard: int) -> str:
    return f"{index_dir(type_dir)}/{shard:02x}.jsonl"


def encode_index(
    type_dir: str, entries: Iterable[IndexEntry], paths: Mapping[str, str], shards: set[int] | None = None
) -> dict[str, bytes]:
    """Shard path -> its rows (one JSON row per line, sorted by item key: the item key, its digest,
    name, parent and path), for ``shards`` (default: every shard with an entry). An empty shard is b""."""
    rows: dict[int, list[IndexEntry]] = {s: [] for s in shards or ()}
    for entry in entries:
        shard = shard_of(entry.key)
        if shards is None or shard in shards:
            rows.setdefault(shard, []).append(entry)
    return {
        shard_path(type_dir, shard): b"".join(
            orjson.dumps([*e.to_row(), paths.get(e.key, "")]) + b"\n" for e in sorted(found, key=lambda e: e.key)
        )
        for shard, found in rows.items()
    }


def decode_index(shards: Iterable[bytes]) -> TypeState:
    """The index shards as a :class:`TypeState`; ValueError when they are not ones this module wrote."""
    lines = [line for raw in shards for line in raw.splitlines() if line.strip()]
    try:
        rows = orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{INDEX_DIR} is not one JSON row per line: {exc}") from None
    index: dict[str, IndexEntry] = {}
    paths: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        if not (isinstance(row, list) and len(row) == 5 and all(type(v) is str for v in row)):
            raise ValueError(f"{INDEX_DIR} row {number}: not an index row")
        key, digest, label, parent, path = row
        index[key] = IndexEntry(key, digest, label, parent)
        paths[key] = path
    return TypeState(index, paths)


def bodies_needed(previous: Mapping[str, IndexEntry], items: Mapping[str, str]) -> set[str]:
    """Digests of the bodies a plan must read: items that are new or whose content changed."""
    return {digest for key, digest in items.items() if key not in previous or previous[key].digest != digest}


@dataclass
class TypeState:
    """What the branch holds for one type: its index, and the path of every item."""

    index: Mapping[str, IndexEntry]
    paths: dict[str, str]

    @classmethod
    def of(cls, type_dir: str, index: Mapping[str, IndexEntry]) -> TypeState:
        return cls(index, item_paths(type_dir, index.values()))

    def same_places(self, index: Mapping[str, IndexEntry]) -> bool:
        """Whether every item of ``index`` keeps its path: the same items, none renamed or re-parented."""
        if index.keys() != self.index.keys():
            return False
        return all(
            (old := self.index[k]) is new or (old.label == new.label and old.parent == new.parent)
            for k, new in index.items()
        )


class MissingBodies(KeyError):
    """Unchanged items moved (a parent renamed, a namesake came or went): read these bodies, then plan again."""

    def __init__(self, digests: set[str]) -> None:
        super().__init__(f"{len(digests)} moved item(s) need their bodies")
        self.digests = digests


@dataclass
class TypePlan:
    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    state: TypeState = field(default_factory=lambda: TypeState({}, {}))

    @property
    def index(self) -> Mapping[str, IndexEntry]:
        return self.state.index

    @property
    def empty(self) -> bool:
        return not self.writes and not self.deletes


def plan_type(type_dir: str, previous: TypeState, items: Mapping[str, str], bodies: Mapping[str, Any]) -> TypePlan:
    """The file operations that take ``type_dir`` from ``previous`` to the snapshot ``items``.

    ``bodies``: digest -> parsed body, for at least :func:`bodies_needed`. Raises
    :class:`MissingBodies` naming the unchanged bodies it needs too (items whose path moved).
    """
    old_index = previous.index
    index: dict[str, IndexEntry] = {}
    for key, digest in items.items():
        old = old_index.get(key)
        if old is not None and old.digest == digest:
            index[key] = old
        elif digest in bodies:
            index[key] = IndexEntry.of(key, digest, bodies[digest])
        else:
            raise KeyError(f"the body of {key} ({digest[:12]}) was not read")
    old_paths = previous.paths
    new_paths = old_paths if previous.same_places(index) else item_paths(type_dir, index.values())
    plan = TypePlan(state=TypeState(index, new_paths))
    missing: set[str] = set()
    for key, path in new_paths.items():
        entry = index[key]
        old = old_index.get(key)
        if old is not None and old.digest == entry.digest and old_paths.get(key) == path:
            continue
        if entry.digest in bodies:
            plan.writes[path] = render_yaml(bodies[entry.digest])
        else:
            missing.add(entry.digest)
    if missing:
        raise MissingBodies(missing)
    kept = set(new_paths.values())
    deletes = {p for p in old_paths.values() if p not in kept}
    touched = {shard_of(k) for k in old_index.keys() - index.keys()}
    touched |= {shard_of(k) for k, e in index.items() if old_index.get(k) != e or old_paths.get(k) != new_paths.get(k)}
    for path, rows in encode_index(type_dir, index.values(), new_paths, touched).items():
        if rows:
            plan.writes[path] = rows
        elif previous.index:
            deletes.add(path)
    plan.deletes = sorted(deletes)
    return plan
