"""A drift report: what changed between two snapshots, as path-level changes with severities.

``diff_manifests`` (in ``jiradrift.snapshot.diff``) builds one; stores persist it next to the newer
snapshot so the drift listing can page through changes without recomputing them.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from jiradrift.model.kinds import Severity

#: A value longer than this (as JSON) is clipped when a change is built, so one huge description
#: cannot blow up a persisted report; the clipped value is a string ending in ``CLIP_MARK``.
MAX_VALUE_CHARS = 1024
CLIP_MARK = "…[clipped]"


class ChangeOp(StrEnum):
    """What happened at a path.

    - ``added`` / ``removed``: a whole item (empty path) or a field / list element appeared or vanished.
    - ``modified``: a value at a path differs (for a reordered list matched by id: the list path,
      with old and new as the ordered ids).
    - ``renamed``: the item's own top-level ``name`` changed. It *replaces* the ``modified`` change
      for path ``name``; other changes to the same item are still reported as ``modified``.
    """

    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    RENAMED = "renamed"


def clip_value(value: Any) -> Any:
    """Return ``value`` unchanged when it is small, else a clipped JSON rendering of it."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + CLIP_MARK
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + CLIP_MARK


def display_value(value: Any, width: int = 60) -> str:
    """A one-line rendering for tables: JSON, cut to ``width`` characters with an ellipsis."""
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


@dataclass(frozen=True, slots=True)
class Change:
    """One path-level change of one item.

    ``path`` is empty for a whole item, else dotted keys with list elements named by what they are,
    e.g. ``transitions[id=3].name`` or ``permissions[permission=BROWSE_PROJECTS,holder.type=anyone]``
    (lists of plain values: the index in the new list; in the old list for ``removed``).
    ``old`` is None for ``added``; ``new`` is None for ``removed``.
    """

    key: str
    op: ChangeOp
    path: str
    severity: Severity
    old: Any = None
    new: Any = None
    name: str | None = None  # the item's display name (its ``name``, else ``value``/``key``), for people
    affects: int | None = None  # how many projects the change reaches (None: not computed)
    affects_first: tuple[str, ...] = ()  # the first of their keys (jiradrift.snapshot.blast)

    @property
    def kind(self) -> str:
        return self.key.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        data = {
            "key": self.key,
            "kind": self.kind,
            "op": self.op.value,
            "path": self.path,
            "severity": self.severity.value,
            "old": self.old,
            "new": self.new,
            "name": self.name,
        }
        if self.affects is not None:
            data["affects"] = {"count": self.affects, "first": list(self.affects_first)}
        return data

    def affects_text(self) -> str:
        """``3: ABC, DEF, GHI`` (``+N`` for keys not listed), ``—`` for none, ``?`` when not computed."""
        if self.affects is None:
            return "?"
        if not self.affects:
            return "—"
        more = f" +{self.affects - len(self.affects_first)}" if self.affects > len(self.affects_first) else ""
        return f"{self.affects}: {', '.join(self.affects_first)}{more}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(
            key=data["key"],
            op=ChangeOp(data["op"]),
            path=data["path"],
            severity=Severity(data["severity"]),
            old=data.get("old"),
            new=data.get("new"),
            name=data.get("name"),
            affects=(data.get("affects") or {}).get("count"),
            affects_first=tuple((data.get("affects") or {}).get("first") or ()),
        )


@dataclass(frozen=True, slots=True)
class DriftAuthor:
    """A Jira user the audit log attributes some of a report's changes to (the history's commit
    authors: ``jiradrift.history.message.people``). ``email`` is empty where Jira hides it."""

    account_id: str
    display_name: str = ""
    email: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"account_id": self.account_id, "display_name": self.display_name, "email": self.email}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftAuthor:
        return cls(str(data.get("account_id") or ""), str(data.get("display_name") or ""), str(data.get("email") or ""))


def ranked_authors(
    attributed: Iterable[str], names: Mapping[str, str] | None = None, emails: Mapping[str, str] | None = None
) -> list[DriftAuthor]:
    """The authors of a report, the one with the most attributed changes first (ties by id).

    ``attributed``: the account id behind each attributed change (one per change; empty ids are
    skipped); ``names``: account id -> display name, where known; ``emails``: account id -> the
    address Jira shows (absent when hidden).
    """
    counts = Counter(a for a in attributed if a)
    ranked = sorted(counts, key=lambda a: (-counts[a], a))
    names, emails = names or {}, emails or {}
    return [DriftAuthor(a, names.get(a, ""), emails.get(a, "")) for a in ranked]


@dataclass(slots=True)
class DriftReport:
    """The drift of snapshot ``new_snapshot`` against ``old_snapshot`` (None: no baseline).

    ``added``, ``removed`` and ``changed`` count *items*; ``changes`` lists path-level changes
    sorted by item key, then in document order within an item. ``ignored`` counts changes dropped
    by ignore rules. ``unknown`` counts, by kind, items that could not be compared because one side
    could not read them (an ``Incomplete`` snapshot); ``unreadable`` counts, by kind, failed reads
    (a listing, or the children of one parent) whose number of items is itself unknown. A report with
    unknowns and no changes says "nothing changed that we could see", never "nothing changed".
    ``authors``: who the audit log says made the changes (:func:`ranked_authors`), kept with the
    report so every reader of the store (a git history export, an operator after a restart) has them.
    """

    tenant: str
    type: str
    new_snapshot: str
    old_snapshot: str | None
    added: int = 0
    removed: int = 0
    changed: int = 0
    ignored: int = 0
    changes: list[Change] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    authors: list[DriftAuthor] = field(default_factory=list)

    @property
    def unknown_count(self) -> int:
        return sum(self.unknown.values())

    @property
    def complete(self) -> bool:
        """Whether every item of both snapshots could be compared."""
        return not self.unknown and not self.unreadable

    @property
    def change_count(self) -> int:
        return len(self.changes)

    @property
    def has_drift(self) -> bool:
        return bool(self.changes)

    @property
    def highest_severity(self) -> Severity | None:
        best: Severity | None = None
        for change in self.changes:
            if best is None or change.severity.rank > best.rank:
                best = change.severity
                if best is Severity.HIGH:
                    break
        return best

    def first(self, n: int) -> list[Change]:
        """The ``n`` changes that matter most, e.g. for a Snapshot's status summary and Event: the most
        severe first, then in key order (a status that shows ten of 500 changes shows the high ones)."""
        if n <= 0:
            return []
        return heapq.nsmallest(n, self.changes, key=lambda c: -c.severity.rank)  # stable: key order within a rank

    def summary(self) -> dict[str, Any]:
        """Everything but the change list: small enough for a status field or an index (and what the
        stores keep beside the change chunks). ``authors`` only when there are some: a report without
        them serializes exactly as before they existed."""
        highest = self.highest_severity
        data: dict[str, Any] = {
            "tenant": self.tenant,
            "type": self.type,
            "new_snapshot": self.new_snapshot,
            "old_snapshot": self.old_snapshot,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "ignored": self.ignored,
            "change_count": self.change_count,
            "highest_severity": highest.value if highest else None,
            "unknown": dict(sorted(self.unknown.items())),
            "unknown_count": self.unknown_count,
            "unreadable": dict(sorted(self.unreadable.items())),
        }
        if self.authors:
            data["authors"] = [a.to_dict() for a in self.authors]
        return data

    def to_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["changes"] = [c.to_dict() for c in self.changes]
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        return cls(
            tenant=data["tenant"],
            type=data["type"],
            new_snapshot=data["new_snapshot"],
            old_snapshot=data.get("old_snapshot"),
            added=data.get("added", 0),
            removed=data.get("removed", 0),
            changed=data.get("changed", 0),
            ignored=data.get("ignored", 0),
            changes=[Change.from_dict(c) for c in data.get("changes", [])],
            unknown={str(k): int(v) for k, v in (data.get("unknown") or {}).items()},
            unreadable={str(k): int(v) for k, v in (data.get("unreadable") or {}).items()},
            authors=[
                author
                for author in (DriftAuthor.from_dict(a) for a in data.get("authors") or [] if isinstance(a, dict))
                if author.account_id
            ],
        )

    def unknown_text(self) -> str:
        """What could not be compared, in words for CLIs and status ("" when everything could)."""
        parts = []
        if self.unknown:
            by_kind = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.unknown.items()))
            parts.append(f"{self.unknown_count} item(s) could not be compared ({by_kind})")
        if self.unreadable:
            by_kind = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.unreadable.items()))
            parts.append(f"{sum(self.unreadable.values())} read(s) failed, items unknown ({by_kind})")
        return "; ".join(parts)

    @classmethod
    def from_json(cls, raw: bytes | str) -> DriftReport:
        return cls.from_dict(orjson.loads(raw))
