"""``jiradrift history export STORE REPO``, run as a user runs it (the installed command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.history.helpers import git, snapshots_on, store_authors, store_with
from tests.plugins.git import SshGitServer, new_repo

from jiradrift.model.report import DriftAuthor

JIRADRIFT = [sys.executable, "-m", "jiradrift"]
FILE = "workflows/workflow/Software Simplified Workflow.yaml"


def export(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JIRADRIFT, "history", "export", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


async def test_export_to_a_local_repository_then_git_log_replays_one_object(tmp_path: Path) -> None:
    await store_with(tmp_path, 4)
    repo = tmp_path / "history.git"
    done = export(str(tmp_path / "store"), str(repo))
    assert done.returncode == 0, done.stderr
    assert "4 snapshot(s) committed" in done.stdout
    assert snapshots_on(repo) == [f"acme-workflows-{n}" for n in range(4)]
    life = git(
        repo, "log", "-p", "--reverse", "--format=%x00%(trailers:key=Jiradrift-Snapshot,valueonly)", "main", "--", FILE
    )
    commits = [c for c in life.split("\x00") if c.strip()]
    assert [c.splitlines()[0] for c in commits] == [f"acme-workflows-{n}" for n in range(4)]
    assert "+description: edit 1" in commits[1] and "-description: edit 2\n+description: edit 3" in commits[3]


async def test_export_commits_are_authored_by_the_authors_stored_with_each_drift_report(tmp_path: Path) -> None:
    """Snapshot 1's report names Alice (e-mail hidden) and Bob; snapshot 2's report names nobody, and
    snapshot 0 has no report: those two are the operator's."""
    store = await store_with(tmp_path, 3)
    alice, bob = DriftAuthor("acc-alice", "Alice Admin"), DriftAuthor("acc-bob", "Bob Builder", "bob@example.com")
    await store_authors(store, {1: [alice, bob], 2: []})
    repo = tmp_path / "history.git"
    done = export(str(tmp_path / "store"), str(repo))
    assert done.returncode == 0, done.stderr
    assert snapshots_on(repo) == [f"acme-workflows-{n}" for n in range(3)]
    assert git(repo, "log", "--reverse", "--format=%an%n%ae", "main").splitlines() == [
        "jiradrift",
        "operator@users.noreply.jiradrift.invalid",
        "Alice Admin",
        "acc-alice@users.noreply.jiradrift.invalid",
        "jiradrift",
        "operator@users.noreply.jiradrift.invalid",
    ]
    assert git(repo, "log", "--reverse", "--format=%cn", "main").split() == ["jiradrift"] * 3
    assert "Co-authored-by: Bob Builder <bob@example.com>" in git(repo, "log", "-1", "--format=%B", "main~1")


async def test_export_over_ssh_with_pinned_host_keys(tmp_path: Path, ssh_git: SshGitServer, repo_name: str) -> None:
    bare = new_repo(ssh_git.root, repo_name)
    await store_with(tmp_path, 2)
    key, known = tmp_path / "id", tmp_path / "known_hosts"
    key.write_text(ssh_git.client_key)
    key.chmod(0o600)
    known.write_text(ssh_git.host_key_line + "\n")
    done = export(str(tmp_path / "store"), ssh_git.url(repo_name), "--ssh-key", str(key), "--known-hosts", str(known))
    assert done.returncode == 0, done.stderr
    assert snapshots_on(bare) == ["acme-workflows-0", "acme-workflows-1"]
    known.write_text(ssh_git.wrong_host_line + "\n")
    refused = export(
        str(tmp_path / "store"), ssh_git.url(repo_name), "--ssh-key", str(key), "--known-hosts", str(known)
    )
    assert refused.returncode == 1 and refused.stderr.startswith("error: HostKeyMismatch:")
    assert "Traceback" not in refused.stderr
