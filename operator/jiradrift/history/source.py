"""Candidates and their content from a :class:`~jiradrift.model.store.SnapshotStore`.

A candidate is a stored snapshot that is complete and changed something (not ``unchanged_from``
its predecessor): an incomplete one would delete the files of what it failed to read. Its commit
authors are those the caller names for it, else those stored with its drift report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from jiradrift.history.message import Person, people
from jiradrift.history.sink import Candidate, CommitContent, SnapshotSource
from jiradrift.model.store import SnapshotInfo, SnapshotStore

Authors = Callable[[str], list[Person]]


def candidates(snapshots: Iterable[SnapshotInfo]) -> list[Candidate]:
    """The snapshots a history holds, oldest first."""
    found = [
        Candidate(s.snapshot_id, s.type, s.captured_at, s.digest)
        for s in snapshots
        if s.complete and s.unchanged_from is None and not s.read_nothing
    ]
    return sorted(found, key=lambda c: (c.captured_at, c.snapshot))


class StoreSource(SnapshotSource):
    def __init__(self, store: SnapshotStore, authors: Authors | None = None) -> None:
        self.store = store
        self.authors = authors

    async def content(self, candidate: Candidate) -> CommitContent:
        manifest = await self.store.get_manifest(candidate.snapshot)
        report = await self.store.get_drift(candidate.snapshot)
        named = self.authors(candidate.snapshot) if self.authors else []
        stored = people(report.authors) if report is not None else []
        return CommitContent(dict(manifest.items), manifest.site, report, named or stored)

    async def bodies(self, digests: Iterable[str]) -> dict[str, Any]:
        wanted = sorted(set(digests))
        raw = await self.store.get_items(wanted) if wanted else {}
        return {d: orjson.loads(b) for d, b in raw.items()}
