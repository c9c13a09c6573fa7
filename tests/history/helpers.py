"""Builders for the history tests: a filesystem store with snapshots, remotes for the test servers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.plugins.git import HttpsGitServer, SshGitServer
from tests.store.builders import put_snapshot, report_with

from jiradrift.history.gitcli import Credentials, GitRepo, Remote
from jiradrift.history.sink import HistorySink
from jiradrift.history.source import StoreSource, candidates
from jiradrift.model.report import DriftAuthor
from jiradrift.store.filesystem import FilesystemStore

TENANT = "jira/acme"


def workflow(ident: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "name": name, "statuses": [{"statusReference": "1"}, {"statusReference": "3"}], **extra}


SITE_1 = {
    "workflow/w1": workflow("w1", "Software Simplified Workflow"),
    "workflow/w2": workflow("w2", "Bug Workflow"),
    "status/1": {"id": "1", "name": "To Do"},
    "status/3": {"id": "3", "name": "Done"},
}


def site(n: int) -> dict[str, Any]:
    """The site after ``n`` changes to the simplified workflow's description."""
    objects = dict(SITE_1)
    if n:
        objects["workflow/w1"] = workflow("w1", "Software Simplified Workflow", description=f"edit {n}")
    return objects


async def store_with(tmp: Path, count: int) -> FilesystemStore:
    """``count`` snapshots of the workflows type, an hour apart, each changing the simplified workflow."""
    store = FilesystemStore(tmp / "store", durable=False)
    for n in range(count):
        await put_snapshot(store, f"acme-workflows-{n}", site(n), tenant=TENANT, hours=n)
    return store


async def store_authors(store: FilesystemStore, authors: dict[int, list[DriftAuthor]]) -> None:
    """Snapshot ``n`` of :func:`store_with` gets a drift report naming ``authors[n]``, as the operator
    stores it (the history reads a commit's authors from there alone)."""
    for n, named in authors.items():
        report = report_with(f"acme-workflows-{n}", 1, tenant=TENANT)
        report.authors = named
        await store.put_drift(report)


def ssh_remote(server: SshGitServer, repo: str, **creds: str) -> Remote:
    values = {"ssh_key": server.client_key, "known_hosts": server.host_key_line, **creds}
    return Remote(server.url(repo), "main", Credentials(**values))


def https_remote(server: HttpsGitServer, repo: str, **creds: str) -> Remote:
    values = {"token": server.token, "ca_pem": server.ca_pem, **creds}
    return Remote(server.url(repo), "main", Credentials(**values))


def sink(workdir: Path, remote: Remote) -> HistorySink:
    return HistorySink(GitRepo.open(workdir, remote), prefix="", tenant=TENANT)


async def publish(s: HistorySink, store: FilesystemStore) -> Any:
    return await s.publish(candidates(await store.list_snapshots(TENANT)), StoreSource(store))


def git(bare: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True).stdout


def snapshots_on(bare: Path) -> list[str]:
    """The Jiradrift-Snapshot trailers of the branch, oldest first."""
    out = git(bare, "log", "--reverse", "--format=%(trailers:key=Jiradrift-Snapshot,valueonly)", "main")
    return [line.strip() for line in out.splitlines() if line.strip()]
