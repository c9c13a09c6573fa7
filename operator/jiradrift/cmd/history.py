"""``jiradrift history export STORE REPO``: the stored snapshots as git history, oldest first.

A new repository starts with the history a store already holds: every complete snapshot that
changed something becomes one commit (the same commits the operator's history sink makes), then
``git log -p -- '<type>/<kind>/<name>.yaml'`` replays one object's life. Run it again and only
what the branch lacks is added (the ``Jiradrift-Snapshot`` trailer says what it has).

REPO is an ``ssh://`` or ``user@host:path`` URL (``--ssh-key`` and ``--known-hosts``: host keys are
pinned, never trusted on first use), an ``https://`` URL (token in ``JIRADRIFT_HISTORY_TOKEN``), or a
local directory (a bare repository, created when missing).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from jiradrift.cmd.errors import one_line
from jiradrift.history.errors import HistoryError
from jiradrift.history.gitcli import Credentials, GitRepo, Remote
from jiradrift.history.sink import HistorySink, PublishResult
from jiradrift.history.source import StoreSource, candidates
from jiradrift.store.filesystem import FilesystemStore

TOKEN_ENV = "JIRADRIFT_HISTORY_TOKEN"

history_app = typer.Typer(help="Configuration history in git: one commit per changed snapshot.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {one_line(message)}", err=True)
    return typer.Exit(code)


async def _export(store_spec: str, remote: Remote, prefix: str, workdir: Path) -> PublishResult:
    path, _, tenant = store_spec.partition("@")
    if not Path(path).is_dir():
        raise _fail(f"{path!r} is not a store directory (written by `jiradrift snapshot --out DIR`)", 2)
    store = FilesystemStore.open(path)
    infos = await store.list_snapshots(tenant or None)
    tenants = sorted({i.tenant for i in infos})
    if len(tenants) > 1:
        raise _fail(f"{path!r} holds tenants {', '.join(tenants)}; name one as {path}@TENANT", 2)
    if not tenants:
        raise _fail(f"{store_spec!r} holds no snapshot", 2)
    sink = HistorySink(GitRepo.open(workdir, remote), prefix=prefix, tenant=tenants[0])
    return await sink.publish(candidates(infos), StoreSource(store))


@history_app.command("export")
def export_command(
    store: Annotated[str, typer.Argument(help="A store directory (`jiradrift snapshot --out DIR`), or DIR@TENANT.")],
    repo: Annotated[str, typer.Argument(help="ssh://..., user@host:path, https://... or a local directory.")],
    branch: Annotated[str, typer.Option(help="The branch to write (only jiradrift may write to it).")] = "main",
    prefix: Annotated[str, typer.Option(help="A directory inside the repository for this tenant's files.")] = "",
    ssh_key: Annotated[Path | None, typer.Option(help="SSH: the deploy key (private key file).")] = None,
    known_hosts: Annotated[Path | None, typer.Option(help="SSH: the server's pinned host keys.")] = None,
    ca: Annotated[Path | None, typer.Option(help="HTTPS: a CA bundle to trust for the server.")] = None,
    username: Annotated[str, typer.Option(help="HTTPS: the user that goes with the token.")] = "x-access-token",
) -> None:
    """Backfill REPO with the snapshots STORE holds, oldest first; then `git log -p -- FILE` replays an object."""
    if not repo.startswith(("ssh://", "https://")) and "@" not in repo.split(":", 1)[0]:
        local = Path(repo).resolve()
        if not (local / "HEAD").exists():
            local.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(local)], check=True)
        repo = str(local)
    creds = Credentials(
        ssh_key=ssh_key.read_text() if ssh_key else "",
        known_hosts=known_hosts.read_text() if known_hosts else "",
        token=os.environ.get(TOKEN_ENV, ""),
        username=username,
        ca_pem=ca.read_text() if ca else "",
    )
    remote = Remote(repo, branch, creds)
    if remote.is_ssh and not (creds.ssh_key and creds.known_hosts):
        raise _fail("an SSH repository needs --ssh-key and --known-hosts (host keys are pinned)", 2)
    if repo.startswith("https://") and not creds.token:
        raise _fail(f"an https repository needs its token in {TOKEN_ENV}", 2)
    with tempfile.TemporaryDirectory(prefix="jiradrift-history-") as work:
        try:
            result = asyncio.run(_export(store, remote, prefix, Path(work) / "repo.git"))
        except HistoryError as exc:
            raise _fail(f"{exc.reason}: {exc.message}") from None
    for name in result.pushed:
        typer.echo(f"committed {name}")
    print(
        f"{len(result.pushed)} snapshot(s) committed, {len(result.skipped)} already on {branch}; tip {result.tip}",
        file=sys.stdout,
    )
