"""Candidates and their content from a :class:`~jiradrift.model.store.SnapshotStore`.

A candidate is a stored snapshot that is complete and changed something (not ``unchanged_from``
its predecessor): an incomplete one would delete the files of what it failed to read. Its commit
authors are those stored with its drift report (none: the operator's identity), whoever publishes
it: the operator's push and ``jiradrift history export`` alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from jiradrift.history.message import people
from jiradrift.history.sink import Candidate, CommitContent, SnapshotSource
from jiradrift.model.store import SnapshotInfo, SnapshotStore


def candidates(snapshots: Iterable[SnapshotInfo]) -> list[Candidate]:
    """The snapshots a history holds, oldest first."""
    found = [
        Candidate(s.snapshot_id, s.type, s.captured_at, s.digest)
        for s in snapshots
        if s.complete and s.unchanged_from is None and not s.read_nothing
    ]
    return sorted(found, key=lambda c: (c.captured_at, c.snapshot))


class StoreSource(SnapshotSource):
    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    async def content(self, candidate: Candidate) -> CommitContent:
        manifest = await self.store.get_manifest(candidate.snapshot)
        report = await self.store.get_drift(candidate.snapshot)
        authors = people(report.authors) if report is not None else []
        return CommitContent(dict(manifest.items), manifest.site, report, authors)

    async def bodies(self, digests: Iterable[str]) -> dict[str, Any]:
        wanted = sorted(set(digests))
        raw = await self.store.get_items(wanted) if wanted else {}
        return {d: orjson.loads(b) for d, b in raw.items()}
