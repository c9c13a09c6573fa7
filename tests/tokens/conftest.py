"""Fixtures for the token tests: the async Kubernetes client (``kube``, tests/plugins/k8s.py) counting its calls."""

from __future__ import annotations

import pytest
from tokenlib import CountingKube

from jiradrift.kube.client import Kube


@pytest.fixture
def counting_kube(kube: Kube) -> CountingKube:
    return CountingKube(kube)
