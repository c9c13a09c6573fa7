"""The CLI is also a kubectl plugin: `kubectl jiradrift ...`, found by kubectl on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.dev.controlplane import find_binaries


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("jiradrift "), result.output


def test_kubectl_runs_the_cli_as_a_plugin() -> None:
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "kubectl-jiradrift").exists(), "the kubectl-jiradrift console script is installed"
    kubectl = find_binaries() / "kubectl"
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{kubectl.parent}{os.pathsep}/usr/bin:/bin"}
    listed = subprocess.run([str(kubectl), "plugin", "list"], env=env, capture_output=True, text=True, check=False)
    assert str(venv_bin / "kubectl-jiradrift") in listed.stdout, listed.stdout + listed.stderr
    proc = subprocess.run(
        [str(kubectl), "jiradrift", "--version"], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("jiradrift "), proc.stdout
