"""The README's first command stays true: `jiradrift demo` shows a real drift end to end, found by an
incremental window (issue 26), pushed to a git server on the node with the Jira author as the commit
author (issue 28), and a SiteComparison of the site with its sandbox (issue 27)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.sim.site import ADMIN_ACCOUNT_ID, Site
from jiradrift.sim.spec import SiteSpec
from jiradrift.sim.variant import sandbox_differences

pytestmark = pytest.mark.k8s

INCREMENTAL = re.compile(
    r"Snapshot (acme-workflows-inc-\S+): reason Incremental, status\.capture mode incremental, "
    r"reread (\d+) of (\d+) objects"
)


def assert_demo_shows_the_incremental_window_history_and_comparison(out: str) -> str:
    """What the demo shows of issues 26, 27 and 28 (on the node and with --context); the Incremental
    Snapshot's name."""
    # Issue 26: the change is found by an incremental window (MODE column, status.capture).
    found = INCREMENTAL.search(out)
    assert found, out
    snapshot, reread, items = found.group(1), int(found.group(2)), int(found.group(3))
    assert 0 < reread < items, found.group(0)
    assert any(snapshot in line and "incremental" in line.split() for line in out.splitlines()), out
    assert re.search(r"^NAME\s+TENANT\s+TYPE\s+WINDOW\s+PHASE\s+MODE\b", out, re.MULTILINE), out
    assert "detected by an incremental window" in out
    # its drift, attributed to the audit log's author, with the projects it affects
    assert re.search(
        rf"modified workflow/\S+ \(jira\) description \(medium\) 'Workflow updated' by .*{ADMIN_ACCOUNT_ID}.*; "
        r"affects [1-9]\d* project\(s\): [A-Z]",
        out,
    ), out
    assert f"workflows: accepted {snapshot}" in out

    # Issue 28: pushed to the git server on the cluster; the commit's author is the audit log's user.
    assert re.search(rf"status\.history: lastCommit [0-9a-f]{{40}}, lastSnapshot {snapshot}, lag 0", out), out
    log = out[out.index("$ git log main") :]
    head = log.splitlines()[1]
    author = re.match(r"[0-9a-f]{7,} author: (.+) <(\S+)>  committer: jiradrift$", head)
    assert author, head
    assert author.group(2) == f"{ADMIN_ACCOUNT_ID}@users.noreply.jiradrift.invalid", head
    assert author.group(1) != "jiradrift", head  # the Jira user (account id or display name), not the operator
    assert "workflows: 1 change(s) on https://jira.emulator.test (medium 1)" in log
    assert "- [medium] modified workflow 'jira' description (affects " in log
    assert f"Jiradrift-Snapshot: {snapshot}" in log
    assert "jira/acme/workflows/workflow/jira.yaml | 2 +-" in log
    assert "(first snapshot)" in log  # the full captures before it, authored by the operator

    # Issue 27: the site against its sandbox, with the sandbox's known differences (and the demo's edit).
    expected = {
        (d.op, f"{d.kind}/{d.key}")
        for d in sandbox_differences(Site.generate(SiteSpec.for_size("small"), 7, "https://jira.emulator.test"))
    } | {("modified", "workflow/jira")}
    rows = [line.split() for line in out.splitlines() if line.startswith("acme-vs-sandbox ")]
    assert rows and rows[0][1:5] == ["False", str(len(expected)), "0", "acme"], rows
    assert f"InSync=False (Different): {len(expected)} difference(s)" in out
    report = out[out.index("jiradrift comparison-report jira-demo/acme-vs-sandbox") :]
    assert f"in_sync: False; {len(expected)} difference(s)" in report
    listed = [line for line in report.splitlines() if re.match(r"  (added|removed|modified|renamed) ", line)]
    assert len(listed) == len(expected), report
    for op, key in expected:  # natural keys are names, with spaces
        assert any(re.match(rf"  {op} {re.escape(key)}\b.* \((low|medium|high)\) affects", x) for x in listed), report
    assert re.search(r"^  modified status/\S.* affects [1-9]\d* project\(s\): [A-Z]", report, re.MULTILINE), report
    return snapshot


@pytest.mark.timeout(900)
def test_demo_shows_a_drift(control_plane: ControlPlane) -> None:
    # control_plane: only for the built binaries (the demo starts its own node, after tests/node's is gone)
    env = {**os.environ, "JIRADRIFT_K8S_BIN": str(control_plane.bin_dir), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "jiradrift", "demo"], capture_output=True, text=True, env=env, timeout=840, check=False
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]
    assert "helm install jira-drift-operator" in out  # installed with the chart
    assert "image jira-drift-operator:dev-" in out  # built from the Dockerfile
    # The operator runs as the chart's pod on the node; the git server too.
    assert any(line.startswith("jira-drift-operator-") and "Running" in line for line in out.splitlines()), out
    assert any(line.startswith("pod/git-server ") and "Running" in line for line in out.splitlines()), out
    assert "DriftDetected" in out and "[audit: 'Workflow updated'" in out
    assert "modified workflow/" in out and "description" in out
    assert "1 of 1 events" in out  # jiradrift drift list --tenant reads it back from the cluster
    # The accept flow: Drifted=True with the changes listed, `jiradrift accept`, then Drifted=False.
    drifted = out.index("Drifted=True (UnacceptedChanges)")
    listed = out.index("workflows: 1 change since", drifted)  # drift list --unaccepted
    accepted = out.index("workflows: accepted acme-workflows-inc-", listed)  # jiradrift accept
    assert out.index("Drifted=False (MatchesAccepted)", accepted) > accepted
    assert_demo_shows_the_incremental_window_history_and_comparison(out)
    assert re.search(r"Demo finished in \d+s\.", out)
