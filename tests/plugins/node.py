"""pytest fixtures for the real single-node cluster and the registry it pulls from (test tooling, not shipped).

``node_cluster`` starts the control plane, controllers, containerd, kubelet and kube-proxy once per
session (``jiradrift.dev.node``; about 7 s) and tears it all down, host state included, after the
last test that needs it (a later test may start a node of its own). Each
test module that installs the chart starts from a cluster without the project's CRDs
(:func:`forget_crds`), as a new cluster would be.

``node_registry`` is the CNCF distribution registry on loopback with TLS (a CA made for the session).
The node's containerd pulls from it as from any private registry: ``certs.d/<host:port>/hosts.toml``
names the registry and trusts that CA for it only (``Cluster.trust_registry``); containerd runs in the
host's network namespace, so loopback is where the node sees it. TLS rather than plain HTTP declared
insecure: it is what a user's registry serves, and the same CA file is what every client (crane, cosign,
helm, containerd) is given, so nothing in the chain is told to skip verification.

``published`` is the release of this tree as the release scripts push it (``tools/release/*.sh``): the
image built from the Dockerfile (``tools/build-image.sh``, cached) pushed and signed by digest with a
cosign key made for the session, the chart stamped with that digest as its default image, packaged,
pushed as OCI and signed. :func:`publish` does the same for another version (the upgrade test's previous
release, built from a copy of this tree with a lower version).

``tls_jira`` serves the Jira emulator over TLS on the node's bridge as ``https://jira.emulator.test``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.plugins.registry import Registry, go_tool, start_registry
from tests.release.releaselib import run, scratch_repo

from jiradrift import __version__
from jiradrift.dev.controlplane import REPO_ROOT
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.tls_jira import TlsJira, tls_emulator

IMAGE_REPOSITORY = "jiradrift/jira-drift-operator"
EMULATOR_REPOSITORY = "jiradrift/jira-drift-emulator"
CHART_REPOSITORY = "jiradrift/charts"
CRDS = ("jiratenants.jiradrift.io", "snapshots.jiradrift.io", "sitecomparisons.jiradrift.io")


_running: list[Cluster] = []  # the session's node while it runs


def _stop_node() -> None:
    while _running:
        _running.pop().stop()


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[Cluster]:
    cluster = Cluster.launch()
    _running.append(cluster)
    try:
        yield cluster
    finally:
        _stop_node()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the session's node as soon as no further test needs it, not at the end of the session: one
    node per machine, and a later test (``tests/operator/test_demo.py``) starts its own. The node tests
    are collected together (one directory), so the node is started once."""
    if _running and (nextitem is None or "node_cluster" not in getattr(nextitem, "fixturenames", ())):
        _stop_node()


def forget_crds(cluster: Cluster) -> None:
    """Delete the project's CRDs (and so every JiraTenant and Snapshot) that an earlier module's release
    left (``crds.keep``), and wait until they are gone: a new release then installs its own."""
    cluster.plane.kubectl("delete", "crd", *CRDS, "--ignore-not-found", "--wait=true", "--timeout=120s")


@dataclass(frozen=True)
class ReleaseTools:
    """The environment the release scripts run in against the node's registry: its CA as the only trust
    store of crane, cosign and helm, the session's cosign key, helm's state in a scratch directory, and
    no way off the machine (a proxy on a closed port)."""

    env: dict[str, str]
    ca: Path
    key: Path
    pub: Path

    def script(self, repo: Path, name: str, *args: str, check: bool = True, pub: Path | None = None) -> str:
        """tools/release/<name> of ``repo``: its stdout (stdout and stderr when check is False)."""
        env = {**self.env, "COSIGN_PUB": str(pub or self.pub)}
        return run(repo, name, *args, env=env, check=check)

    def crane(self, *args: str) -> str:
        proc = subprocess.run(
            [self.env["JIRADRIFT_CRANE_BIN"], *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"crane {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()


@pytest.fixture(scope="session")
def node_registry(node_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("node-registry"), host="127.0.0.1", tls=True) as registry:
        assert registry.ca is not None
        node_cluster.trust_registry(registry.address, registry.ca)
        yield registry


def cosign_key_pair(cosign: Path, directory: Path) -> tuple[Path, Path]:
    """A cosign key pair made for the test (empty password)."""
    proc = subprocess.run(
        [str(cosign), "generate-key-pair"],
        cwd=directory,
        env={"COSIGN_PASSWORD": "", "PATH": "/usr/bin:/bin", "HOME": str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return directory / "cosign.key", directory / "cosign.pub"


@pytest.fixture(scope="session")
def release_tools(
    node_cluster: Cluster, node_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> ReleaseTools:
    assert node_registry.ca is not None
    home = tmp_path_factory.mktemp("release-tools")
    cosign = go_tool("cosign")
    key, pub = cosign_key_pair(cosign, home)
    env = {
        "JIRADRIFT_HELM_BIN": str(node_cluster.plane.bin_dir / "helm"),
        "JIRADRIFT_COSIGN_BIN": str(cosign),
        "JIRADRIFT_CRANE_BIN": str(go_tool("crane")),
        "SSL_CERT_FILE": str(node_registry.ca),
        "SSL_CERT_DIR": str(home / "no-system-certificates"),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
        "TUF_ROOT": str(home / "sigstore"),
        "DOCKER_CONFIG": str(home / "docker"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "COSIGN_KEY": str(key),
        "COSIGN_PASSWORD": "",
    }
    return ReleaseTools(env, node_registry.ca, key, pub)


@dataclass(frozen=True)
class Published:
    """One version released into the node's registry: the image and the chart, each signed by digest."""

    registry: Registry
    version: str
    image_digest: str
    chart_digest: str
    source: Path  # the (scratch copy of the) tree it was built from, stamped with the version and digest

    @property
    def image_repository(self) -> str:
        return f"{self.registry.address}/{IMAGE_REPOSITORY}"

    @property
    def image(self) -> str:
        """What the chart's pods run: repository:version@digest (the tag informational)."""
        return f"{self.image_repository}:{self.version}@{self.image_digest}"

    @property
    def chart(self) -> str:
        """The chart's OCI reference without a version, for ``helm install``."""
        return f"oci://{self.registry.address}/{CHART_REPOSITORY}/jira-drift-operator"

    def helm_source(self, tools: ReleaseTools) -> list[str]:
        """``helm install|upgrade NAME`` arguments that take the chart from the registry, by version, and
        point the pinned image at the registry (the digest is the chart's own default)."""
        return [
            self.chart,
            *("--version", self.version, "--ca-file", str(tools.ca)),
            *("--set", f"image.repository={self.image_repository}"),
            *("--set", "image.pullPolicy=IfNotPresent"),
        ]

    def verify(self, tools: ReleaseTools) -> tuple[str, str]:
        """Check both signatures against the registry with the session's public key, as an admin does
        before installing; the (image, chart) digests cosign verified."""
        image = json.loads(tools.script(self.source, "verify.sh", f"{self.image_repository}@{self.image_digest}"))
        chart = json.loads(tools.script(self.source, "verify.sh", f"{self.chart[6:]}:{self.version}"))
        return (
            image[0]["critical"]["image"]["docker-manifest-digest"],
            chart[0]["critical"]["image"]["docker-manifest-digest"],
        )


def source_tree(version: str, dest: Path) -> Path:
    """A copy of the release inputs of this tree (and the image build script), stamped with ``version``."""
    repo = scratch_repo(dest)
    (repo / "tools" / "build-image.sh").write_bytes((REPO_ROOT / "tools" / "build-image.sh").read_bytes())
    if version != __version__:
        run(repo, "stamp.sh", version, env={"JIRADRIFT_HELM_DOCS_BIN": str(go_tool("helm-docs"))})
    return repo


def publish(tools: ReleaseTools, registry: Registry, source: Path, version: str, tarball: Path) -> Published:
    """Push and sign the image, pin the chart to its digest, package, push and sign the chart."""
    tag = f"{registry.address}/{IMAGE_REPOSITORY}:{version}"
    pushed = tools.script(source, "push-image-tarball.sh", str(tarball), tag)
    image_ref = pushed.strip().splitlines()[-1]
    tools.script(source, "sign.sh", image_ref)
    digest = image_ref.split("@", 1)[1]
    run(source, "stamp.sh", version, "--digest", digest, env={"JIRADRIFT_HELM_DOCS_BIN": str(go_tool("helm-docs"))})
    dist = source / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    tgz = tools.script(source, "chart.sh", str(dist)).strip().splitlines()[-1]
    chart_ref = tools.script(source, "push-chart.sh", tgz, f"oci://{registry.address}/{CHART_REPOSITORY}")
    chart_ref = chart_ref.strip().splitlines()[-1]
    tools.script(source, "sign.sh", chart_ref)
    return Published(registry, version, digest, chart_ref.split("@", 1)[1], source)


@pytest.fixture(scope="session")
def operator_image_tarball() -> tuple[Path, str]:
    return build_operator_image(REPO_ROOT)


@pytest.fixture(scope="session")
def published(
    release_tools: ReleaseTools,
    node_registry: Registry,
    operator_image_tarball: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Published:
    """This tree's release (version ``jiradrift.__version__``) in the node's registry."""
    source = source_tree(__version__, tmp_path_factory.mktemp("release-current") / "repo")
    return publish(release_tools, node_registry, source, __version__, operator_image_tarball[0])


@pytest.fixture(scope="module")
def tls_jira(node_cluster: Cluster) -> Iterator[TlsJira]:
    with tls_emulator(size="small", seed=1) as jira:
        yield jira
