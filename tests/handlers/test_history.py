"""spec.history in the operator: a completed Snapshot with changes is pushed, authored by the Jira
user the emulator's audit log names, and status.history says what happened (or what to fix).

The Snapshot handler runs in this process against the real kube-apiserver, the emulator, and the
SSH git server of tests/plugins/git.py; the tenant and its context come from tests/plugins/history.py.
"""

from __future__ import annotations

import subprocess

import pytest
from tests.cmd.test_history_export import export
from tests.history.helpers import git, snapshots_on
from tests.operator.kube import change_global_workflow, get
from tests.plugins.git import SshGitServer
from tests.plugins.history import HistoryTenant, HistoryTenants, history_context

from jiradrift.handlers import metrics
from jiradrift.model.report import DriftAuthor
from jiradrift.sim.site import ADMIN_ACCOUNT_ID
from jiradrift.sim.users import BOB

pytestmark = pytest.mark.k8s

ALICE = f"Alice Admin <{ADMIN_ACCOUNT_ID}@users.noreply.jiradrift.invalid>"  # Jira hides her e-mail
OPERATOR = "jiradrift <operator@users.noreply.jiradrift.invalid>"


async def test_a_changed_snapshot_is_pushed_with_the_audit_author(history_tenant: HistoryTenants) -> None:
    t = history_tenant(branch="main", pathPrefix="jira/acme")
    ns, bare = t.ns, t.bare
    ctx = t.context()
    await t.snapshot(ctx, "base")  # Completed, then its push (which runs after the capture, outside its slot)
    assert snapshots_on(bare) == ["base"]

    workflow = change_global_workflow(t.sim)  # audited as the admin
    await t.snapshot(ctx, "s2")
    assert get(t.api, ns, "snapshots", "s2")["status"]["drift"]["total"] >= 1
    assert snapshots_on(bare) == ["base", "s2"]
    head = git(bare, "log", "-1", "--format=%an <%ae>|%cn|%B", "main")
    # the display name Jira gives the audit log's account id; its e-mail is hidden: the .invalid address
    assert head.startswith(f"{ALICE}|jiradrift|"), head
    assert f"Jiradrift-Tenant: {ns}/acme" in head and "Jiradrift-Snapshot: s2" in head
    changed = git(bare, "show", "--name-status", "--format=", "main").split("\n")
    assert changed[0].startswith("M\tjira/acme/workflows/.index/") and changed[0].endswith(".jsonl")
    assert changed[1:] == [f"M\tjira/acme/workflows/workflow/{workflow['name']}.yaml", ""]

    tenant = get(t.api, ns, "jiratenants", "acme")["status"]["history"]
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
    history_tenant: HistoryTenants,
    ssh_git: SshGitServer,
    secret: dict[str, str],
    history_hosts: str,
    reason: str,
    says: str,
) -> None:
    known = ssh_git.wrong_host_line if secret.get("known_hosts") == "WRONG" else None
    t = history_tenant(known_hosts=known, opted_in=secret.get("opt-in"))
    ns, bare = t.ns, t.bare
    before = metrics.HISTORY_FAILURES.labels(ns, "acme", reason)._value.get()
    await t.snapshot(history_context(t.kube, ns, t.tmp / "m", history_hosts), "base")  # Completed all the same
    status = get(t.api, ns, "jiratenants", "acme")["status"]["history"]
    assert status["reason"] == reason and says in status["message"], status
    assert status["lag"] == 1 and status.get("lastFailureTime")
    assert metrics.HISTORY_FAILURES.labels(ns, "acme", reason)._value.get() == before + 1
    assert not subprocess.run(["git", f"--git-dir={bare}", "for-each-ref"], capture_output=True, text=True).stdout


async def test_snapshots_pushed_after_a_failure_keep_their_authors(wrong_key: HistoryTenant) -> None:
    """Pushes fail (the host key is wrong) while Bob and then Alice change a workflow; once the key
    is fixed, the next push commits every waiting Snapshot, in order, each authored by its own
    Jira user: Bob with the address Jira shows, Alice (whose address is hidden) with the .invalid one."""
    t = wrong_key
    ctx = t.context()
    for name, author in (("base", None), ("s2", BOB.account_id), ("s3", ADMIN_ACCOUNT_ID)):
        if author is not None:
            t.sim.admin.act_as(author)
            change_global_workflow(t.sim, f"changed for {name}")
        if name == "s3":  # the admin fixes the pinned host key before the last Snapshot
            t.fix_host_key()
        await t.snapshot(ctx, name)
        if name != "s3":
            assert get(t.api, t.ns, "jiratenants", "acme")["status"]["history"]["reason"] == "HostKeyMismatch"

    assert snapshots_on(t.bare) == ["base", "s2", "s3"]
    # the first snapshot: nobody changed anything
    assert t.authors() == [OPERATOR, "Bob Builder <bob@example.com>", ALICE]
    assert get(t.api, t.ns, "jiratenants", "acme")["status"]["history"]["lag"] == 0


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
    change_global_workflow(t.sim, "changed by Alice")  # audited as the admin
    await t.snapshot(before, "s2")
    assert get(t.api, t.ns, "jiratenants", "acme")["status"]["history"]["reason"] == "HostKeyMismatch"
    stored = await (await before.store_for(t.ns, f"{t.ns}/acme")).get_drift("s2")
    assert stored is not None and stored.has_drift and stored.authors == [DriftAuthor(ADMIN_ACCOUNT_ID, "Alice Admin")]

    after = t.context(store_path)  # a restarted operator
    t.fix_host_key()
    t.sim.admin.act_as(BOB.account_id)
    change_global_workflow(t.sim, "changed by Bob")
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
    change_global_workflow(t.sim, "changed by Alice")  # audited as the admin
    faults: list[str] = []

    def fail_once_then_forbid_the_audit_log(step: str) -> None:
        if step == "tenant-status" and not faults:
            faults.append(step)
            t.sim.faults.fail_object("/rest/api/3/auditing/record", status=403, times=None)
            raise RuntimeError(f"injected at {step}")

    ctx.before_step = fail_once_then_forbid_the_audit_log
    assert await t.snapshot(ctx, "s2") == 2 and faults == ["tenant-status"]
    assert snapshots_on(t.bare) == ["base", "s2"] and t.authors() == [OPERATOR, ALICE]
