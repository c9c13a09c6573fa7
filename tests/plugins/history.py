"""pytest fixtures and builders for the in-process history handler tests (tests/handlers/test_history*.py;
registered in tests/conftest.py): a tenant whose spec.history points at a git repository, its
Secrets, and an OperatorContext whose pushes may reach the test servers. Test tooling, not shipped.

    bare = make_history_tenant(api, ns, jira_sim, ssh_git, repo_name)    # Secrets jira and git, tenant acme
    ctx = history_context(kube, ns, tmp_path / "mirrors")
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.history.helpers import git
from tests.operator.kube import make_secret, make_tenant
from tests.operator.test_snapshot_resume import make_snapshot, run_until_final
from tests.plugins.git import SshGitServer, new_repo

from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.history.settings import HistorySettings
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.sim.emulator import RunningEmulator


def history_context(
    kube: Kube, ns: str, workdir: Path, history_hosts: str = "127.0.0.1", store_path: Path | None = None
) -> OperatorContext:
    """The operator's context for namespace ``ns``: Jira and git on loopback (git hosts ``history_hosts``),
    mirrors under ``workdir``, the store on the filesystem at ``store_path`` (else ConfigMaps)."""
    settings = OperatorSettings(
        namespaces=[ns],
        allowed_hosts=HostAllowlist.parse("127.0.0.1"),
        history=HistorySettings(hosts=HostAllowlist.parse(history_hosts), workdir=workdir),
        **({"store": "filesystem", "store_path": store_path} if store_path is not None else {}),
    )
    return OperatorContext(kube=kube, settings=settings, holder="test-holder")


def make_history_tenant(
    api: k8s.ApiClient,
    ns: str,
    sim: RunningEmulator,
    server: SshGitServer,
    repo: str,
    *,
    tenant: str = "acme",
    repository: str | None = None,
    known_hosts: str | None = None,
    opted_in: str | None = None,
    **history: Any,
) -> Path:
    """Secret ``jira`` (the emulator's API token), Secret ``git`` (the server's client key and
    ``known_hosts``, by default its true host key, opted in to ``opted_in``, by default the tenant)
    and ``tenant`` capturing workflows, whose spec.history pushes to ``repository`` (by default the
    server's new repository ``repo``, returned) with the further fields ``history``."""
    bare = new_repo(server.root, repo)
    make_secret(api, ns, "jira", {"email": sim.credentials.email, "token": sim.credentials.api_token})
    data = {"ssh-privatekey": server.client_key, "known_hosts": known_hosts or server.host_key_line}
    make_secret(api, ns, "git", data, tenants=opted_in or tenant)
    spec = {"repository": repository or server.url(repo), "secretRef": {"name": "git"}, **history}
    make_tenant(api, ns, tenant, sim.base_url, "jira", ["workflows"], history=spec)
    return bare


@dataclass
class HistoryTenant:
    """Tenant ``acme`` with spec.history on the SSH git server's repository ``bare``."""

    ns: str
    api: k8s.ApiClient
    kube: Kube
    sim: RunningEmulator
    git: SshGitServer
    bare: Path
    tmp: Path

    def context(self, store_path: Path | None = None) -> OperatorContext:
        return history_context(self.kube, self.ns, self.tmp / "mirrors", store_path=store_path)

    def fix_host_key(self) -> None:
        fixed = {"known_hosts": base64.b64encode(self.git.host_key_line.encode()).decode()}
        k8s.CoreV1Api(self.api).patch_namespaced_secret("git", self.ns, {"data": fixed})

    async def snapshot(self, ctx: OperatorContext, name: str) -> int:
        """Snapshot ``name`` run until Completed, then its push; returns the handler calls it took."""
        make_snapshot(self.api, self.ns, name)
        snap, calls = await run_until_final(ctx, self.api, self.ns, name)
        assert snap["status"]["phase"] == "Completed", snap["status"]
        await ctx.history_pushes.idle()
        return calls

    def authors(self, bare: Path | None = None) -> list[str]:
        return git(bare or self.bare, "log", "--reverse", "--format=%an <%ae>", "main").splitlines()


HistoryTenants = Callable[..., HistoryTenant]  # the history_tenant fixture: keywords -> a new tenant


@pytest.fixture
def history_tenant(
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    tmp_path: Path,
) -> HistoryTenants:
    """``history_tenant(**options)``: tenant ``acme`` with spec.history on the SSH git server's new
    repository, made by :func:`make_history_tenant` with ``options``."""

    def make(**options: Any) -> HistoryTenant:
        bare = make_history_tenant(k8s_api, k8s_namespace, jira_sim, ssh_git, repo_name, **options)
        return HistoryTenant(k8s_namespace, k8s_api, kube, jira_sim, ssh_git, bare, tmp_path)

    return make


@pytest.fixture
def wrong_key(history_tenant: HistoryTenants, ssh_git: SshGitServer) -> HistoryTenant:
    """A history tenant whose pushes fail (the wrong host key is pinned) until ``fix_host_key``."""
    return history_tenant(known_hosts=ssh_git.wrong_host_line)
