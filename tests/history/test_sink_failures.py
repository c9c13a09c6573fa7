"""Exactly once under failures, and a failure reason that says what to fix, against real git servers."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.history.helpers import TENANT, git, publish, sink, snapshots_on, ssh_remote, store_with
from tests.plugins.git import SshGitServer, new_repo

from jiradrift.history.errors import HistoryError, HistoryReason
from jiradrift.history.gitcli import GitRepo, Remote
from jiradrift.history.message import jira_person
from jiradrift.history.sink import Candidate, CommitContent, HistorySink, SnapshotSource
from jiradrift.history.source import StoreSource, candidates
from jiradrift.store.filesystem import FilesystemStore


async def test_two_replicas_racing_push_each_snapshot_once(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    """Replica A fetches, then replica B pushes before A does: A's push is refused, A fetches again,
    finds B's commits and pushes only what is left, on top of them; every snapshot is on the branch once.
    (B knew the Jira author, A did not: their commits differ, so A's first push cannot fast-forward.)"""
    bare = new_repo(ssh_git.root, repo_name)
    store = await store_with(tmp_path, 3)
    remote = ssh_remote(ssh_git, repo_name)
    a, b = sink(tmp_path / "a", remote), sink(tmp_path / "b", remote)
    everything = candidates(await store.list_snapshots(TENANT))

    class BehindB(SnapshotSource):
        """A's source: before A reads its first snapshot, B publishes the first two."""

        def __init__(self) -> None:
            self.inner = StoreSource(store)
            self.raced = False

        async def content(self, candidate: Candidate) -> CommitContent:
            if not self.raced:
                self.raced = True
                await b.publish(everything[:2], AliceSource(store))
            return await self.inner.content(candidate)

        async def bodies(self, digests: Any) -> dict[str, Any]:
            return await self.inner.bodies(digests)

    source = BehindB()
    result = await a.publish(everything, source)
    assert source.raced
    assert result.pushed == ["acme-workflows-2"]
    assert snapshots_on(bare) == ["acme-workflows-0", "acme-workflows-1", "acme-workflows-2"]
    assert git(bare, "log", "--format=%an", "main").split("\n")[:3] == ["jiradrift", "Alice", "Alice"]


class AliceSource(StoreSource):
    """A store whose every commit is Alice's (B's, in the race above: its commits differ from A's)."""

    async def content(self, candidate: Candidate) -> CommitContent:
        return replace(await super().content(candidate), authors=[jira_person("acc-1", "Alice")])


class CrashBeforePush(GitRepo):
    def push(self, sha: str) -> None:
        raise SystemExit("crashed between commit and push")


async def test_crash_between_commit_and_push_next_run_pushes_once(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    store = await store_with(tmp_path, 2)
    remote = ssh_remote(ssh_git, repo_name)
    crashing = HistorySink(CrashBeforePush.open(tmp_path / "work", remote), tenant=TENANT)
    with pytest.raises(SystemExit):
        await publish(crashing, store)
    local = git(tmp_path / "work", "log", "--format=%H", "refs/heads/main").split()
    assert len(local) == 2  # committed locally, not pushed
    assert not git(bare, "for-each-ref").strip()
    restarted = sink(tmp_path / "work", remote)
    result = await publish(restarted, store)
    assert result.pushed == ["acme-workflows-0", "acme-workflows-1"]
    assert git(bare, "rev-parse", "main").strip() == local[0]  # the same commits: deterministic
    again = await publish(restarted, store)
    assert again.pushed == [] and snapshots_on(bare) == ["acme-workflows-0", "acme-workflows-1"]


def _foreign_commit(bare: Path, tmp: Path) -> None:
    """A person pushes a commit to the operator's branch."""
    work = tmp / "person"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True)
    (work / "NOTES.md").write_text("hand edit\n")
    env = ["-c", "user.name=Mallory", "-c", "user.email=m@example.com"]
    subprocess.run(["git", "-C", str(work), "add", "NOTES.md"], check=True)
    subprocess.run(["git", "-C", str(work), *env, "commit", "--quiet", "-m", "hand edit"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "--quiet", "origin", "HEAD:main"], check=True)


async def test_a_branch_moved_by_someone_else_is_not_rewritten(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    store = FilesystemStore(tmp_path / "store", durable=False)
    full = await store_with(tmp_path, 2)
    first = candidates(await full.list_snapshots(TENANT))
    s = sink(tmp_path / "work", ssh_remote(ssh_git, repo_name))
    await s.publish(first[:1], StoreSource(full))
    _foreign_commit(bare, tmp_path)
    foreign = git(bare, "rev-parse", "main").strip()
    with pytest.raises(HistoryError) as refused:
        await s.publish(first, StoreSource(full))
    assert refused.value.reason is HistoryReason.NOT_OURS
    assert "Mallory" in refused.value.message and "spec.history.branch" in refused.value.message
    assert git(bare, "rev-parse", "main").strip() == foreign  # nothing rewritten, nothing added
    del store


async def test_an_initial_commit_by_a_person_is_built_upon(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    _foreign_commit(bare, tmp_path)
    store = await store_with(tmp_path, 1)
    result = await publish(sink(tmp_path / "work", ssh_remote(ssh_git, repo_name)), store)
    assert result.pushed == ["acme-workflows-0"]
    assert "NOTES.md" in git(bare, "ls-tree", "--name-only", "main")


async def test_unreachable_repository_commits_later_in_order(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    store = await store_with(tmp_path, 3)
    good = ssh_remote(ssh_git, repo_name)
    closed = good.url.replace(f":{ssh_git.port}/", ":1/")
    down = Remote(closed, good.branch, good.credentials)
    with pytest.raises(HistoryError) as unreachable:
        await publish(sink(tmp_path / "work", down), store)
    assert unreachable.value.reason is HistoryReason.UNREACHABLE and unreachable.value.retryable
    result = await publish(sink(tmp_path / "work", good), store)
    assert snapshots_on(bare) == result.pushed == ["acme-workflows-0", "acme-workflows-1", "acme-workflows-2"]


OTHER_HOST = "[example.test]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.mark.parametrize(
    ("creds", "reason", "says"),
    [
        ({"known_hosts": "WRONG"}, HistoryReason.HOST_KEY_MISMATCH, "known_hosts"),
        ({"known_hosts": OTHER_HOST}, HistoryReason.HOST_KEY_UNKNOWN, "never trusted on first use"),
        ({"ssh_key": "OTHER"}, HistoryReason.PERMISSION_DENIED, "may write"),
    ],
)  # fmt: skip
async def test_ssh_refusals_say_what_to_fix(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str, creds: dict[str, str], reason: HistoryReason, says: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    values = {"WRONG": ssh_git.wrong_host_line, "OTHER": ssh_git.other_key}
    store = await store_with(tmp_path, 1)
    remote = ssh_remote(ssh_git, repo_name, **{k: values.get(v, v) for k, v in creds.items()})
    with pytest.raises(HistoryError) as refused:
        await publish(sink(tmp_path / "work", remote), store)
    assert refused.value.reason is reason
    assert says in refused.value.message
    assert not refused.value.retryable
    assert not git(bare, "for-each-ref").strip()


async def test_protected_branch_is_a_clear_failure(tmp_path: Path, ssh_git: SshGitServer, repo_name: str) -> None:
    new_repo(ssh_git.root, repo_name, protected=True)
    store = await store_with(tmp_path, 1)
    with pytest.raises(HistoryError) as refused:
        await publish(sink(tmp_path / "work", ssh_remote(ssh_git, repo_name)), store)
    assert refused.value.reason is HistoryReason.BRANCH_PROTECTED
    assert "spec.history.branch" in refused.value.message
