"""Diff two snapshots: manifests first, then path-level changes only for the items that changed.

    report = diff_manifests(old, new, store, ignore=["field/*:description"])
    report.changed, report.highest_severity, report.first(5)

Why it is fast: equal manifest digests end the diff at once, equal item hashes skip an item without
reading it, and only changed items are read back and compared value by value. A 100k-item snapshot
with 1 % changes reads 2 x 1,000 bodies, not 200,000.

Lists of objects are matched by what their elements are, and paths name elements that way:
objects with a unique ``id`` (else ``key``, else ``name``) by that field (``transitions[id=3].name``);
flat objects without one (a permission grant, a security level member) by their whole content
(``permissions[permission=ADMINISTER_PROJECTS,holder.type=anyone]``), so such an element is only
ever added or removed. An insertion is one ``added`` element and a reorder is one ``modified``
change at the list's path (old/new: the identities in order). Other lists (of strings, numbers, or
objects that repeat) are aligned with a sequence matcher, so an insertion does not make every later
element ``modified``; their paths use the new list's index (the old one for ``removed``).

A rename echoes: a field's ``clauseNames`` holds its name. A change whose old and new values are the
item's old and new name is part of the rename and is not reported again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Protocol

import orjson

from jiradrift.jira.catalog import parent_kinds
from jiradrift.model.ignore import IgnoreRules, ItemIgnore
from jiradrift.model.kinds import Severity, severity_of_key
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import Change, ChangeOp, DriftReport, clip_value

_IDENTITY_FIELDS = ("id", "key", "name")
_PARENTS = parent_kinds()
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*$")
# Fields named first in a content label: what a person reads the element as.
_LEAD_FIELDS = frozenset({"id", "key", "name", "permission", "type", "notificationType", "levelId"})

# (op, path, old, new) before severity and clipping are applied.
_RawChange = tuple[ChangeOp, str, Any, Any]


class ItemReader(Protocol):
    """What the diff needs from a store: bodies by digest (every SnapshotStore qualifies)."""

    def get_item(self, digest: str) -> bytes: ...


def _key_path(path: str, key: str) -> str:
    if not _PLAIN_KEY.match(key):
        seg = "[" + orjson.dumps(key).decode() + "]"
        return path + seg
    return f"{path}.{key}" if path else key


def _diff_values(old: Any, new: Any, path: str, out: list[_RawChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(old.keys() | new.keys()):
            if k not in new:
                out.append((ChangeOp.REMOVED, _key_path(path, k), old[k], None))
            elif k not in old:
                out.append((ChangeOp.ADDED, _key_path(path, k), None, new[k]))
            elif old[k] != new[k]:
                _diff_values(old[k], new[k], _key_path(path, k), out)
    elif isinstance(old, list) and isinstance(new, list):
        _diff_lists(old, new, path, out)
    else:
        out.append((ChangeOp.MODIFIED, path, old, new))


def _identity_field(old: list[Any], new: list[Any]) -> str | None:
    """A field that identifies every element of both lists uniquely, if there is one."""
    for name in _IDENTITY_FIELDS:
        for seq in (old, new):
            ids = [e.get(name) for e in seq]
            if any(not isinstance(i, str | int) or isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
                break
        else:
            return name
    return None


def _is_flat(element: dict[str, Any]) -> bool:
    """Scalars, or objects of scalars (a holder): small enough to be its own name."""
    for v in element.values():
        if isinstance(v, list) or (isinstance(v, dict) and any(isinstance(x, dict | list) for x in v.values())):
            return False
    return True


def _label_value(value: Any) -> str:
    if isinstance(value, str) and _PLAIN_VALUE.match(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # JSON, with brackets escaped so a selector never contains a bare ']' (ignore-rule globs rely on it).
    return orjson.dumps(value).decode().replace("[", "\\u005b").replace("]", "\\u005d")


def _content_label(element: dict[str, Any]) -> str:
    parts: list[str] = []
    nested: list[str] = []
    for k in sorted(element, key=lambda k: (k not in _LEAD_FIELDS, k)):
        v = element[k]
        if isinstance(v, dict):
            for sub in sorted(v, key=lambda s: (s not in _LEAD_FIELDS, s)):
                if v[sub] is not None:
                    nested.append(f"{k}.{sub}={_label_value(v[sub])}")
        elif v is not None:
            parts.append(f"{k}={_label_value(v)}")
    return ",".join(parts + nested)


class _Identity:
    """How the elements of one list are told apart: a matching key and a path label per element."""

    __slots__ = ("field",)

    def __init__(self, field: str | None) -> None:
        self.field = field  # None: by whole content

    def key(self, element: dict[str, Any]) -> Any:
        if self.field is not None:
            return element[self.field]
        return orjson.dumps(element, option=orjson.OPT_SORT_KEYS)

    def label(self, element: dict[str, Any]) -> str:
        if self.field is not None:
            return f"{self.field}={_label_value(element[self.field])}"
        return _content_label(element)


def _identity(old: list[Any], new: list[Any]) -> _Identity | None:
    """How to match the elements of two versions of a list of objects, if they can be told apart."""
    if not (old or new) or not all(isinstance(e, dict) for e in old) or not all(isinstance(e, dict) for e in new):
        return None
    field = _identity_field(old, new)
    if field is not None:
        return _Identity(field)
    if not all(_is_flat(e) for e in old) or not all(_is_flat(e) for e in new):
        return None
    by_content = _Identity(None)
    for seq in (old, new):
        if len({by_content.key(e) for e in seq}) != len(seq):
            return None
    return by_content


def _diff_lists(old: list[Any], new: list[Any], path: str, out: list[_RawChange]) -> None:
    ident = _identity(old, new)
    if ident is not None:
        _diff_lists_by_identity(old, new, ident, path, out)
        return
    # Trim the common prefix and suffix: cheap, and most edits are local.
    lo = 0
    while lo < len(old) and lo < len(new) and old[lo] == new[lo]:
        lo += 1
    hi_o, hi_n = len(old), len(new)
    while hi_o > lo and hi_n > lo and old[hi_o - 1] == new[hi_n - 1]:
        hi_o -= 1
        hi_n -= 1
    mid_o, mid_n = old[lo:hi_o], new[lo:hi_n]
    proxy_o = [_hashable(e) for e in mid_o]
    proxy_n = [_hashable(e) for e in mid_n]
    matcher = SequenceMatcher(None, proxy_o, proxy_n, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for t in range(paired):
            _diff_values(mid_o[i1 + t], mid_n[j1 + t], f"{path}[{lo + j1 + t}]", out)
        for i in range(i1 + paired, i2):
            out.append((ChangeOp.REMOVED, f"{path}[{lo + i}]", mid_o[i], None))
        for j in range(j1 + paired, j2):
            out.append((ChangeOp.ADDED, f"{path}[{lo + j}]", None, mid_n[j]))


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return (type(value).__name__, value)  # keep 1, 1.0 and True apart


def _diff_lists_by_identity(old: list[Any], new: list[Any], ident: _Identity, path: str, out: list[_RawChange]) -> None:
    field = ident.field
    if field is not None:  # the common case, kept free of per-element calls
        old_keys = [e[field] for e in old]
        new_keys = [e[field] for e in new]
    else:
        old_keys = [ident.key(e) for e in old]
        new_keys = [ident.key(e) for e in new]
    old_by = dict(zip(old_keys, old, strict=True))
    new_set = set(new_keys)
    for k, e in zip(old_keys, old, strict=True):
        if k not in new_set:
            out.append((ChangeOp.REMOVED, f"{path}[{ident.label(e)}]", e, None))
    for k, e in zip(new_keys, new, strict=True):
        match = old_by.get(k)
        if match is None:
            out.append((ChangeOp.ADDED, f"{path}[{ident.label(e)}]", None, e))
        elif match != e:
            _diff_values(match, e, f"{path}[{ident.label(e)}]", out)
    old_order = [k for k in old_keys if k in new_set]
    new_order = [k for k in new_keys if k in old_by]
    if old_order != new_order:
        if field is None:
            old_order = [_content_label(old_by[k]) for k in old_order]
            new_order = [_content_label(old_by[k]) for k in new_order]
        out.append((ChangeOp.MODIFIED, path, old_order, new_order))


def _list_of(path: str) -> str | None:
    """The list a path's last segment is an element of (None when it is not a list element)."""
    return path.rpartition("[")[0] if path.endswith("]") else None


def _without_rename_echoes(changes: list[_RawChange], old_name: str, new_name: str) -> list[_RawChange]:
    """Drop the changes that only repeat a rename elsewhere in the item (``clauseNames``): a value
    modified from the old name to the new one, or the old name removed from a list the new one was
    added to."""
    removed_in = {_list_of(p) for op, p, o, _ in changes if op is ChangeOp.REMOVED and o == old_name}
    added_in = {_list_of(p) for op, p, _, n in changes if op is ChangeOp.ADDED and n == new_name}
    paired = (removed_in & added_in) - {None}

    def echo(op: ChangeOp, p: str, o: Any, n: Any) -> bool:
        if p == "name":
            return False
        if op is ChangeOp.MODIFIED:
            return bool(o == old_name and n == new_name)
        return _list_of(p) in paired and bool(o == old_name if op is ChangeOp.REMOVED else n == new_name)

    return [c for c in changes if not echo(*c)]


def diff_items(key: str, old_body: bytes, new_body: bytes) -> list[_RawChange]:
    """Path-level changes between two bodies of one item (no severity, no ignore rules)."""
    old, new = orjson.loads(old_body), orjson.loads(new_body)
    out: list[_RawChange] = []
    _diff_values(old, new, "", out)
    if not out:
        # The bytes differ but the values compare equal (e.g. 1 vs 1.0): still a change.
        out.append((ChangeOp.MODIFIED, "", old, new))
    rename = next(((o, n) for op, p, o, n in out if p == "name" and op is ChangeOp.MODIFIED), None)
    if rename is not None and isinstance(rename[0], str) and isinstance(rename[1], str):
        out = _without_rename_echoes(out, *rename)
    return [
        (ChangeOp.RENAMED, p, o, n) if p == "name" and op is ChangeOp.MODIFIED else (op, p, o, n) for op, p, o, n in out
    ]


def display_name(body: Any) -> str | None:
    """What a person calls the item: its ``name`` (else ``value``, ``key``), clipped to 200 characters."""
    if isinstance(body, dict):
        for field in ("name", "value", "key"):
            value = body.get(field)
            if isinstance(value, str) and value:
                return value[:200]
    return None


def unreadable(old: Manifest, new: Manifest) -> tuple[set[str], dict[str, int], dict[str, int]]:
    """What cannot be compared: (item keys, their count by kind, failed reads of unknown size by kind).

    A capture error names a kind and, optionally, a key. A key of that kind is one unreadable
    item. No key (the listing failed) or the key of a parent (``field/customfield_10003`` for its
    ``field-context`` items) is a read whose items are unknown: then every item of that kind that
    is on the *other* side only is unknown rather than added or removed, and the read is counted in
    the third element, since how many items it would have returned cannot be known. A kind listed
    through another (``field-context`` through ``field``, see the catalog's dependents) is as blind
    as its parent: a failed ``GET /field`` leaves every context unknown, not removed.
    """
    keys: set[str] = set()
    blind: dict[str, set[int]] = {}  # kind -> sides (0 old, 1 new) with a read of unknown size
    reads: dict[str, set[str]] = {}  # kind -> distinct failed reads (parent key or endpoint)
    for side, manifest in enumerate((old, new)):
        for error in manifest.errors:
            if error.key and error.key.startswith(f"{error.kind}/"):
                keys.add(error.key)
                continue
            blind.setdefault(error.kind, set()).add(side)
            reads.setdefault(error.kind, set()).add(error.key or error.endpoint)
    for _ in _PARENTS:  # enough passes for a chain of dependents (grandchildren) too
        for kind, parent in _PARENTS.items():
            if parent in blind:
                blind.setdefault(kind, set()).update(blind[parent])
    if blind:
        for side, manifest in enumerate((old, new)):
            other = (new, old)[side]
            for key in manifest.items:
                if 1 - side in blind.get(key.split("/", 1)[0], ()) and key not in other.items:
                    keys.add(key)
    counts: dict[str, int] = {}
    for key in keys:
        kind = key.split("/", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return keys, counts, {kind: len(found) for kind, found in sorted(reads.items())}


@dataclass(frozen=True)
class ItemDelta:
    """The item keys that differ between two manifests: the only items a diff reads bodies for."""

    added: frozenset[str]
    removed: frozenset[str]
    modified: frozenset[str]

    @classmethod
    def of(cls, old: Manifest, new: Manifest) -> ItemDelta:
        """One pass in Python over ``new`` and one in C over the keys of ``old``: on 100k-item
        manifests these passes are most of a diff's time, so they are made once per diff and shared
        by whoever needs the delta (reading bodies, then comparing them; see ``diff_stored``)."""
        if old.digest and old.digest == new.digest:
            return cls(frozenset(), frozenset(), frozenset())
        old_items, new_items = old.items, new.items
        get = old_items.get
        differing = [k for k, h in new_items.items() if get(k) != h]  # added or modified
        added = frozenset(k for k in differing if k not in old_items)
        return cls(added, frozenset(old_items.keys() - new_items.keys()), frozenset(differing) - added)

    def digests(self, old: Manifest, new: Manifest) -> set[str]:
        """The bodies a diff of these manifests reads: new added and modified, old removed and modified."""
        wanted = {new.items[k] for k in self.added}
        wanted.update(old.items[k] for k in self.removed)
        for k in self.modified:
            wanted.add(old.items[k])
            wanted.add(new.items[k])
        return wanted


class IncomparableSnapshots(ValueError):
    """Two snapshots whose comparison would mean nothing; the message says which and why."""


def _origin(site: str) -> str:
    return site.strip().rstrip("/").lower()


def incomparable(old: Manifest, new: Manifest) -> str | None:
    """Why comparing ``new`` with ``old`` would report noise as drift, or None when it would not:
    another type, another site, or a baseline that read nothing."""
    if old.type != new.type:
        return (
            f"snapshot {old.snapshot_id!r} holds {old.type} and {new.snapshot_id!r} holds {new.type}: "
            f"only snapshots of one type can be compared; pick two of the same type"
        )
    if old.site and new.site and _origin(old.site) != _origin(new.site):
        return (
            f"snapshot {old.snapshot_id!r} is of {old.site} and {new.snapshot_id!r} of {new.site}: items are "
            f"keyed by each site's own ids, so snapshots of two sites cannot be compared item by item"
        )
    if old.read_nothing:
        first = old.errors[0].message if old.errors else "no detail"
        return (
            f"snapshot {old.snapshot_id!r} read nothing ({len(old.errors)} failed read(s), first: {first[:200]}): "
            f"it is no baseline; compare with an earlier snapshot that read the site"
        )
    return None


def check_comparable(old: Manifest, new: Manifest) -> None:
    """Raise :class:`IncomparableSnapshots` when :func:`incomparable` has a reason."""
    reason = incomparable(old, new)
    if reason is not None:
        raise IncomparableSnapshots(reason)


def diff_manifests(
    old: Manifest,
    new: Manifest,
    store: ItemReader,
    ignore: Sequence[str] = (),
    *,
    delta: ItemDelta | None = None,
) -> DriftReport:
    """The drift of ``new`` against ``old``: item counts and path-level changes, sorted by key.

    ``store`` supplies bodies for changed items only. ``ignore`` holds rules as described in
    ``jiradrift.model.ignore`` (e.g. ``"workflow/*:transitions[*].description"``). ``delta``: the
    :class:`ItemDelta` of these manifests when the caller has it already (else it is computed here).
    Raises :class:`IncomparableSnapshots` for a comparison that would mean nothing
    (:func:`check_comparable`).
    """
    check_comparable(old, new)
    report = DriftReport(tenant=new.tenant, type=new.type, new_snapshot=new.snapshot_id, old_snapshot=old.snapshot_id)
    unknown, report.unknown, report.unreadable = unreadable(old, new)
    if old.digest and old.digest == new.digest:
        return report
    rules = IgnoreRules(ignore)
    old_items, new_items = old.items, new.items
    delta = delta if delta is not None else ItemDelta.of(old, new)
    added = delta.added - unknown
    removed = delta.removed - unknown
    modified = delta.modified - unknown
    severities: dict[str, Severity] = {}

    def severity(key: str) -> Severity:
        kind = key.split("/", 1)[0]
        sev = severities.get(kind)
        if sev is None:
            sev = severities[kind] = severity_of_key(key)
        return sev

    changes: list[Change] = []
    for key in sorted((*added, *removed, *modified)):
        hide = rules.for_key(key) if rules else ItemIgnore(False, [])
        if hide.whole_item:
            report.ignored += 1
            continue
        sev = severity(key)
        if key in added:
            body = orjson.loads(store.get_item(new_items[key]))
            changes.append(Change(key, ChangeOp.ADDED, "", sev, None, clip_value(body), display_name(body)))
            report.added += 1
        elif key in removed:
            body = orjson.loads(store.get_item(old_items[key]))
            changes.append(Change(key, ChangeOp.REMOVED, "", sev, clip_value(body), None, display_name(body)))
            report.removed += 1
        else:
            kept = 0
            new_body = store.get_item(new_items[key])
            raw = diff_items(key, store.get_item(old_items[key]), new_body)
            name = display_name(orjson.loads(new_body)) if raw else None
            for op, path, o, n in raw:
                if hide.paths and hide.hides(path):
                    report.ignored += 1
                    continue
                changes.append(Change(key, op, path, sev, clip_value(o), clip_value(n), name))
                kept += 1
            if kept:
                report.changed += 1
    report.changes = changes
    return report
