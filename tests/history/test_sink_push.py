"""The history sink against real git servers on loopback: SSH (sshd + git-shell) and smart HTTP over HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.history.helpers import (
    git,
    https_remote,
    publish,
    sink,
    snapshots_on,
    ssh_remote,
    store_authors,
    store_with,
)
from tests.plugins.git import HttpsGitServer, SshGitServer, new_repo

from jiradrift.history.errors import HistoryError, HistoryReason
from jiradrift.model.report import DriftAuthor

WORKFLOW_FILE = "workflows/workflow/Software Simplified Workflow.yaml"


async def test_ssh_each_snapshot_one_commit_authored_by_the_jira_user(
    tmp_path: Path, ssh_git: SshGitServer, repo_name: str
) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    store = await store_with(tmp_path, 3)
    people = [DriftAuthor("5b10a2844c20165700ede21g", "Alice Admin"), DriftAuthor("712020:abc", "Bob")]
    await store_authors(store, {n: people for n in range(3)})
    result = await publish(sink(tmp_path / "work", ssh_remote(ssh_git, repo_name)), store)
    assert result.pushed == ["acme-workflows-0", "acme-workflows-1", "acme-workflows-2"]
    assert snapshots_on(bare) == result.pushed
    authors = git(bare, "log", "--format=%an <%ae>|%cn", "main").splitlines()
    assert authors[0] == "Alice Admin <5b10a2844c20165700ede21g@users.noreply.jiradrift.invalid>|jiradrift"
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert "Co-authored-by: Bob <712020:abc@users.noreply.jiradrift.invalid>" in message
    assert "Jiradrift-Digest: sha256:" in message
    # git log -p of one object's file replays its life: created, then each edit
    life = git(bare, "log", "-p", "--reverse", "--format=%x00%s", "main", "--", WORKFLOW_FILE)
    commits = [c for c in life.split("\x00") if c.strip()]
    assert len(commits) == 3
    assert "+name: Software Simplified Workflow" in commits[0]
    assert "-description: edit 1\n+description: edit 2" in commits[2]
    # Bug Workflow's file appears once, in the first commit
    assert len(git(bare, "log", "--format=%H", "main", "--", "workflows/workflow/Bug Workflow.yaml").split()) == 1


async def test_https_with_token_and_a_wrong_token(tmp_path: Path, https_git: HttpsGitServer, repo_name: str) -> None:
    bare = new_repo(https_git.root, repo_name)
    store = await store_with(tmp_path, 2)
    with pytest.raises(HistoryError) as refused:
        await publish(sink(tmp_path / "bad", https_remote(https_git, repo_name, token="not-the-token")), store)
    assert refused.value.reason is HistoryReason.PERMISSION_DENIED
    assert "token" in refused.value.message
    result = await publish(sink(tmp_path / "work", https_remote(https_git, repo_name)), store)
    assert snapshots_on(bare) == result.pushed == ["acme-workflows-0", "acme-workflows-1"]


async def test_https_untrusted_certificate_is_refused(
    tmp_path: Path, https_git: HttpsGitServer, repo_name: str
) -> None:
    new_repo(https_git.root, repo_name)
    store = await store_with(tmp_path, 1)
    with pytest.raises(HistoryError) as refused:
        await publish(sink(tmp_path / "work", https_remote(https_git, repo_name, ca_pem="")), store)
    assert refused.value.reason is HistoryReason.TLS
