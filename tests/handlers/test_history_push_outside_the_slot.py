"""A git server that never answers holds one tenant's push, never a capture slot: with a single
capture slot, another tenant's Snapshot completes while the first tenant's push is still hanging
on the open connection; when the server goes away the push fails with a reason, and the first
tenant's Snapshot was Completed all along.

In this process against the real kube-apiserver and the emulator; the "git server" is a loopback
port that accepts connections and says nothing (an SSH client waits there for the server's banner).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_tenant
from tests.plugins.git import SshGitServer
from tests.plugins.history import history_context, make_history_tenant

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.handlers.snapshot import run_snapshot
from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator

pytestmark = pytest.mark.k8s


class SilentServer:
    """Accepts TCP connections and never writes; counts the open ones; closes them on :meth:`hang_up`."""

    def __init__(self) -> None:
        self.open: set[asyncio.StreamWriter] = set()
        self.connected = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        self.connected.set()
        try:
            await reader.read()  # until the client gives up or we hang up
        finally:
            self.open.discard(writer)
            writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def hang_up(self) -> None:
        for writer in list(self.open):
            writer.close()
        if self.server is not None:
            self.server.close()


def _snapshot(api: k8s.ApiClient, ns: str, tenant: str, name: str) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": name},
        "spec": {"tenantRef": {"name": tenant}, "type": "workflows", "reason": "Manual"},
    }
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", body)


async def test_a_silent_git_server_does_not_delay_another_tenants_capture(
    tmp_path: Path,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
) -> None:
    ns = k8s_namespace
    silent = SilentServer()
    port = await silent.start()
    silent_repo = f"ssh://git@127.0.0.1:{port}/silent.git"
    make_history_tenant(k8s_api, ns, jira_sim, ssh_git, repo_name, tenant="slow", repository=silent_repo)
    make_tenant(k8s_api, ns, "other", jira_sim.base_url, "jira", ["workflows"])
    ctx = history_context(kube, ns, tmp_path / "mirrors")
    ctx.settings = replace(ctx.settings, max_concurrent_captures=1)  # one capture at a time in this process

    _snapshot(k8s_api, ns, "slow", "slow-1")
    _snapshot(k8s_api, ns, "other", "other-1")
    slow = asyncio.create_task(run_snapshot(ctx, get(k8s_api, ns, "snapshots", "slow-1")))
    # slow-1 is captured and its push hangs on the silent server (bounded: a broken capture fails here)
    await asyncio.wait_for(silent.connected.wait(), 120)
    await run_snapshot(ctx, get(k8s_api, ns, "snapshots", "other-1"))  # needs the only capture slot
    assert get(k8s_api, ns, "snapshots", "other-1")["status"]["phase"] == "Completed"
    assert silent.open, "the other tenant's capture waited for the hanging push"
    assert ctx.history_pushes.busy(f"{ns}/slow")
    await slow
    assert get(k8s_api, ns, "snapshots", "slow-1")["status"]["phase"] == "Completed"

    silent.hang_up()  # the server goes away: the push fails, with a reason in the tenant's status
    await ctx.history_pushes.idle()
    status = get(k8s_api, ns, "jiratenants", "slow")["status"]["history"]
    assert status["reason"] == "Unreachable" and status["lag"] == 1, status
