"""Where each object's file lives: ``<prefix>/<type>/<kind>/<natural key>.yaml``, safely encoded.

    entry = IndexEntry.of("workflow/8a1f...", digest, body)   # the label is the natural key
    paths = item_paths("workflows", [entry, ...])             # item key -> repository path

The natural key is the name a person knows (:data:`jiradrift.snapshot.natural.RULES`): a
workflow's name, a project's key; a child (a field context) lives under its parent's name. Two
objects of a kind with the same name (Jira allows some) each get `` #<Jira id>``: a path that does
not change when a third one comes or goes. Names are untrusted: every segment is encoded so that it
cannot climb out of its directory, hide (``.git``), or differ only by case from another on a
case-insensitive checkout.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jiradrift.snapshot.natural import RULES

SUFFIX = ".yaml"
MAX_SEGMENT_BYTES = 150  # well under every file system's 255, with room for " #<id>.yaml"
#: Characters that are not portable in a file name (Windows, URLs in a forge's UI) or that git treats specially.
_UNSAFE = re.compile(r'[/\\%:*?"<>|\x00-\x1f\x7f]')


@functools.lru_cache(maxsize=65536)  # the same names come back every window
def encode_segment(name: str) -> str:
    """``name`` as one safe path segment: unsafe characters percent-encoded (``/`` is ``%2F``),
    a leading dot or trailing space or dot encoded, an empty name ``%00``, a long one cut with a hash."""
    if not name:
        return "%00"
    out = _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", name)
    if out.startswith("."):
        out = "%2E" + out[1:]
    if out.endswith((" ", ".")):
        out = out[:-1] + f"%{ord(out[-1]):02X}"
    if len(out) * 4 > MAX_SEGMENT_BYTES and len(raw := out.encode()) > MAX_SEGMENT_BYTES:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        out = raw[: MAX_SEGMENT_BYTES - 13].decode(errors="ignore") + "~" + digest
    return out


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the layout needs to know about one stored item, without its body.

    ``label``: its own natural key (name); ``parent``: the item key of its parent, if its kind has one.
    """

    key: str
    digest: str
    label: str
    parent: str = ""

    @classmethod
    def of(cls, key: str, digest: str, body: Any) -> IndexEntry:
        kind, _, ident = key.partition("/")
        rule = RULES.get(kind)
        if rule is None or not isinstance(body, dict):
            return cls(key, digest, ident)
        parent = ""
        if rule.parent is not None and body.get(rule.parent[0]) is not None:
            parent = f"{rule.parent[1]}/{body[rule.parent[0]]}"
        return cls(key, digest, rule.key(body) or ident, parent)

    def to_row(self) -> list[str]:
        return [self.key, self.digest, self.label, self.parent]

    @classmethod
    def from_row(cls, row: Any) -> IndexEntry:
        if not (isinstance(row, list) and len(row) == 4 and all(isinstance(v, str) for v in row)):
            raise ValueError(f"not an index row: {str(row)[:80]}")
        return cls(*row)


def item_paths(type_dir: str, entries: Iterable[IndexEntry]) -> dict[str, str]:
    """Item key -> path (relative to the prefix) for every entry of one snapshot type."""
    by_key = {e.key: e for e in entries}
    stems: dict[str, str] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    for key, entry in by_key.items():
        kind = key.partition("/")[0]
        label = encode_segment(entry.label)
        if entry.parent:
            parent = by_key.get(entry.parent)
            above = parent.label if parent is not None else "?" + entry.parent.partition("/")[2]
            label = f"{encode_segment(above)}/{label}"
        stem = f"{encode_segment(kind)}/{label}"
        stems[key] = stem
        groups[stem.casefold()].append(key)
    paths: dict[str, str] = {}
    for keys in groups.values():
        if len(keys) == 1:
            paths[keys[0]] = f"{type_dir}/{stems[keys[0]]}{SUFFIX}"
            continue
        for key in keys:  # the same name twice (or differing only by case): each gets its id
            paths[key] = f"{type_dir}/{stems[key]} #{encode_segment(key.partition('/')[2])}{SUFFIX}"
    return paths
