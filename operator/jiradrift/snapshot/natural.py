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
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

Json = dict[str, Any]
SEGMENT = re.compile(r"\[\*\]|\{\*\}|\{key\}|[^.\[{]+")
DUPLICATE_MARK = "#"
UNRESOLVED_MARK = "?"
#: Values that are not ids although they sit where ids do.
LITERALS = frozenset({"default"})


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


def walk(obj: Any, segs: list[str]) -> Iterator[tuple[Any, Any]]:
    """Every (container, slot) the path reaches: a dict and a key, a list and an index."""
    if not segs:
        return
    head, rest = segs[0], segs[1:]
    if head == "[*]":
        if isinstance(obj, list):
            for i in range(len(obj)):
                yield from (((obj, i),) if not rest else walk(obj[i], rest))
    elif head == "{*}":
        if isinstance(obj, dict):
            for k in list(obj):
                yield from (((obj, k),) if not rest else walk(obj[k], rest))
    elif isinstance(obj, dict) and head in obj:
        if not rest:
            yield (obj, head)
        else:
            yield from walk(obj[head], rest)


def _drop(body: Json, path: str) -> None:
    for container, slot in list(walk(body, segments(path))):
        if isinstance(container, dict):
            container.pop(slot, None)


def _sort_key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _resort(body: Json, path: str) -> None:
    segs = segments(path)
    for container, slot in list(walk(body, segs)):
        value = container[slot]
        if isinstance(value, list):
            container[slot] = _sorted_list(value)


def _sorted_list(items: list[Any]) -> list[Any]:
    """Ordered by a unique string ``id`` when every element has one (cheap on thousands of field
    configuration items), else by each element's canonical JSON."""
    try:
        by_id = {e["id"]: e for e in items}
    except (KeyError, TypeError):
        by_id = {}
    if by_id and len(by_id) == len(items) and all(type(i) is str for i in by_id):
        return [by_id[i] for i in sorted(by_id)]
    return sorted(items, key=_sort_key)


def references(kind: str, body: Json) -> Iterator[tuple[Ref, str]]:
    """Every (rule, referenced id) in an unresolved body."""
    rule = RULES.get(kind)
    if rule is None:
        return
    for ref in rule.refs:
        segs = segments(ref.path)
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
        for phase in (False, True):
            kinds = [k for k in sorted(raw) if (k in RULES and RULES[k].parent is not None) == phase]
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
            for kind in kinds:
                groups: dict[str, list[str]] = defaultdict(list)
                for ident in raw[kind]:
                    groups[base[(kind, ident)]].append(ident)
                for key, idents in groups.items():
                    if len(idents) < 2:
                        continue
                    index.duplicates[f"{kind}/{key}"] = len(idents)
                    ranked = sorted(idents, key=lambda i: (_fingerprint(index._resolve(kind, raw[kind][i])[0]), i))
                    for n, ident in enumerate(ranked, start=1):
                        final[(kind, ident)] = tables[kind][ident] = f"{key}{DUPLICATE_MARK}{n}"
        index.key_of = final
        for kind, bodies in raw.items():
            for ident, body in bodies.items():
                resolved, missing = index._resolve(kind, body, copy=not in_place)
                index.unresolved += missing
                key = final[(kind, ident)]
                dup = int(key.rsplit(DUPLICATE_MARK, 1)[1]) if key != base[(kind, ident)] else 0
                item = NaturalItem(kind, ident, key, resolved, dup)
                index.items[item.natural_key] = item
        return index

    def _resolve(self, kind: str, body: Json, copy: bool = True) -> tuple[Json, int]:
        """``body`` with its own ids dropped and references replaced by natural keys (a copy).

        A reference to something the site's snapshots do not hold (a team-managed object) becomes
        ``?<kind>``: it names nothing comparable, and its id would differ on every site.
        """
        out: Json = orjson.loads(orjson.dumps(body)) if copy else body
        rule = RULES.get(kind)
        if rule is None:
            return out, 0
        missing = 0

        def resolve(target: str, value: str) -> str:
            nonlocal missing
            found = self.key_of.get((target, value))
            if found is None:
                missing += 1
                return UNRESOLVED_MARK + target
            return found

        rewrite_refs(kind, out, resolve, self._tables.get if self._tables is not None else None)
        if rule.fixup:
            rule.fixup(out)
        for path in rule.drop:
            _drop(out, path)
        reorder(kind, out)
        return out, missing


def reorder(kind: str, body: Json) -> None:
    """Sort, in place, the lists of ``body`` whose order only followed ids (after a rewrite, too)."""
    rule = RULES.get(kind)
    for path in rule.unordered if rule else ():
        _resort(body, path)


def rewrite_refs(
    kind: str,
    body: Json,
    rewrite: Callable[[str, str], str],
    tables: Callable[[str], dict[str, str] | None] | None = None,
) -> None:
    """Replace, in place, every reference of ``body`` by ``rewrite(target kind, value)``.

    ``tables``: the rewrite of most values of a target kind as a dict (tried first, in the big flat
    lists: thousands of field configuration items); ``rewrite`` answers what it does not hold."""
    rule = RULES.get(kind)
    if rule is None:
        return
    for ref in rule.refs:
        segs = segments(ref.path)
        if segs[-1] == "{key}":
            for container, slot in list(walk(body, segs[:-1])):
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
            slot = segs[2]
            if all(type(e) is dict for e in elements):
                # Looked up in bulk (comprehensions): field configurations hold one element per field.
                found = [table.get(e.get(slot)) if type(e.get(slot)) is str else None for e in elements]
                for element, new in zip(elements, found, strict=True):
                    if new is not None and element[slot] not in LITERALS:
                        element[slot] = new
                    else:
                        _rewrite_one(element, slot, ref.target, rewrite)
                continue
            for element in elements:
                if isinstance(element, dict):
                    _rewrite_one(element, slot, ref.target, rewrite)
            continue
        for container, slot in list(walk(body, segs)):
            if ref.when and isinstance(container, dict) and str(container.get(ref.when[0])) != ref.when[1]:
                continue
            value = container[slot]
            if value is None or isinstance(value, dict | list) or str(value) in LITERALS:
                continue
            container[slot] = rewrite(ref.target, str(value))


def _rewrite_one(element: Json, slot: str, target: str, rewrite: Callable[[str, str], str]) -> None:
    value = element.get(slot)
    if value is not None and not isinstance(value, dict | list) and str(value) not in LITERALS:
        element[slot] = rewrite(target, str(value))


def _fingerprint(body: Json) -> str:
    content = {k: v for k, v in body.items() if k != "name"}
    return hashlib.sha256(_sort_key(content)).hexdigest()
