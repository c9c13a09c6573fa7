"""pytest fixtures for the real single-node cluster (test tooling, not shipped).

``node_cluster`` starts the control plane, controllers, containerd, kubelet and kube-proxy for a test
module (``jiradrift.dev.node``; about 7 s) and tears it all down, host state included, after it: one
node per machine, so the demo's test can start its own. ``operator_image`` builds the image from the
repository's Dockerfile once per session (cached across runs) and loads it into the node.
``tls_jira`` serves the Jira emulator over TLS on the node's bridge as ``https://jira.emulator.test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jiradrift.dev.controlplane import REPO_ROOT
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.tls_jira import TlsJira, tls_emulator


@pytest.fixture(scope="module")
def node_cluster() -> Iterator[Cluster]:
    with Cluster.start() as cluster:
        yield cluster


@dataclass(frozen=True)
class OperatorImage:
    repository: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@pytest.fixture(scope="session")
def operator_image_tarball() -> tuple[Path, str]:
    return build_operator_image(REPO_ROOT)


@pytest.fixture(scope="module")
def operator_image(node_cluster: Cluster, operator_image_tarball: tuple[Path, str]) -> OperatorImage:
    tarball, ref = operator_image_tarball
    node_cluster.import_image(tarball)
    repository, tag = ref.rsplit(":", 1)
    return OperatorImage(repository, tag)


@pytest.fixture(scope="module")
def tls_jira(node_cluster: Cluster) -> Iterator[TlsJira]:
    with tls_emulator(size="small", seed=1) as jira:
        yield jira
