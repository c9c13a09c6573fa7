"""Fixtures for the alert and dashboard tests: promtool (built from Go modules) and helm.

``promtool`` runs ``tools/build-promtool.sh`` (seconds when cached; CI's bootstrap builds it first)
unless ``JIRADRIFT_PROMTOOL`` names a binary.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.chart.chartlib import REPO, Helm

from jiradrift.dev.controlplane import find_binaries


@pytest.fixture(scope="session")
def promtool() -> Path:
    if binary := os.environ.get("JIRADRIFT_PROMTOOL"):
        return Path(binary)
    script = REPO / "tools" / "build-promtool.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{script} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    binary = Path(proc.stdout.strip().splitlines()[-1]) / "promtool"
    os.environ["JIRADRIFT_PROMTOOL"] = str(binary)
    return binary


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(find_binaries() / "helm", tmp_path_factory.mktemp("helm-home"))
