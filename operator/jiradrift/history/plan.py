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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from jiradrift.history.layout import IndexEntry, item_paths
from jiradrift.history.render import render_yaml

INDEX_NAME = ".index.jsonl"


def index_path(type_dir: str) -> str:
    return f"{type_dir}/{INDEX_NAME}"


def encode_index(entries: Iterable[IndexEntry], paths: Mapping[str, str]) -> bytes:
    """One JSON row per line, sorted by item key (a window's change is a few changed lines): the item
    key, its digest, name, parent and path (so the next window need not compute every path again)."""
    rows = sorted(entries, key=lambda e: e.key)
    return b"".join(orjson.dumps([*e.to_row(), paths.get(e.key, "")]) + b"\n" for e in rows)


def decode_index(raw: bytes) -> TypeState:
    """The index file as a :class:`TypeState`; ValueError when it is not one this module wrote."""
    lines = [line for line in raw.splitlines() if line.strip()]
    try:
        rows = orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{INDEX_NAME} is not one JSON row per line: {exc}") from None
    index: dict[str, IndexEntry] = {}
    paths: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        if not (isinstance(row, list) and len(row) == 5 and all(type(v) is str for v in row)):
            raise ValueError(f"{INDEX_NAME} line {number}: not an index row")
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
    plan.deletes = sorted({p for p in old_paths.values() if p not in kept})
    if plan.writes or plan.deletes or index.keys() != old_index.keys():
        plan.writes[index_path(type_dir)] = encode_index(index.values(), new_paths)
    return plan
