"""`jiradrift demo --context NAME` reaches the cluster through that context only, with kubectl and helm
from PATH, against the real kube-apiserver; its mistakes end in one line. (The whole demo needs pods,
hence a node: tests/node/test_demo_on_the_node_as_a_context.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubecontext import ContextCluster, ContextError

pytestmark = pytest.mark.k8s


@pytest.fixture
def user_shell(control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig with the test cluster as context `work` among others, kubectl and helm on PATH."""
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["contexts"] = [
        {"name": "work", "context": config["contexts"][0]["context"]},
        {"name": "elsewhere", "context": {"cluster": "nowhere", "user": "nobody"}},
    ]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["current-context"] = "elsewhere"  # the demo must not follow the current context
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("PATH", f"{control_plane.bin_dir}{os.pathsep}{os.environ['PATH']}")
    return kubeconfig


def test_the_named_context_is_used_whatever_the_current_one(user_shell: Path, tmp_path: Path) -> None:
    cluster = ContextCluster.open("work", tmp_path / "demo")
    assert cluster.kubeconfig.stat().st_mode & 0o077 == 0, "the flattened kubeconfig holds credentials"
    assert "kube-system" in cluster.kubectl("get", "namespaces", "-o", "name").stdout
    assert cluster.helm("list", "-A", "-q").returncode == 0
    # Not kind, k3d or minikube: nothing to load into, the image must be pullable.
    assert "must be pullable" in cluster.load_image("jira-drift-operator:demo")


def test_an_unknown_context_or_a_missing_tool_is_one_clear_error(
    user_shell: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ContextError, match=r"context 'nope'.*kubectl config get-contexts"):
        ContextCluster.open("nope", tmp_path / "demo")
    kind = ContextCluster("kind-demo", user_shell, tmp_path, "kubectl", "helm")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ContextError, match="`kind` is not on PATH"):
        kind.load_image("jira-drift-operator:demo")
    with pytest.raises(ContextError, match="`kubectl` is not on PATH"):
        ContextCluster.open("work", tmp_path / "demo")


def test_jiradrift_demo_with_an_unknown_context_ends_in_one_line(user_shell: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jiradrift", "demo", "--context", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "kubectl context 'nope'" in proc.stderr and "kubectl config get-contexts" in proc.stderr
