"""pytest fixtures for the real single-node cluster (test tooling, not shipped).

``node_cluster`` starts the control plane, controllers, containerd, kubelet and kube-proxy once per
session (``jiradrift.dev.node``) and tears it all down, host state included, at the end.
``operator_image`` builds the image from the repository's Dockerfile (cached) and loads it into the
node. ``tls_jira`` serves the Jira emulator over TLS on the node's bridge as
``https://jira.emulator.test``, with a test CA the chart is told to trust.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jiradrift.dev.controlplane import _CA, REPO_ROOT, _pem_cert, _pem_key
from jiradrift.dev.node import GATEWAY, Cluster, build_operator_image
from jiradrift.sim.emulator import Emulator, RunningEmulator

JIRA_HOST = "jira.emulator.test"


@pytest.fixture(scope="session")
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
def operator_image(node_cluster: Cluster) -> OperatorImage:
    tarball, ref = build_operator_image(REPO_ROOT)
    node_cluster.import_image(tarball)
    repository, tag = ref.rsplit(":", 1)
    return OperatorImage(repository, tag)


@dataclass(frozen=True)
class TlsJira:
    sim: RunningEmulator
    ca_pem: str
    url: str
    ip: str
    host: str


@pytest.fixture(scope="module")
def tls_jira(node_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsJira]:
    ca = _CA.create("jiradrift-test-jira-ca")
    key, cert = ca.issue(JIRA_HOST, server=True, sans=[JIRA_HOST])
    d: Path = tmp_path_factory.mktemp("jira-tls")
    (d / "tls.crt").write_bytes(_pem_cert(cert))
    (d / "tls.key").write_bytes(_pem_key(key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(d / "tls.crt", d / "tls.key")
    url = f"https://{JIRA_HOST}"
    with Emulator(size="small", seed=1, host=GATEWAY, port=443, tls=context, public_url=url).running() as sim:
        yield TlsJira(sim, _pem_cert(ca.cert).decode(), url, GATEWAY, JIRA_HOST)
