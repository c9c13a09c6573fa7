"""Fixtures for the token tests: the one async Kubernetes client, and one that counts its calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tokenlib import CountingKube

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.client import Kube


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[Kube]:
    async with await Kube.connect(control_plane.kubeconfig) as client:
        yield client


@pytest.fixture
def counting_kube(kube: Kube) -> CountingKube:
    return CountingKube(kube)
