"""Natural keys: what an item is called on *any* site, and its body with references resolved.

Within a site items are keyed by Jira's ids (``workflow/<uuid>``, ``status/10003``); those differ
between two sites configured alike (production and its sandbox). Across sites every kind has a
natural key (a workflow's name, a field context's field name and context name, a project's key),
and every reference inside a body (a workflow's status ids, a project's scheme ids, a screen's
field ids) is replaced by the natural key of what it names, so two sites configured alike give
equal resolved bodies although every id differs.

    index = NaturalIndex.build(items)        # items: (item key, body) of one site, every type
    index.items["workflow/Software Workflow"].body

The rules are one table, :data:`RULES`: per kind, how its key is formed, which fields are the
site's own ids (dropped), which fields reference which kind (resolved), and which lists have an
order that only followed ids (sorted again after resolving). Duplicate names (Jira allows some)
get ``#2``, ``#3`` ... in an order fixed by content, so the same duplicates get the same suffixes on
two sites; nothing is dropped. A reference that names nothing on its site resolves to ``?<id>``.

The same table drives the blast radius (:mod:`jiradrift.snapshot.blast`): ``uses`` references say
that a change to the referenced object reaches whoever uses it.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

Json = dict[str, Any]
SEGMENT = re.compile(r"\[\*\]|\{\*\}|\{key\}|[^.\[{]+")
DUPLICATE_MARK = "#"
UNRESOLVED_MARK = "?"
#: Values that are not ids although they sit where ids do.
LITERALS = frozenset({"default"})
_ID = operator.itemgetter("id")
_MISSING: Any = object()
Watch = dict[str, set[str] | None]


class ListMemo:
    """The order of the big flat lists of one index build, worked out once per distinct list.

    A site's field configurations each hold one element per field (thousands), mostly the same
    fields: their order after resolving is computed once per distinct id list instead of once per
    configuration. Lists shorter than :attr:`MIN` are not kept.
    """

    MIN = 64
    MAX_LISTS = 64  # a bound on what one build keeps

    def __init__(self) -> None:
        self.orders: dict[tuple[Any, ...], tuple[int, ...] | None] = {}


@dataclass(frozen=True)
class Ref:
    """``path`` holds the id of a ``target`` item (only where the sibling ``when`` = value holds).

    ``uses``: the object holding the reference uses the target (a change to the target reaches it);
    ``applies``: the holder applies to the target (a field context to its projects).
    """

    path: str
    target: str
    when: tuple[str, str] | None = None
    relation: str = "uses"


@dataclass(frozen=True)
class Rule:
    """How one kind is keyed and resolved."""

    key: Callable[[Json], str]
    refs: tuple[Ref, ...] = ()
    drop: tuple[str, ...] = ("id",)  # the site's own ids (and what is derived from them)
    unordered: tuple[str, ...] = ()  # lists sorted by id on capture: sorted again after resolving
    fixup: Callable[[Json], None] | None = None  # child ids local to the body (options, levels)
    parent: tuple[str, str] | None = None  # (field, kind): the key is "<parent key>/<own key>"


def _name(body: Json) -> str:
    return str(body.get("name") or body.get("id") or "")


def _field(body: Json) -> str:
    # System fields have the same id on every site; custom fields are known by name.
    return _name(body) if body.get("custom") else str(body.get("id"))


def _attr(name: str) -> Callable[[Json], str]:
    return lambda body: str(body.get(name) or "")


def _global(_: Json) -> str:
    return "global"


def _field_fixup(body: Json) -> None:
    if body.get("custom"):
        body.pop("id", None)  # customfield_NNNNN: allocated per site
    if isinstance(body.get("clauseNames"), list):
        body["clauseNames"] = [c for c in body["clauseNames"] if not str(c).startswith("cf[")]
    schema = body.get("schema")
    if isinstance(schema, dict):
        schema.pop("customId", None)


def _options_fixup(body: Json) -> None:
    """Options are known by value within their context (a child by its parent's value too)."""
    options = body.get("options")
    if not isinstance(options, list):
        return
    value_of = {str(o.get("id")): str(o.get("value")) for o in options if isinstance(o, dict)}
    for option in options:
        if isinstance(option, dict):
            option.pop("id", None)
            if "optionId" in option:
                option["optionId"] = value_of.get(str(option["optionId"]), UNRESOLVED_MARK)
    default = body.get("defaultValue")
    if isinstance(default, dict):
        if "optionId" in default:
            default["optionId"] = value_of.get(str(default["optionId"]), UNRESOLVED_MARK)
        if isinstance(default.get("optionIds"), list):
            default["optionIds"] = sorted(value_of.get(str(i), UNRESOLVED_MARK) for i in default["optionIds"])
        if "cascadingOptionId" in default:
            cid = str(default["cascadingOptionId"])
            default["cascadingOptionId"] = value_of.get(cid, UNRESOLVED_MARK)


def _levels_fixup(body: Json) -> None:
    """Security levels are known by name within their scheme."""
    found = body.get("levels")
    levels: list[Any] = found if isinstance(found, list) else []
    name_of = {str(lv.get("id")): str(lv.get("name")) for lv in levels if isinstance(lv, dict)}
    for level in levels:
        if isinstance(level, dict):
            level.pop("id", None)
            level.pop("issueSecuritySchemeId", None)
    if "defaultSecurityLevelId" in body:
        did = str(body["defaultSecurityLevelId"])
        body["defaultSecurityLevelId"] = name_of.get(did, UNRESOLVED_MARK)
    for member in body.get("members") or []:
        if isinstance(member, dict) and "levelId" in member:
            member["levelId"] = name_of.get(str(member["levelId"]), UNRESOLVED_MARK)


_ROLE_HOLDER = ("type", "projectRole")
_SCOPE = Ref("scope.project.id", "project", relation="applies")

RULES: dict[str, Rule] = {
    "configuration": Rule(_global, drop=()),
    "timetracking": Rule(_global, drop=()),
    "application-property": Rule(_attr("id"), drop=()),
    "application-role": Rule(_attr("key"), drop=()),
    "permission-key": Rule(_attr("key"), drop=()),
    "issue-event": Rule(_name),
    "field": Rule(_field, drop=("key",), fixup=_field_fixup),  # system fields keep their id
    "field-context": Rule(
        _name,
        refs=(
            Ref("fieldId", "field"),
            Ref("issueTypeIds[*]", "issuetype", relation="applies"),
            Ref("projectIds[*]", "project", relation="applies"),
        ),
        unordered=("issueTypeIds", "projectIds"),
        fixup=_options_fixup,
        parent=("fieldId", "field"),
    ),
    "issuetype": Rule(_name, drop=("id", "entityId"), refs=(_SCOPE,)),
    "issuetype-scheme": Rule(
        _name, refs=(Ref("mappings[*].issueTypeId", "issuetype"), Ref("defaultIssueTypeId", "issuetype"))
    ),
    "issuetype-screen-scheme": Rule(
        _name,
        refs=(Ref("mappings[*].issueTypeId", "issuetype"), Ref("mappings[*].screenSchemeId", "screen-scheme")),
        unordered=("mappings",),
    ),
    "screen-scheme": Rule(_name, refs=(Ref("screens{*}", "screen"),)),
    "screen": Rule(_name, drop=("id", "tabs[*].id"), refs=(Ref("tabs[*].fields[*].id", "field"), _SCOPE)),
    "field-configuration": Rule(_name, refs=(Ref("items[*].id", "field"),), unordered=("items",)),
    "field-configuration-scheme": Rule(
        _name,
        refs=(
            Ref("mappings[*].fieldConfigurationId", "field-configuration"),
            Ref("mappings[*].issueTypeId", "issuetype"),
        ),
        unordered=("mappings",),
    ),
    "status": Rule(_name, refs=(_SCOPE,)),
    "status-category": Rule(_attr("key")),
    "workflow": Rule(
        _name,
        refs=(
            Ref("statuses[*].statusReference", "status"),
            Ref("transitions[*].toStatusReference", "status"),
            Ref("transitions[*].links[*].fromStatusReference", "status"),
            _SCOPE,
        ),
    ),
    "workflow-scheme": Rule(
        _name,
        drop=("id", "defaultWorkflow.name", "workflowsForIssueTypes[*].workflow.name"),
        refs=(
            Ref("defaultWorkflow.id", "workflow"),
            Ref("workflowsForIssueTypes[*].workflow.id", "workflow"),
            Ref("workflowsForIssueTypes[*].issueTypeIds[*]", "issuetype"),
        ),
        unordered=("workflowsForIssueTypes", "workflowsForIssueTypes[*].issueTypeIds"),
    ),
    "priority": Rule(_name),
    "priority-scheme": Rule(
        _name,
        refs=(
            Ref("defaultPriorityId", "priority"),
            Ref("priorityIds[*]", "priority"),
            Ref("projectIds[*]", "project", relation="applies"),
        ),
        unordered=("projectIds",),
    ),
    "resolution": Rule(_name),
    "issue-link-type": Rule(_name),
    "permission-scheme": Rule(
        _name,
        refs=(Ref("permissions[*].holder.parameter", "project-role", when=_ROLE_HOLDER), _SCOPE),
        unordered=("permissions",),
    ),
    "notification-scheme": Rule(
        _name,
        refs=(
            Ref("notificationSchemeEvents[*].event.id", "issue-event"),
            Ref(
                "notificationSchemeEvents[*].notifications[*].parameter",
                "project-role",
                ("notificationType", "ProjectRole"),
            ),
            Ref(
                "notificationSchemeEvents[*].notifications[*].recipient",
                "project-role",
                ("notificationType", "ProjectRole"),
            ),
        ),
        unordered=("notificationSchemeEvents",),
    ),
    "issue-security-scheme": Rule(
        _name,
        refs=(Ref("members[*].holder.parameter", "project-role", when=_ROLE_HOLDER),),
        unordered=("levels", "members"),
        fixup=_levels_fixup,
    ),
    "project": Rule(
        _attr("key"),
        drop=("id", "projectCategory.id", "components[*].id", "roles{*}[*].groupId"),
        refs=(
            Ref("issueTypeIds[*]", "issuetype"),
            Ref("schemes.issueTypeScheme", "issuetype-scheme"),
            Ref("schemes.issueTypeScreenScheme", "issuetype-screen-scheme"),
            Ref("schemes.fieldConfigurationScheme", "field-configuration-scheme"),
            Ref("schemes.workflowScheme", "workflow-scheme"),
            Ref("schemes.notificationScheme", "notification-scheme"),
            Ref("schemes.issueSecurityScheme", "issue-security-scheme"),
            Ref("schemes.permissionScheme", "permission-scheme"),
            Ref("roles{key}", "project-role"),
        ),
        unordered=("issueTypeIds", "components", "roles{*}"),
    ),
    "project-role": Rule(_name, drop=("id", "actors[*].groupId"), unordered=("actors",)),
    "project-category": Rule(_name),
}


# ---------------------------------------------------------------------------- paths


@functools.cache
def _segments(path: str) -> tuple[str, ...]:
    return tuple(SEGMENT.findall(path))


def segments(path: str) -> list[str]:
    return list(_segments(path))


def walk(obj: Any, segs: Sequence[str]) -> list[tuple[Any, Any]]:
    """Every (container, slot) the path reaches: a dict and a key, a list and an index (in
    document order; level by level, without a generator per step)."""
    if not segs:
        return []
    nodes: list[Any] = [obj]
    last = len(segs) - 1
    for depth, head in enumerate(segs):
        out: list[Any] = []
        for node in nodes:
            if head == "[*]":
                if isinstance(node, list):
                    out.extend([(node, i) for i in range(len(node))] if depth == last else node)
            elif head == "{*}":
                if isinstance(node, dict):
                    out.extend([(node, k) for k in node] if depth == last else list(node.values()))
            elif isinstance(node, dict) and head in node:
                out.append((node, head) if depth == last else node[head])
        nodes = out
    return nodes


def _drop(body: Json, path: str) -> None:
    segs = _segments(path)
    if len(segs) == 1 and segs[0][0] not in "[{":  # a key of the body itself (``id``): no walk
        body.pop(segs[0], None)
        return
    for container, slot in walk(body, segs):
        if isinstance(container, dict):
            container.pop(slot, None)


def _sort_key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _resort(body: Json, path: str, memo: ListMemo | None = None) -> None:
    for container, slot in walk(body, _segments(path)):
        value = container[slot]
        if isinstance(value, list):
            container[slot] = _sorted_list(value, memo)


def _sorted_list(items: list[Any], memo: ListMemo | None = None) -> list[Any]:
    """Ordered by a unique string ``id`` when every element has one (cheap on thousands of field
    configuration items, cheaper again when ``memo`` has seen the same ids), else by each
    element's canonical JSON."""
    try:
        ids = list(map(_ID, items))
        if memo is not None and len(ids) >= ListMemo.MIN:
            key = tuple(ids)
            order = memo.orders.get(key, _MISSING)
            if order is _MISSING:
                order = _order(ids)
                if len(memo.orders) < ListMemo.MAX_LISTS:
                    memo.orders[key] = order
            return sorted(items, key=_sort_key) if order is None else list(map(items.__getitem__, order))
        by_id = dict(zip(ids, items, strict=True))
    except (KeyError, TypeError):  # an element without an id, not a dict, or an id not hashable
        return sorted(items, key=_sort_key)
    if by_id and len(by_id) == len(items) and set(map(type, ids)) == {str}:
        return list(map(by_id.__getitem__, sorted(ids)))
    return sorted(items, key=_sort_key)


def _order(ids: list[Any]) -> tuple[int, ...] | None:
    """The positions of ``ids`` in sorted order, or None unless they are unique strings."""
    if len(set(ids)) != len(ids) or set(map(type, ids)) != {str}:
        return None
    return tuple(sorted(range(len(ids)), key=ids.__getitem__))


def references(kind: str, body: Json) -> Iterator[tuple[Ref, str]]:
    """Every (rule, referenced id) in an unresolved body."""
    rule = RULES.get(kind)
    if rule is None:
        return
    for ref in rule.refs:
        segs = _segments(ref.path)
        if segs[-1] == "{key}":
            for container, slot in walk(body, segs[:-1]):
                value = container[slot]
                if isinstance(value, dict):
                    for k in value:
                        yield ref, str(k)
            continue
        for container, slot in walk(body, segs):
            if ref.when and isinstance(container, dict) and str(container.get(ref.when[0])) != ref.when[1]:
                continue
            value = container[slot]
            if value is not None and not isinstance(value, dict | list):
                yield ref, str(value)


# ---------------------------------------------------------------------------- the index


@dataclass
class NaturalItem:
    """One item of one site under its natural key, its body resolved."""

    kind: str
    ident: str  # Jira's id on its site (the item key without the kind)
    key: str  # natural key within the kind
    body: Json
    duplicate: int = 0  # 0: the name is unique; n >= 1: the n-th of its duplicates

    @property
    def natural_key(self) -> str:
        return f"{self.kind}/{self.key}"


@dataclass
class NaturalIndex:
    """A site's items by natural key, and the natural key of every (kind, id)."""

    items: dict[str, NaturalItem] = field(default_factory=dict)
    key_of: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, id) -> natural key in kind
    duplicates: dict[str, int] = field(default_factory=dict)  # "kind/name" -> count, names used twice or more
    unresolved: int = 0  # references that named nothing on the site
    _tables: dict[str, dict[str, str]] | None = field(default=None, repr=False)  # kind -> id -> key, once final
    _memo: ListMemo = field(default_factory=ListMemo, repr=False)

    @classmethod
    def build(cls, items: Iterable[tuple[str, Json]], *, in_place: bool = False) -> NaturalIndex:
        """The index of one site's items. ``in_place``: resolve the given bodies themselves instead of
        copies (faster for a caller that no longer needs them as captured)."""
        raw: dict[str, dict[str, Json]] = defaultdict(dict)
        for item_key, body in items:
            kind, _, ident = item_key.partition("/")
            raw[kind][ident] = body
        index = cls()
        base: dict[tuple[str, str], str] = {}
        final: dict[tuple[str, str], str] = {}
        tables: dict[str, dict[str, str]] = defaultdict(dict)  # final, by kind (what resolving looks up)
        index._tables = tables
        # Parents first: a child's key starts with its parent's final key (duplicates numbered).
        phases = [[k for k in sorted(raw) if (k in RULES and RULES[k].parent is not None) == p] for p in (False, True)]
        # What may still change while duplicates are ranked: a body resolved for its rank that names
        # none of it is resolved for good (kept, not resolved a second time).
        pending: Watch = {kind: None for kind in phases[1]}
        ready: dict[tuple[str, str], tuple[Json, int]] = {}
        for kinds in phases:
            for kind in kinds:
                rule = RULES.get(kind)
                for ident, body in raw[kind].items():
                    own = rule.key(body) if rule else ident
                    if rule and rule.parent:
                        pid = str(body.get(rule.parent[0]))
                        own = f"{final.get((rule.parent[1], pid), UNRESOLVED_MARK + pid)}/{own}"
                    base[(kind, ident)] = final[(kind, ident)] = tables[kind][ident] = own
            # Duplicates are numbered in the order of their resolved content, the same on any site.
            index.key_of = final
            groups: dict[str, dict[str, list[str]]] = {}
            for kind in kinds:
                groups[kind] = defaultdict(list)
                for ident in raw[kind]:
                    groups[kind][base[(kind, ident)]].append(ident)
                pending[kind] = {i for idents in groups[kind].values() if len(idents) > 1 for i in idents}
            for kind in kinds:
                for key, idents in groups[kind].items():
                    if len(idents) < 2:
                        continue
                    index.duplicates[f"{kind}/{key}"] = len(idents)
                    # Naming nothing that may change, the bodies are resolved for good: in place if allowed.
                    sure = not any(pending.get(t, set()) != set() for t in targets_of(kind))
                    copy = not (sure and in_place)
                    resolved = {i: index._resolve(kind, raw[kind][i], copy, watch=pending) for i in idents}
                    ranked = sorted(idents, key=lambda i: (_fingerprint(resolved[i][0]), i))
                    for n, ident in enumerate(ranked, start=1):
                        final[(kind, ident)] = tables[kind][ident] = f"{key}{DUPLICATE_MARK}{n}"
                        ready.update(((kind, i), (b, m)) for i, (b, m, clean) in resolved.items() if clean)
                pending[kind] = set()
        index.key_of = final
        for kind, bodies in raw.items():
            for ident, body in bodies.items():
                found = ready.get((kind, ident))
                resolved, missing = found if found is not None else index._resolve(kind, body, copy=not in_place)[:2]
                index.unresolved += missing
                key = final[(kind, ident)]
                dup = int(key.rsplit(DUPLICATE_MARK, 1)[1]) if key != base[(kind, ident)] else 0
                item = NaturalItem(kind, ident, key, resolved, dup)
                index.items[item.natural_key] = item
        index._memo = ListMemo()  # what the build needed, not what the index keeps
        return index

    def _resolve(self, kind: str, body: Json, copy: bool = True, watch: Watch | None = None) -> tuple[Json, int, bool]:
        """``body`` with its own ids dropped and references replaced by natural keys (a copy), the
        count of references that named nothing, and whether it names nothing ``watch`` holds
        (target kind -> ids whose key may still change; None: every id of that kind).

        A reference to something the site's snapshots do not hold (a team-managed object) becomes
        ``?<kind>``: it names nothing comparable, and its id would differ on every site.
        """
        out: Json = orjson.loads(orjson.dumps(body)) if copy else body
        rule = RULES.get(kind)
        if rule is None:
            return out, 0, True
        missing = 0
        clean = True

        def resolve(target: str, value: str) -> str:
            nonlocal missing, clean
            if watch is not None and target in watch:
                ids = watch[target]
                if ids is None or value in ids:
                    clean = False
            found = self.key_of.get((target, value))
            if found is None:
                missing += 1
                return UNRESOLVED_MARK + target
            return found

        def table(target: str) -> dict[str, str] | None:
            # a target with ids still to watch is looked up one value at a time, through resolve()
            if self._tables is None or (watch is not None and target in watch and watch[target] != set()):
                return None
            return self._tables.get(target)

        rewrite_refs(kind, out, resolve, table, self._memo)
        if rule.fixup:
            rule.fixup(out)
        for path in rule.drop:
            _drop(out, path)
        reorder(kind, out, self._memo)
        return out, missing, clean


@functools.cache
def targets_of(kind: str) -> frozenset[str]:
    """The kinds ``kind``'s bodies reference."""
    rule = RULES.get(kind)
    return frozenset(ref.target for ref in rule.refs) if rule else frozenset()


def reorder(kind: str, body: Json, memo: ListMemo | None = None) -> None:
    """Sort, in place, the lists of ``body`` whose order only followed ids (after a rewrite, too)."""
    rule = RULES.get(kind)
    for path in rule.unordered if rule else ():
        _resort(body, path, memo)


def rewrite_refs(
    kind: str,
    body: Json,
    rewrite: Callable[[str, str], str],
    tables: Callable[[str], dict[str, str] | None] | None = None,
    memo: ListMemo | None = None,
) -> None:
    """Replace, in place, every reference of ``body`` by ``rewrite(target kind, value)``.

    ``tables``: the rewrite of most values of a target kind as a dict (tried first, in the big flat
    lists: thousands of field configuration items); ``rewrite`` answers what it does not hold."""
    rule = RULES.get(kind)
    if rule is None:
        return
    for ref in rule.refs:
        segs = _segments(ref.path)
        if segs[-1] == "{key}":
            for container, slot in walk(body, segs[:-1]):
                value = container[slot]
                if isinstance(value, dict):
                    container[slot] = dict(sorted((rewrite(ref.target, str(k)), v) for k, v in value.items()))
            continue
        if len(segs) == 3 and segs[1] == "[*]" and ref.when is None and "{" not in segs[0] + segs[2]:
            # The common big case (``items[*].id``): a flat loop, no generator per element.
            elements = body.get(segs[0])
            if not isinstance(elements, list):
                continue
            table = (tables(ref.target) if tables is not None else None) or {}
            _rewrite_flat(elements, segs[2], ref.target, rewrite, table)
            continue
        for container, slot in walk(body, segs):
            if ref.when and isinstance(container, dict) and str(container.get(ref.when[0])) != ref.when[1]:
                continue
            value = container[slot]
            if value is None or isinstance(value, dict | list) or str(value) in LITERALS:
                continue
            container[slot] = rewrite(ref.target, str(value))


def _rewrite_flat(
    elements: list[Any], slot: str, target: str, rewrite: Callable[[str, str], str], table: dict[str, str]
) -> None:
    """``elements[*].<slot>`` rewritten: looked up in ``table`` in bulk (C loops via ``map``: field
    configurations hold one element per field, thousands each), ``rewrite`` for what it lacks."""
    found: list[str | None]
    try:
        try:
            values = list(map(operator.itemgetter(slot), elements))
        except KeyError:
            values = list(map(operator.methodcaller("get", slot), elements))
        found = list(map(table.get, values))
    except (AttributeError, TypeError):  # an element that is not a dict, a value that is not hashable
        found = [None] * len(elements)
    literal = any(map(table.__contains__, LITERALS))  # a table naming "default" must not rewrite it
    if not literal and None not in found:  # every element a dict with a value the table knows
        for element, new in zip(elements, found, strict=True):
            element[slot] = new
        return
    for element, new in zip(elements, found, strict=True):
        if new is not None and not (literal and element[slot] in LITERALS):
            element[slot] = new
        elif isinstance(element, dict):
            _rewrite_one(element, slot, target, rewrite)


def _rewrite_one(element: Json, slot: str, target: str, rewrite: Callable[[str, str], str]) -> None:
    value = element.get(slot)
    if value is not None and not isinstance(value, dict | list) and str(value) not in LITERALS:
        element[slot] = rewrite(target, str(value))


def _fingerprint(body: Json) -> str:
    content = {k: v for k, v in body.items() if k != "name"}
    return hashlib.sha256(_sort_key(content)).hexdigest()
