"""Compare two sites by natural key: match items, then diff their resolved bodies.

    result = compare_sites(left_index, right_index, ignore=[...], mappings=ValueMappings.parse([...]),
                           pins=[Pin.parse("workflow/Old name=New name")])
    result.different, result.changes, result.renames, result.duplicates

Matching, per kind, in this order (each step only sees what the earlier ones left unmatched):

1. pins: pairs the admin declared (``KIND/LEFT KEY=RIGHT KEY``);
2. equal natural keys (names that occur once on both sides);
3. duplicates: items sharing a name on either side are paired by content (identical first, then
   the most similar), never dropped; what is left over is added or removed;
4. renames: an unmatched left item and an unmatched right item whose bodies (name aside) are at
   least :data:`RENAME_SIMILARITY` alike are one item, renamed (most similar pairs first).

Everything else is removed (left only) or added (right only). Changes reuse the drift report's
``Change``; their key is ``<kind>/<natural key>`` (the left one, the right one for an addition).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import orjson

from jiradrift.compare.mapping import ValueMappings
from jiradrift.model.ignore import IgnoreRules, ItemIgnore
from jiradrift.model.kinds import Severity, severity_of_key
from jiradrift.model.report import Change, ChangeOp, clip_value
from jiradrift.snapshot.blast import BlastRadius, ReachRule, annotate
from jiradrift.snapshot.diff import diff_items, display_name
from jiradrift.snapshot.natural import DUPLICATE_MARK, RULES, NaturalIndex, NaturalItem, reorder, rewrite_refs

RENAME_SIMILARITY = 0.7
#: Below RENAME_SIMILARITY, a pair still counts as a rename when each is the other's clear best
#: candidate (by content, then by name) and their content is at least this alike: a small object
#: renamed and edited at once (a status with a new name and description) keeps little in common.
MUTUAL_SIMILARITY = 0.3
#: Above this many candidate pairs in one kind, renames are matched by identical content only.
MAX_SIMILARITY_PAIRS = 250_000


class InvalidPin(ValueError):
    """A pin is not KIND/LEFT=RIGHT."""


@dataclass(frozen=True)
class Pin:
    """The admin's word that ``kind/left`` on the left site is ``kind/right`` on the right one."""

    kind: str
    left: str
    right: str

    @classmethod
    def parse(cls, text: str) -> Pin:
        kind, sep, rest = text.partition("/")
        left, eq, right = rest.partition("=")
        if not sep or not eq or not kind or not left or not right:
            raise InvalidPin(f"pin {text!r} is not KIND/LEFT=RIGHT (e.g. 'workflow/Bug Flow=Bug Workflow')")
        return cls(kind, left, right)


@dataclass(frozen=True)
class Pair:
    left: NaturalItem | None
    right: NaturalItem | None
    how: str  # pinned | key | duplicate | similar | "" (unmatched)
    similarity: float = 1.0


@dataclass
class Comparison:
    """The result: counts, path-level changes, renames found and duplicate names."""

    left: str
    right: str
    equal: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    ignored: int = 0
    changes: list[Change] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    unresolved: tuple[int, int] = (0, 0)
    pairs: list[Pair] = field(default_factory=list)
    sources: list[tuple[int, str]] = field(default_factory=list)  # per change: (side, item key on that side)

    @property
    def different(self) -> bool:
        return bool(self.changes)

    @property
    def highest_severity(self) -> Severity | None:
        ranked = sorted((c.severity for c in self.changes), key=lambda s: s.rank)
        return ranked[-1] if ranked else None

    def summary(self) -> dict[str, Any]:
        highest = self.highest_severity
        return {
            "left": self.left,
            "right": self.right,
            "in_sync": not self.different,
            "equal": self.equal,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "ignored": self.ignored,
            "change_count": len(self.changes),
            "highest_severity": highest.value if highest else None,
            "renames": self.renames,
            "duplicates": self.duplicates,
            "unresolved_references": {"left": self.unresolved[0], "right": self.unresolved[1]},
        }

    def to_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["changes"] = [c.to_dict() for c in self.changes]
        return data


def _base(key: str) -> str:
    head, sep, tail = key.rpartition(DUPLICATE_MARK)
    return head if sep and tail.isdigit() else key


def _leaves(value: Any, path: str, out: Counter[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _leaves(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, path + "[]", out)
    else:
        out[path + "=" + orjson.dumps(value).decode()] += 1


def _profile(item: NaturalItem) -> Counter[str]:
    leaves: Counter[str] = Counter()
    _leaves({k: v for k, v in item.body.items() if k != "name"}, "", leaves)
    return leaves


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """Multiset Jaccard of two leaf profiles (1.0: equal apart from the name)."""
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def _best_pairs(
    lefts: list[NaturalItem], rights: list[NaturalItem], threshold: float, how: str
) -> tuple[list[Pair], list[NaturalItem], list[NaturalItem]]:
    """Greedy most-similar-first pairing at or above ``threshold``; deterministic on ties."""
    if not lefts or not rights:
        return [], lefts, rights
    if len(lefts) * len(rights) > MAX_SIMILARITY_PAIRS:
        threshold = 1.0
        by_content: dict[bytes, list[NaturalItem]] = defaultdict(list)
        for r in rights:
            by_content[orjson.dumps(_profile(r), option=orjson.OPT_SORT_KEYS)].append(r)
        pairs, rest_l = [], []
        for left in lefts:
            found = by_content.get(orjson.dumps(_profile(left), option=orjson.OPT_SORT_KEYS))
            if found:
                pairs.append(Pair(left, found.pop(0), how))
            else:
                rest_l.append(left)
        used = {id(p.right) for p in pairs}
        return pairs, rest_l, [r for r in rights if id(r) not in used]
    lp = [_profile(x) for x in lefts]
    rp = [_profile(x) for x in rights]
    scored = []
    for i, a in enumerate(lp):
        for j, b in enumerate(rp):
            s = similarity(a, b)
            if s >= threshold:
                scored.append((-s, lefts[i].key, rights[j].key, i, j))
    scored.sort()
    taken_l: set[int] = set()
    taken_r: set[int] = set()
    pairs = []
    for neg, _, _, i, j in scored:
        if i in taken_l or j in taken_r:
            continue
        taken_l.add(i)
        taken_r.add(j)
        pairs.append(Pair(lefts[i], rights[j], how, -neg))
    if threshold > MUTUAL_SIMILARITY:
        pairs.extend(_mutual_best(lefts, rights, lp, rp, taken_l, taken_r, how))
    return (
        pairs,
        [x for i, x in enumerate(lefts) if i not in taken_l],
        [x for j, x in enumerate(rights) if j not in taken_r],
    )


def _identical_pairs(
    lefts: list[NaturalItem], rights: list[NaturalItem], how: str
) -> tuple[list[Pair], list[NaturalItem], list[NaturalItem]]:
    """Pairs of items with identical bodies, in order (cheap: no similarity profile is built, no
    body serialised: the groups are a few duplicates of one name, and unequal bodies differ early)."""
    pairs, rest_l, rest_r = [], [], list(rights)
    for left in lefts:
        found = next((j for j, right in enumerate(rest_r) if right.body == left.body), None)
        if found is not None:
            pairs.append(Pair(left, rest_r.pop(found), how))
        else:
            rest_l.append(left)
    return pairs, rest_l, rest_r


def _mutual_best(
    lefts: list[NaturalItem],
    rights: list[NaturalItem],
    lp: list[Counter[str]],
    rp: list[Counter[str]],
    taken_l: set[int],
    taken_r: set[int],
    how: str,
) -> list[Pair]:
    """Pairs of leftovers that are each other's unique best candidate (content, then name)."""
    rest_l = [i for i in range(len(lefts)) if i not in taken_l]
    rest_r = [j for j in range(len(rights)) if j not in taken_r]
    by_left: dict[int, list[tuple[tuple[float, float], int]]] = defaultdict(list)
    by_right: dict[int, list[tuple[tuple[float, float], int]]] = defaultdict(list)
    for i in rest_l:
        for j in rest_r:
            s = similarity(lp[i], rp[j])
            if s >= MUTUAL_SIMILARITY:
                score = (s, SequenceMatcher(None, lefts[i].key, rights[j].key).ratio())
                by_left[i].append((score, j))
                by_right[j].append((score, i))

    def unique_best(candidates: list[tuple[tuple[float, float], int]]) -> tuple[float, int] | None:
        ranked = sorted(candidates, reverse=True)
        if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
            return None
        return ranked[0][0][0], ranked[0][1]

    pairs = []
    for i in rest_l:
        best = unique_best(by_left[i])
        if best is None:
            continue
        sim, j = best
        back = unique_best(by_right[j])
        if back is None or back[1] != i:
            continue
        taken_l.add(i)
        taken_r.add(j)
        pairs.append(Pair(lefts[i], rights[j], how, sim))
    return pairs


def match(
    left: NaturalIndex, right: NaturalIndex, pins: Sequence[Pin] = (), kinds: Iterable[str] | None = None
) -> list[Pair]:
    """Pair every item of both sides (see the module doc for the order of the steps)."""
    wanted = set(kinds) if kinds is not None else None
    by_kind: dict[str, tuple[dict[str, NaturalItem], dict[str, NaturalItem]]] = defaultdict(lambda: ({}, {}))
    for side, index in enumerate((left, right)):
        for item in index.items.values():
            if wanted is None or item.kind in wanted:
                by_kind[item.kind][side][item.key] = item
    pins_by_kind: dict[str, list[Pin]] = defaultdict(list)
    for pin in pins:
        pins_by_kind[pin.kind].append(pin)
    pairs: list[Pair] = []
    for kind in sorted(by_kind):
        lefts, rights = (dict(d) for d in by_kind[kind])
        for pin in pins_by_kind.get(kind, []):
            a, b = lefts.pop(pin.left, None), rights.pop(pin.right, None)
            if a is not None or b is not None:
                pairs.append(Pair(a, b, "pinned" if a and b else ""))
        dup_bases = {_base(k) for k, x in (*lefts.items(), *rights.items()) if x.duplicate}
        for key in sorted(lefts.keys() & rights.keys()):
            if _base(key) not in dup_bases:
                pairs.append(Pair(lefts.pop(key), rights.pop(key), "key"))
        groups: dict[str, tuple[list[str], list[str]]] = {base: ([], []) for base in dup_bases}
        for side, found_keys in enumerate((sorted(lefts), sorted(rights))):
            for k in found_keys:
                group = groups.get(_base(k))
                if group is not None:
                    group[side].append(k)
        for base in sorted(dup_bases):
            group_l = [lefts.pop(k) for k in groups[base][0]]
            group_r = [rights.pop(k) for k in groups[base][1]]
            found, group_l, group_r = _identical_pairs(group_l, group_r, "duplicate")
            pairs.extend(found)
            found, rest_l, rest_r = _best_pairs(group_l, group_r, 0.0, "duplicate")
            pairs.extend(found)
            lefts.update({x.key: x for x in rest_l})
            rights.update({x.key: x for x in rest_r})
        found, rest_l, rest_r = _best_pairs(
            [lefts[k] for k in sorted(lefts)], [rights[k] for k in sorted(rights)], RENAME_SIMILARITY, "similar"
        )
        pairs.extend(found)
        pairs.extend(Pair(x, None, "") for x in rest_l)
        pairs.extend(Pair(None, x, "") for x in rest_r)
    return pairs


def _pair_key(pair: Pair) -> str:
    item = pair.left or pair.right
    return item.natural_key if item else ""


def _referring_kinds(renamed: dict[tuple[str, str], str]) -> frozenset[str]:
    """The kinds whose bodies may name a renamed item (their references follow the rename)."""
    targets = {target for target, _ in renamed}
    return frozenset(kind for kind, rule in RULES.items() if any(ref.target in targets for ref in rule.refs))


def _translated(item: NaturalItem, renamed: dict[tuple[str, str], str]) -> Any:
    body: Any = orjson.loads(orjson.dumps(item.body))
    rewrite_refs(item.kind, body, lambda target, value: renamed.get((target, value), value))
    reorder(item.kind, body)
    return body


def _compare_pair(
    result: Comparison,
    pair: Pair,
    rules: IgnoreRules,
    maps: ValueMappings,
    renamed: dict[tuple[str, str], str],
    needles: tuple[bytes, ...] = (),
    referring: frozenset[str] = frozenset(),
) -> None:
    """Count one pair and add its changes to ``result``."""
    a, b = pair.left, pair.right
    key = _pair_key(pair)
    hide = rules.for_key(key) if rules else ItemIgnore(False, [])
    if hide.whole_item and (a is None or b is None):
        result.ignored += 1
        return
    sev = severity_of_key(key)
    if a is None and b is not None:
        result.added += 1
        result.changes.append(Change(key, ChangeOp.ADDED, "", sev, None, clip_value(b.body), display_name(b.body)))
        return
    if b is None and a is not None:
        result.removed += 1
        result.changes.append(Change(key, ChangeOp.REMOVED, "", sev, clip_value(a.body), None, display_name(a.body)))
        return
    assert a is not None and b is not None
    if pair.how in ("similar", "pinned") and a.key != b.key:
        result.renames.append(
            {
                "kind": a.kind,
                "left": a.key,
                "right": b.key,
                "how": pair.how,
                "similarity": round(pair.similarity, 3),
            }
        )
    left_body = _translated(a, renamed) if a.kind in referring else a.body
    if maps and maps.touches(orjson.dumps(left_body), needles):
        left_body = maps.apply(left_body)
        reorder(a.kind, left_body)
    if left_body == b.body:  # the common case, decided without serialising either body
        result.equal += 1
        return
    old, new = (
        orjson.dumps(left_body, option=orjson.OPT_SORT_KEYS),
        orjson.dumps(b.body, option=orjson.OPT_SORT_KEYS),
    )
    if old == new:
        result.equal += 1
        return
    if hide.whole_item:
        result.ignored += 1
        return
    kept = 0
    for op, path, o, n in diff_items(key, old, new):
        if hide.paths and hide.hides(path):
            result.ignored += 1
            continue
        result.changes.append(Change(key, op, path, sev, clip_value(o), clip_value(n), display_name(b.body)))
        kept += 1
    if kept:
        result.changed += 1
    else:
        result.equal += 1


def compare_sites(
    left: NaturalIndex,
    right: NaturalIndex,
    *,
    left_name: str = "left",
    right_name: str = "right",
    ignore: Sequence[str] = (),
    mappings: ValueMappings | None = None,
    pins: Sequence[Pin] = (),
    kinds: Iterable[str] | None = None,
) -> Comparison:
    """What differs between two sites' configurations (left: the reference, e.g. production).

    :func:`annotate_comparison` then adds what each change affects.
    """
    result = Comparison(left_name, right_name, unresolved=(left.unresolved, right.unresolved))
    rules = IgnoreRules(ignore)
    maps = mappings or ValueMappings()
    needles = maps.needles()
    result.pairs = match(left, right, pins, kinds)
    result.pairs.sort(key=_pair_key)
    # What the left calls by its old name, the right calls by the new one: references follow renames.
    renamed = {
        (p.left.kind, p.left.key): p.right.key for p in result.pairs if p.left and p.right and p.left.key != p.right.key
    }
    referring = _referring_kinds(renamed)
    for pair in result.pairs:
        before = len(result.changes)
        _compare_pair(result, pair, rules, maps, renamed, needles, referring)
        item, side = (pair.left, 0) if pair.left else (pair.right, 1)
        if item is not None:
            result.sources.extend([(side, f"{item.kind}/{item.ident}")] * (len(result.changes) - before))
    wanted = set(kinds) if kinds is not None else None
    for name in sorted(left.duplicates.keys() | right.duplicates.keys()):
        if wanted is None or name.split("/", 1)[0] in wanted:
            result.duplicates.append(
                {"name": name, "left": left.duplicates.get(name, 1), "right": right.duplicates.get(name, 1)}
            )
    return result


def annotate_comparison(
    result: Comparison, radii: tuple[BlastRadius, BlastRadius], reach: ReachRule | None = None
) -> Comparison:
    """Every change with the projects it affects on the left site (the right one for an addition),
    severity raised by ``reach``."""
    changes = []
    for change, (side, item_key) in zip(result.changes, result.sources, strict=True):
        [annotated] = annotate([change], radii[side], reach, item_key)
        changes.append(annotated)
    result.changes = changes
    return result
