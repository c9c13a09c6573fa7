"""Fixtures for the chart tests.

``helm`` runs helm without a cluster, its state in a temporary directory (never in the repository).
``fresh_cluster`` is a second, empty control plane for the install/upgrade/uninstall lifecycle:
the session ``control_plane`` already has the CRDs applied by kubectl, and a chart that installs
them must start from a cluster without them, as an admin's does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chartlib import Helm

from jiradrift.dev.controlplane import ControlPlane, find_binaries


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(find_binaries() / "helm", tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def fresh_cluster() -> Iterator[ControlPlane]:
    """An empty control plane (no CRDs) for the install/upgrade/uninstall lifecycle."""
    with ControlPlane.start() as plane:
        yield plane
