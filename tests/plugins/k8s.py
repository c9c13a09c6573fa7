"""pytest fixtures for the real control plane (registered in tests/conftest.py; test tooling, not shipped).

``control_plane`` starts etcd + kube-apiserver once per session and installs the CRDs;
``k8s_namespace`` gives each test its own namespace; ``k8s_api`` is an ApiClient for it; ``kube``
is the operator's own async client (:class:`~jiradrift.kube.client.Kube`) for one test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.kube.client import Kube


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane.start() as plane:
        install_crds(plane, tmp_path_factory.mktemp("crds"))
        yield plane


@pytest.fixture(scope="session")
def k8s_api(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    api = k8s_config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield api
    api.close()


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[Kube]:
    async with await Kube.connect(control_plane.kubeconfig) as client:
        yield client


@pytest.fixture
def k8s_namespace(k8s_api: k8s.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = k8s.CoreV1Api(k8s_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    # Without kube-controller-manager a namespace never finishes terminating; deleting it still
    # keeps later `get -A` listings honest about what is live.
    core.delete_namespace(name)
