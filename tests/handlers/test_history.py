"""spec.history in the operator: a completed Snapshot with changes is pushed, authored by the Jira
user the emulator's audit log names, and status.history says what happened (or what to fix).

The Snapshot handler runs in this process against the real kube-apiserver, the emulator, and the
SSH git server of tests/plugins/git.py.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s
from tests.cmd.test_history_export import export
from tests.history.helpers import git, snapshots_on
from tests.operator.kube import get, make_secret, make_tenant
from tests.operator.test_snapshot_resume import make_snapshot, run_until_final
from tests.plugins.git import SshGitServer, new_repo

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.history.settings import HistorySettings
from jiradrift.kube.client import Kube
from jiradrift.model.report import DriftAuthor
from jiradrift.net.hosts import HostAllowlist
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.site import ADMIN_ACCOUNT_ID
from jiradrift.sim.users import BOB

pytestmark = pytest.mark.k8s


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[Kube]:
    async with await Kube.connect(control_plane.kubeconfig) as client:
        yield client


def _context(
    kube: Kube, ns: str, workdir: Path, history_hosts: str = "127.0.0.1", store_path: Path | None = None
) -> OperatorContext:
    settings = OperatorSettings(
        namespaces=[ns],
        allowed_hosts=HostAllowlist.parse("127.0.0.1"),
        history=HistorySettings(hosts=HostAllowlist.parse(history_hosts), workdir=workdir),
        **({"store": "filesystem", "store_path": store_path} if store_path is not None else {}),
    )
    return OperatorContext(kube=kube, settings=settings, holder="test-holder")


async def test_a_changed_snapshot_is_pushed_with_the_audit_author(
    tmp_path: Path,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    bare = new_repo(ssh_git.root, repo_name)
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_secret(
        k8s_api, ns, "git", {"ssh-privatekey": ssh_git.client_key, "known_hosts": ssh_git.host_key_line}, tenants="acme"
    )
    history = {
        "repository": ssh_git.url(repo_name),
        "branch": "main",
        "pathPrefix": "jira/acme",
        "secretRef": {"name": "git"},
    }
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows"], history=history)
    ctx = _context(kube, ns, tmp_path / "mirrors")

    make_snapshot(k8s_api, ns, "base")
    base, _ = await run_until_final(ctx, k8s_api, ns, "base")
    assert base["status"]["phase"] == "Completed"
    await ctx.history_pushes.idle()  # the push runs after the capture, outside its slot
    assert snapshots_on(bare) == ["base"]

    workflow = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
    jira_sim.admin.change_workflow(workflow["id"], description="changed by the test")  # audited as the admin
    make_snapshot(k8s_api, ns, "s2")
    s2, _ = await run_until_final(ctx, k8s_api, ns, "s2")
    assert s2["status"]["phase"] == "Completed" and s2["status"]["drift"]["total"] >= 1
    await ctx.history_pushes.idle()
    assert snapshots_on(bare) == ["base", "s2"]
    head = git(bare, "log", "-1", "--format=%an <%ae>|%cn|%B", "main")
    # the display name Jira gives the audit log's account id; its e-mail is hidden: the .invalid address
    assert head.startswith(f"Alice Admin <{ADMIN_ACCOUNT_ID}@users.noreply.jiradrift.invalid>|jiradrift|"), head
    assert f"Jiradrift-Tenant: {ns}/acme" in head and "Jiradrift-Snapshot: s2" in head
    changed = git(bare, "show", "--name-status", "--format=", "main").split("\n")
    assert changed[0].startswith("M\tjira/acme/workflows/.index/") and changed[0].endswith(".jsonl")
    assert changed[1:] == [f"M\tjira/acme/workflows/workflow/{workflow['name']}.yaml", ""]

    tenant = get(k8s_api, ns, "jiratenants", "acme")["status"]["history"]
    assert tenant["lastCommit"] == git(bare, "rev-parse", "main").strip()
    assert tenant["lastSnapshot"] == "s2" and tenant["lag"] == 0 and not tenant.get("reason")
    assert metrics.HISTORY_LAST_PUSH.labels(ns, "acme")._value.get() > 0


@pytest.mark.parametrize(
    ("secret", "history_hosts", "reason", "says"),
    [
        ({"known_hosts": "WRONG"}, "127.0.0.1", "HostKeyMismatch", "known_hosts"),
        ({}, "git.example.com", "InvalidSpec", "history.allowedHosts"),
        ({"opt-in": "other"}, "127.0.0.1", "SecretNotOptedIn", "kubectl annotate"),
    ],
)
async def test_a_failed_push_says_what_to_fix_and_the_snapshot_still_completes(
    tmp_path: Path,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
    secret: dict[str, str],
    history_hosts: str,
    reason: str,
    says: str,
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    bare = new_repo(ssh_git.root, repo_name)
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    known = ssh_git.wrong_host_line if secret.get("known_hosts") == "WRONG" else ssh_git.host_key_line
    data = {"ssh-privatekey": ssh_git.client_key, "known_hosts": known}
    make_secret(k8s_api, ns, "git", data, tenants=secret.get("opt-in", "acme"))
    history = {"repository": ssh_git.url(repo_name), "secretRef": {"name": "git"}}
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows"], history=history)
    before = metrics.HISTORY_FAILURES.labels(ns, "acme", reason)._value.get()
    make_snapshot(k8s_api, ns, "base")
    snap, _ = await run_until_final(ctx := _context(kube, ns, tmp_path / "m", history_hosts), k8s_api, ns, "base")
    await ctx.history_pushes.idle()
    assert snap["status"]["phase"] == "Completed"
    status = get(k8s_api, ns, "jiratenants", "acme")["status"]["history"]
    assert status["reason"] == reason and says in status["message"], status
    assert status["lag"] == 1 and status.get("lastFailureTime")
    assert metrics.HISTORY_FAILURES.labels(ns, "acme", reason)._value.get() == before + 1
    assert not subprocess.run(["git", f"--git-dir={bare}", "for-each-ref"], capture_output=True, text=True).stdout


async def test_snapshots_pushed_after_a_failure_keep_their_authors(
    tmp_path: Path,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
) -> None:
    """Pushes fail (the host key is wrong) while Bob and then Alice change a workflow; once the key
    is fixed, the next push commits every waiting Snapshot, in order, each authored by its own
    Jira user: Bob with the address Jira shows, Alice (whose address is hidden) with the .invalid one."""
    ns, creds = k8s_namespace, jira_sim.credentials
    bare = new_repo(ssh_git.root, repo_name)
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    wrong = {"ssh-privatekey": ssh_git.client_key, "known_hosts": ssh_git.wrong_host_line}
    make_secret(k8s_api, ns, "git", wrong, tenants="acme")
    history = {"repository": ssh_git.url(repo_name), "secretRef": {"name": "git"}}
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows"], history=history)
    ctx = _context(kube, ns, tmp_path / "mirrors")
    workflow = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")

    for name, author in (("base", None), ("s2", BOB.account_id), ("s3", ADMIN_ACCOUNT_ID)):
        if author is not None:
            jira_sim.admin.act_as(author)
            jira_sim.admin.change_workflow(workflow["id"], description=f"changed for {name}")
        if name == "s3":  # the admin fixes the pinned host key before the last Snapshot
            fixed = {"known_hosts": base64.b64encode(ssh_git.host_key_line.encode()).decode()}
            k8s.CoreV1Api(k8s_api).patch_namespaced_secret("git", ns, {"data": fixed})
        make_snapshot(k8s_api, ns, name)
        snap, _ = await run_until_final(ctx, k8s_api, ns, name)
        assert snap["status"]["phase"] == "Completed"
        await ctx.history_pushes.idle()
        if name != "s3":
            assert get(k8s_api, ns, "jiratenants", "acme")["status"]["history"]["reason"] == "HostKeyMismatch"

    assert snapshots_on(bare) == ["base", "s2", "s3"]
    authors = git(bare, "log", "--reverse", "--format=%an <%ae>", "main").splitlines()
    assert authors == [
        "jiradrift <operator@users.noreply.jiradrift.invalid>",  # the first snapshot: nobody changed anything
        "Bob Builder <bob@example.com>",
        f"Alice Admin <{ADMIN_ACCOUNT_ID}@users.noreply.jiradrift.invalid>",
    ]
    assert get(k8s_api, ns, "jiratenants", "acme")["status"]["history"]["lag"] == 0


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
        return _context(self.kube, self.ns, self.tmp / "mirrors", store_path=store_path)

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


def _history_tenant(
    api: k8s.ApiClient, ns: str, sim: RunningEmulator, server: SshGitServer, repo: str, known: str
) -> Path:
    """Tenant ``acme`` whose history goes to a new repository ``repo`` (returned) with host key ``known`` pinned."""
    bare = new_repo(server.root, repo)
    make_secret(api, ns, "jira", {"email": sim.credentials.email, "token": sim.credentials.api_token})
    make_secret(api, ns, "git", {"ssh-privatekey": server.client_key, "known_hosts": known}, tenants="acme")
    history = {"repository": server.url(repo), "secretRef": {"name": "git"}}
    make_tenant(api, ns, "acme", sim.base_url, "jira", ["workflows"], history=history)
    return bare


@pytest.fixture
def wrong_key(
    jira_sim: RunningEmulator,
    ssh_git: SshGitServer,
    repo_name: str,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    kube: Kube,
    tmp_path: Path,
) -> HistoryTenant:
    """A history tenant whose pushes fail (the wrong host key is pinned) until ``fix_host_key``."""
    bare = _history_tenant(k8s_api, k8s_namespace, jira_sim, ssh_git, repo_name, ssh_git.wrong_host_line)
    return HistoryTenant(k8s_namespace, k8s_api, kube, jira_sim, ssh_git, bare, tmp_path)


ALICE = f"Alice Admin <{ADMIN_ACCOUNT_ID}@users.noreply.jiradrift.invalid>"  # Jira hides her e-mail
OPERATOR = "jiradrift <operator@users.noreply.jiradrift.invalid>"


def _global_workflow(sim: RunningEmulator) -> str:
    return str(next(w for w in sim.site.workflows if w["scope"]["type"] == "GLOBAL")["id"])


async def test_authors_kept_with_the_drift_report_survive_a_restart_and_reach_an_export(
    wrong_key: HistoryTenant,
) -> None:
    """Alice changes a workflow while pushes fail: her Snapshot's stored drift report names her. The
    operator restarts (a new context: nothing of the failed push is left in memory), the key is fixed,
    Bob changes the workflow: the push commits Alice's Snapshot as hers, read from the store.
    ``jiradrift history export`` of the same store gives the same authors."""
    t, store_path = wrong_key, wrong_key.tmp / "store"
    before = t.context(store_path)
    await t.snapshot(before, "base")
    t.sim.admin.change_workflow(_global_workflow(t.sim), description="changed by Alice")  # audited as the admin
    await t.snapshot(before, "s2")
    assert get(t.api, t.ns, "jiratenants", "acme")["status"]["history"]["reason"] == "HostKeyMismatch"
    stored = await (await before.store_for(t.ns, f"{t.ns}/acme")).get_drift("s2")
    assert stored is not None and stored.has_drift and stored.authors == [DriftAuthor(ADMIN_ACCOUNT_ID, "Alice Admin")]

    after = t.context(store_path)  # a restarted operator
    t.fix_host_key()
    t.sim.admin.act_as(BOB.account_id)
    t.sim.admin.change_workflow(_global_workflow(t.sim), description="changed by Bob")
    await t.snapshot(after, "s3")
    expected = [OPERATOR, ALICE, "Bob Builder <bob@example.com>"]
    assert snapshots_on(t.bare) == ["base", "s2", "s3"] and t.authors() == expected

    done = export(str(store_path / "namespaces" / t.ns), str(t.tmp / "export.git"))
    assert done.returncode == 0, done.stderr
    assert snapshots_on(t.tmp / "export.git") == ["base", "s2", "s3"] and t.authors(t.tmp / "export.git") == expected


async def test_a_resumed_snapshot_whose_audit_log_now_fails_is_pushed_with_its_stored_authors(
    wrong_key: HistoryTenant,
) -> None:
    """The first attempt stores the drift report with Alice as its author, then fails before the
    push is queued; the audit log is forbidden from then on. The resumed attempt reads the report
    back (no attribution of its own) and the commit is still Alice's."""
    t = wrong_key
    t.fix_host_key()
    ctx = t.context()
    await t.snapshot(ctx, "base")
    t.sim.admin.change_workflow(_global_workflow(t.sim), description="changed by Alice")  # audited as the admin
    faults: list[str] = []

    def fail_once_then_forbid_the_audit_log(step: str) -> None:
        if step == "tenant-status" and not faults:
            faults.append(step)
            t.sim.faults.fail_object("/rest/api/3/auditing/record", status=403, times=None)
            raise RuntimeError(f"injected at {step}")

    ctx.before_step = fail_once_then_forbid_the_audit_log
    assert await t.snapshot(ctx, "s2") == 2 and faults == ["tenant-status"]
    assert snapshots_on(t.bare) == ["base", "s2"] and t.authors() == [OPERATOR, ALICE]
