"""Blast radius: which projects a change to an item reaches, from the mappings a snapshot captured.

    radius = BlastRadius.build(items)            # (item key, body) of one site, every type
    radius.projects("workflow/<uuid>")          # project ids, sorted
    radius.affects("workflow-scheme/10003")     # Affects(count=40, first=("ABC", "DEF", ...))

The edges are the references of :data:`jiradrift.snapshot.natural.RULES`: a ``uses`` reference
(a project uses its workflow scheme, which uses its workflows, which use their statuses; a screen
uses its fields) carries a change from the referenced item to its users; an ``applies`` reference
(a field context to its projects, a priority scheme to its projects, a team-managed object to its
project) names projects directly. A global field context applies to every project. No Jira request:
Jira's own usage endpoints (``/workflow/{id}/projectUsages`` ...) are only the check of this in tests.

Projects are captured with all their schemes (issue type, issue type screen, field configuration,
workflow, notification, issue security and permission scheme), so each of those reaches its projects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.store import SnapshotInfo, SnapshotStore
from jiradrift.snapshot.natural import RULES, Json
from jiradrift.snapshot.reach_index import SnapshotEdges, edges_of

#: How many project keys a change carries (the count is always complete).
FIRST_KEYS = 5
#: The default reach rule: a medium change that reaches this many projects counts as high.
REACH_HIGH = 10


@dataclass(frozen=True)
class Affects:
    count: int
    first: tuple[str, ...]


@dataclass(frozen=True)
class ReachRule:
    """Severity takes reach into account: a ``medium`` change reaching ``high_at`` projects is ``high``."""

    high_at: int = REACH_HIGH

    def severity(self, severity: Severity, reach: int) -> Severity:
        if self.high_at > 0 and severity is Severity.MEDIUM and reach >= self.high_at:
            return Severity.HIGH
        return severity


class BlastRadius:
    """The projects every item of one site reaches (memoised; the reference graph is a DAG).

    Built from the reference index of each snapshot of the site (:class:`SnapshotEdges`), which
    already holds the edges in the direction the walk takes (an item -> who uses it): building costs
    nothing per edge, and a change's reach reads only the edges it walks.
    """

    def __init__(self, parts: Sequence[SnapshotEdges] = ()) -> None:
        self.parts = list(parts)
        self.everywhere: set[str] = set()  # item keys that apply to every project
        self.project_keys: dict[str, str] = {}  # project id -> project key
        for edges in self.parts:
            self.everywhere.update(edges.everywhere)
            self.project_keys.update(edges.project_keys)
        self._memo: dict[str, frozenset[str]] = {}

    @classmethod
    def build(cls, items: Iterable[tuple[str, Json]]) -> BlastRadius:
        return cls([SnapshotEdges.of_items(items)])

    @classmethod
    def from_edges(cls, snapshots: Iterable[SnapshotEdges]) -> BlastRadius:
        """The radius of a site from the reference index of each of its snapshots (no body read)."""
        return cls(list(snapshots))

    def users(self, item_key: str) -> list[str]:
        """The item keys that use ``item_key`` (in any snapshot of the site)."""
        return [u for edges in self.parts for u in edges.used_by.get(item_key, ())]

    def projects(self, item_key: str) -> frozenset[str]:
        """Ids of the projects a change to ``item_key`` reaches."""
        found = self._memo.get(item_key)
        if found is not None:
            return found
        self._memo[item_key] = frozenset()  # a cycle (none expected) ends here instead of looping
        out: set[str] = set()
        for edges in self.parts:
            out.update(edges.applies.get(item_key, ()))
        kind, _, ident = item_key.partition("/")
        if kind == "project":
            out.add(ident)
        if item_key in self.everywhere:
            out.update(self.project_keys)
        for user in self.users(item_key):
            out.update(self.projects(user))
        result = frozenset(out)
        self._memo[item_key] = result
        return result

    def affects(self, item_key: str) -> Affects:
        ids = self.projects(item_key)
        keys = sorted(self.project_keys.get(i, i) for i in ids)
        return Affects(len(ids), tuple(keys[:FIRST_KEYS]))


async def newest_infos(store: SnapshotStore, tenant: str, types: list[str] | None = None) -> list[SnapshotInfo]:
    """The newest complete snapshot of every type (or of ``types``) of ``tenant`` (no manifest read)."""
    newest: dict[str, SnapshotInfo] = {}
    infos = [i for i in await store.list_snapshots(tenant) if i.complete and (not types or i.type in types)]
    for info in sorted(infos, key=lambda i: i.captured_at, reverse=True):
        newest.setdefault(info.type, info)
    return [newest[t] for t in sorted(newest)]


async def site_radius(store: SnapshotStore, tenant: str, types: list[str] | None = None) -> BlastRadius:
    """The blast radius of ``tenant`` from the reference index of its newest snapshots (a lookup:
    the index is kept with each snapshot, see :mod:`jiradrift.snapshot.reach_index`)."""
    return BlastRadius.from_edges([await edges_of(store, info) for info in await newest_infos(store, tenant, types)])


def kinds_reaching(kinds: Iterable[str]) -> set[str]:
    """The kinds whose bodies the radius of items of ``kinds`` needs: those kinds, every kind that
    uses one of them (transitively), and projects. Reading only these keeps the radius of a diff
    proportional to what can reach its changes, not to the whole site."""
    users_of: dict[str, set[str]] = defaultdict(set)
    for kind, rule in RULES.items():
        for ref in rule.refs:
            if ref.relation == "uses":
                users_of[ref.target].add(kind)
    needed = {"project"}
    frontier = list(kinds)
    while frontier:
        kind = frontier.pop()
        if kind in needed and kind != "project":
            continue
        needed.add(kind)
        frontier.extend(users_of.get(kind, set()) - needed)
    return needed


def annotate(
    changes: Sequence[Change], radius: BlastRadius, rule: ReachRule | None = None, item_key: str | None = None
) -> list[Change]:
    """``changes`` (of ``item_key`` when their keys are not item keys, as in a comparison) with what each
    affects, and severity raised by reach (``rule``); unchanged when the
    radius knows no project (no projects snapshot was captured: the reach is unknown, not zero)."""
    if not radius.project_keys:
        return list(changes)
    out = []
    for change in changes:
        affects = radius.affects(item_key or change.key)
        severity = rule.severity(change.severity, affects.count) if rule else change.severity
        out.append(replace(change, severity=severity, affects=affects.count, affects_first=affects.first))
    return out


def annotate_report(report: DriftReport, radius: BlastRadius, rule: ReachRule | None = None) -> DriftReport:
    report.changes = annotate(report.changes, radius, rule)
    return report
