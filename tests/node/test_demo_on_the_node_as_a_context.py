"""`jiradrift demo --context NAME`: the demo on a cluster the user already has, the emulator as the chart's pod.

The node stands in for the user's cluster: it is reached only through its kubeconfig's context, with
kubectl and helm from PATH, the operator image and the emulator image (built from their Dockerfiles)
in the node's registry (pushed there by the release scripts; the node's containerd pulls them by tag, as
from any registry the user's cluster trusts). Needs the node (root); the lead runs tests/node.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.operator.test_demo import assert_demo_shows_the_incremental_window_history_and_comparison
from tests.plugins.node import EMULATOR_REPOSITORY, Published, ReleaseTools, forget_crds

from jiradrift.dev.controlplane import REPO_ROOT
from jiradrift.dev.node import Cluster, build_operator_image

pytestmark = pytest.mark.k8s


# pushes the emulator image (about 500 MB) and pulls both images from the registry; then waits for an
# incremental window (1m) and the git push
@pytest.mark.timeout(1200)
def test_demo_against_a_kubectl_context_shows_and_accepts_a_drift(
    node_cluster: Cluster, published: Published, release_tools: ReleaseTools
) -> None:
    forget_crds(node_cluster)
    tarball, _ = build_operator_image(REPO_ROOT, "Dockerfile.emulator")
    emulator_tag = f"{published.registry.address}/{EMULATOR_REPOSITORY}:{published.version}"
    release_tools.script(published.source, "push-image-tarball.sh", str(tarball), emulator_tag)
    operator_tag = f"{published.image_repository}:{published.version}"
    plane = node_cluster.plane
    # The user's shell: a kubeconfig naming the context, kubectl and helm on PATH.
    kubeconfig_env = {
        **os.environ,
        "KUBECONFIG": str(plane.kubeconfig),
        "PATH": f"{plane.bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "200",
    }
    contexts = subprocess.run(
        ["kubectl", "config", "get-contexts", "-o", "name"],
        capture_output=True,
        text=True,
        env=kubeconfig_env,
        check=True,
    ).stdout.split()
    assert contexts == ["jiradrift"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jiradrift",
            "demo",
            "--context",
            "jiradrift",
            "--image",
            operator_tag,
            "--emulator-image",
            emulator_tag,
        ],
        capture_output=True,
        text=True,
        env=kubeconfig_env,
        timeout=1080,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]
    assert "emulator.enabled=true" in out
    lines = out.splitlines()
    assert any(line.startswith("jira-drift-operator-jira-emulator-") and "Running" in line for line in lines), out
    assert any(
        line.startswith("jira-drift-operator-") and "Running" in line and "emulator" not in line for line in lines
    )
    # the sandbox site and the git server as pods beside them
    assert any(line.startswith("pod/jira-sandbox ") and "Running" in line for line in lines), out
    assert any(line.startswith("pod/git-server ") and "Running" in line for line in lines), out
    assert "modified workflow/" in out
    drifted = out.index("Drifted=True (UnacceptedChanges)")
    accepted = out.index("workflows: accepted acme-workflows-inc-", drifted)
    assert out.index("Drifted=False (MatchesAccepted)", accepted) > accepted
    assert_demo_shows_the_incremental_window_history_and_comparison(out)
    # Without --keep the demo removes what it installed.
    released = subprocess.run(
        ["helm", "list", "-n", "jira-demo", "-q"], capture_output=True, text=True, env=kubeconfig_env, check=True
    )
    assert released.stdout.strip() == ""
    forget_crds(node_cluster)
