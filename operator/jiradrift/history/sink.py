"""Exactly once, in order: stored snapshots become commits on the operator's branch.

    sink = HistorySink(repo, prefix="jira/acme")
    result = await sink.publish(candidates, source)   # fetch, commit what the branch lacks, push

Every call starts from the branch as the *server* has it, never from local state: it fetches, reads
the ``Jiradrift-Snapshot`` trailers on the branch (the snapshots already there), builds a commit for
each candidate the branch lacks, oldest first, on top of the server's tip, and pushes without
force. Commits are deterministic (author and committer dates are the capture time), so:

- two replicas racing build the same commits; the loser's push is refused, it fetches, finds its
  snapshots on the branch and has nothing left to do (or rebuilds what remains on the new tip);
- a crash between commit and push leaves a local commit that the next call simply rebuilds;
- an unreachable server fails the call; the snapshots stay candidates and are committed, in
  order, by the first call that reaches it.

The branch is the operator's: a commit on it after the operator's last one that the operator did
not write (no trailer) is never built upon or rewritten; the call fails with ``BranchNotOurs``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jiradrift.history.errors import HistoryError, HistoryReason
from jiradrift.history.gitcli import CommitInfo, GitRepo
from jiradrift.history.message import (
    OPERATOR,
    TRAILER_SNAPSHOT,
    TRAILER_TYPE,
    CommitMeta,
    Person,
    commit_message,
)
from jiradrift.history.plan import MissingBodies, TypeState, bodies_needed, decode_index, index_dir, plan_type
from jiradrift.model.report import DriftReport

MAX_RACES = 5  # pushes refused because the branch moved, before giving up for this call


@dataclass(frozen=True)
class Candidate:
    """A stored, complete snapshot that changed something: what its commit needs to know."""

    snapshot: str
    type: str
    captured_at: datetime
    digest: str


@dataclass
class CommitContent:
    """What the source gives for one candidate."""

    items: dict[str, str]  # item key -> body digest (the manifest)
    site: str = ""
    report: DriftReport | None = None
    authors: list[Person] = field(default_factory=list)


class SnapshotSource:
    """Reads what a commit needs from the snapshot store (the operator's or a CLI's)."""

    async def content(self, candidate: Candidate) -> CommitContent:
        raise NotImplementedError

    async def bodies(self, digests: Iterable[str]) -> dict[str, Any]:
        """Parsed bodies by digest."""
        raise NotImplementedError


@dataclass(frozen=True)
class PublishResult:
    tip: str | None  # the branch's tip on the server after the call
    pushed: list[str]  # snapshots committed and pushed by this call, oldest first
    skipped: list[str]  # candidates already on the branch (or older than what it holds)
    lag: int  # candidates still waiting (0 after a successful call)


def _q(path: str) -> bytes:
    """A path as fast-import reads it: C-quoted, so any name is safe (quotes and newlines included)."""
    out = bytearray(b'"')
    for byte in path.encode():
        if byte in b'"\\':
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


class HistorySink:
    def __init__(self, repo: GitRepo, prefix: str = "", tenant: str = "", committer: Person = OPERATOR) -> None:
        self.repo = repo
        self.tenant = tenant
        self.prefix = prefix.strip("/")
        self.committer = committer

    def _dir(self, snapshot_type: str) -> str:
        return f"{self.prefix}/{snapshot_type}" if self.prefix else snapshot_type

    async def _git(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def publish(self, candidates: Iterable[Candidate], source: SnapshotSource) -> PublishResult:
        ordered = sorted(candidates, key=lambda c: (c.captured_at, c.snapshot))
        for _ in range(MAX_RACES):
            tip: str | None = await self._git(self.repo.fetch)
            commits: list[CommitInfo] = await self._git(self.repo.history, tip, (TRAILER_SNAPSHOT, TRAILER_TYPE))
            self._check_ours(commits)
            done = {s for c in commits for s in c.trailers.get(TRAILER_SNAPSHOT, [])}
            newest: dict[str, int] = {}
            for c in commits:
                for t in c.trailers.get(TRAILER_TYPE, []):
                    newest[t] = max(newest.get(t, 0), c.author_time)
            todo = [
                c for c in ordered if c.snapshot not in done and int(c.captured_at.timestamp()) >= newest.get(c.type, 0)
            ]
            skipped = [c.snapshot for c in ordered if c not in todo]
            if not todo:
                return PublishResult(tip, [], skipped, 0)
            stream, made = await self._build(tip, todo, source)
            if not made:
                return PublishResult(tip, [], skipped + [c.snapshot for c in todo], 0)
            await self._git(self.repo.fast_import, stream)
            sha: str = await self._git(self.repo.rev, self.repo.local_ref)
            try:
                await self._git(self.repo.push, sha)
            except HistoryError as exc:
                if exc.reason is HistoryReason.RACE:
                    continue  # someone (another replica) pushed: fetch and rebuild on the new tip
                raise
            await self._git(self.repo.set_ref, self.repo.remote_ref, sha)
            await self._git(self.repo.gc)  # the local mirror: packs when git's own thresholds say so
            return PublishResult(sha, made, skipped + [c.snapshot for c in todo if c.snapshot not in made], 0)
        raise HistoryError(
            HistoryReason.RACE,
            f"the branch {self.repo.remote.branch} moved {MAX_RACES} times while pushing; retrying later",
        )

    def _check_ours(self, commits: list[CommitInfo]) -> None:
        """Refuse a branch with commits the operator did not write after its last one."""
        for i, commit in enumerate(commits):
            if commit.trailers.get(TRAILER_SNAPSHOT):
                if i:
                    foreign = commits[0]
                    raise HistoryError(
                        HistoryReason.NOT_OURS,
                        f"branch {self.repo.remote.branch} has {i} commit(s) after jiradrift's last one that "
                        f"jiradrift did not write (newest {foreign.sha[:12]} by {foreign.author}); jiradrift never "
                        "rewrites history it did not write: revert them on the server, or point "
                        "spec.history.branch at a branch only jiradrift writes",
                    )
                return

    async def _build(self, tip: str | None, todo: list[Candidate], source: SnapshotSource) -> tuple[bytes, list[str]]:
        """A fast-import stream of one commit per candidate that changes files, on top of ``tip``."""
        ref = self.repo.local_ref
        out = [b"reset " + ref.encode() + b"\n" + (b"from " + tip.encode() + b"\n" if tip else b"") + b"\n"]
        states: dict[str, TypeState] = {}
        made: list[str] = []
        for candidate in todo:
            type_dir = self._dir(candidate.type)
            if type_dir not in states:
                shards = await self._git(self.repo.read_dir, tip, index_dir(type_dir))
                try:
                    states[type_dir] = decode_index(shards.values())
                except ValueError as exc:
                    raise HistoryError(
                        HistoryReason.NOT_OURS, f"{index_dir(type_dir)} on the branch is not jiradrift's: {exc}"
                    ) from None
            previous = states[type_dir]
            content = await source.content(candidate)
            bodies = await source.bodies(bodies_needed(previous.index, content.items))
            try:
                plan = plan_type(type_dir, previous, content.items, bodies)
            except MissingBodies as moved:
                bodies.update(await source.bodies(moved.digests))
                plan = plan_type(type_dir, previous, content.items, bodies)
            states[type_dir] = plan.state
            if plan.empty:
                continue
            out.append(self._commit(ref, candidate, content, plan.writes, plan.deletes))
            made.append(candidate.snapshot)
        out.append(b"done\n")
        return b"".join(out), made

    def _commit(
        self, ref: str, candidate: Candidate, content: CommitContent, writes: dict[str, bytes], deletes: list[str]
    ) -> bytes:
        people = content.authors or [self.committer]
        meta = CommitMeta(
            snapshot=candidate.snapshot,
            digest=candidate.digest,
            tenant=self.tenant,
            type=candidate.type,
            captured_at=candidate.captured_at,
            site=content.site,
            objects=len(content.items),
        )
        message = commit_message(meta, content.report, people, files=len(writes) + len(deletes)).encode()
        when = f"{int(candidate.captured_at.timestamp())} +0000".encode()
        parts = [
            b"commit " + ref.encode() + b"\n",
            b"author " + people[0].ident().encode() + b" " + when + b"\n",
            b"committer " + self.committer.ident().encode() + b" " + when + b"\n",
            _data(message),
        ]
        parts += [b"D " + _q(path) + b"\n" for path in deletes]
        for path in sorted(writes):
            parts.append(b"M 100644 inline " + _q(path) + b"\n")
            parts.append(_data(writes[path]))
        parts.append(b"\n")
        return b"".join(parts)
