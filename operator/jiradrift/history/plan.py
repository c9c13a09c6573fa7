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


def encode_index(entries: Iterable[IndexEntry]) -> bytes:
    """One JSON row per line, sorted by item key: a window's change is a few changed lines."""
    rows = sorted(entries, key=lambda e: e.key)
    return b"".join(orjson.dumps(e.to_row()) + b"\n" for e in rows)


def decode_index(raw: bytes) -> dict[str, IndexEntry]:
    """The index file's entries by item key; ValueError naming the line when one is not a row."""
    out: dict[str, IndexEntry] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = IndexEntry.from_row(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{INDEX_NAME} line {number}: {exc}") from None
        out[entry.key] = entry
    return out


def bodies_needed(previous: Mapping[str, IndexEntry], items: Mapping[str, str]) -> set[str]:
    """Digests of the bodies a plan must read: items that are new or whose content changed."""
    return {digest for key, digest in items.items() if key not in previous or previous[key].digest != digest}


@dataclass
class TypePlan:
    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    index: dict[str, IndexEntry] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.writes and not self.deletes


def plan_type(
    type_dir: str,
    previous: Mapping[str, IndexEntry],
    items: Mapping[str, str],
    bodies: Mapping[str, Any],
    rendered: Mapping[str, bytes] | None = None,
) -> TypePlan:
    """The file operations that take ``type_dir`` from ``previous`` to the snapshot ``items``.

    ``bodies``: digest -> parsed body, for at least :func:`bodies_needed`. ``rendered``: digest ->
    YAML already rendered (optional; a re-read body renders the same bytes). KeyError names a body
    that is missing.
    """
    index: dict[str, IndexEntry] = {}
    for key, digest in items.items():
        old = previous.get(key)
        if old is not None and old.digest == digest:
            index[key] = old
        else:
            if digest not in bodies:
                raise KeyError(f"the body of {key} ({digest[:12]}) was not read")
            index[key] = IndexEntry.of(key, digest, bodies[digest])
    old_paths = item_paths(type_dir, previous.values())
    new_paths = item_paths(type_dir, index.values())
    plan = TypePlan(index=index)
    for key, path in new_paths.items():
        entry = index[key]
        old = previous.get(key)
        if old is not None and old.digest == entry.digest and old_paths.get(key) == path:
            continue
        if rendered is not None and entry.digest in rendered:
            plan.writes[path] = rendered[entry.digest]
        elif entry.digest in bodies:
            plan.writes[path] = render_yaml(bodies[entry.digest])
        else:  # unchanged content that moved (its parent was renamed, a namesake came or went)
            raise KeyError(f"the body of {key} ({entry.digest[:12]}) was not read")
    kept = set(new_paths.values())
    plan.deletes = sorted({p for p in old_paths.values() if p not in kept})
    if plan.writes or plan.deletes or index.keys() != previous.keys():
        plan.writes[index_path(type_dir)] = encode_index(index.values())
    return plan


def moved_keys(
    type_dir: str, previous: Mapping[str, IndexEntry], items: Mapping[str, str], bodies: Mapping[str, Any]
) -> set[str]:
    """Unchanged items whose path changes (a parent renamed, a namesake added or removed): their
    bodies must be read too. Call after reading :func:`bodies_needed`; read these, then plan."""
    index = {
        key: (
            previous[key]
            if key in previous and previous[key].digest == digest
            else IndexEntry.of(key, digest, bodies[digest])
        )
        for key, digest in items.items()
    }
    old_paths = item_paths(type_dir, previous.values())
    new_paths = item_paths(type_dir, index.values())
    return {
        key
        for key, path in new_paths.items()
        if key in previous and previous[key].digest == items[key] and old_paths.get(key) != path
    }
