"""The README's first command stays true: `jiradrift demo` shows a real drift end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jiradrift.dev.controlplane import ControlPlane

pytestmark = pytest.mark.k8s


def test_demo_shows_a_drift(control_plane: ControlPlane) -> None:
    # control_plane: only for the built binaries (the demo starts its own node, after tests/node's is gone)
    env = {**os.environ, "JIRADRIFT_K8S_BIN": str(control_plane.bin_dir), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "jiradrift", "demo"], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]
    assert "helm install jira-drift-operator" in out  # installed with the chart
    assert "image jira-drift-operator:dev-" in out  # built from the Dockerfile
    # The operator runs as the chart's pod on the node.
    assert any(line.startswith("jira-drift-operator-") and "Running" in line for line in out.splitlines()), out
    assert "acme-workflows-after-change" in out and "Completed" in out
    assert "DriftDetected" in out and "[audit: 'Workflow updated'" in out
    assert "modified workflow/" in out and "description" in out
    assert "1 of 1 events" in out  # jiradrift drift list --tenant reads it back from the cluster
    # The accept flow: Drifted=True with the changes listed, `jiradrift accept`, then Drifted=False.
    drifted = out.index("Drifted=True (UnacceptedChanges)")
    listed = out.index("workflows: 1 change since", drifted)  # drift list --unaccepted
    accepted = out.index("workflows: accepted acme-workflows-after-change", listed)  # jiradrift accept
    assert out.index("Drifted=False (MatchesAccepted)", accepted) > accepted
    assert "Demo finished" in out
