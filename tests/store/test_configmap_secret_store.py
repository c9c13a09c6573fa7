"""Snapshot payloads in Secrets: the store contract holds, and a namespace `view` binding cannot read them.

The built-in ``view`` ClusterRole is an aggregated role: kube-apiserver creates it at startup with
an aggregation rule (labels ``rbac.authorization.k8s.io/aggregate-to-view``) and creates the
``system:aggregate-to-view`` role that carries the rules, but the aggregation itself is done by
kube-controller-manager, which this control plane does not run. So the viewer here is bound to a
ClusterRole holding exactly the rules of every role ``view`` aggregates, which is what ``view``
holds in a real cluster.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.store.builders import put_snapshot
from tests.store.contract import StoreContract

from jiradrift.dev.kubejson import request_json
from jiradrift.kube.client import Kube
from jiradrift.store.configmap import SNAPSHOT_PACK_TYPE, ConfigMapStore, SecretStore

pytestmark = pytest.mark.k8s

AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


@pytest.fixture
def make_store(kube: Kube, k8s_namespace: str) -> Callable[..., SecretStore]:
    def make(**kwargs: Any) -> SecretStore:
        kwargs.setdefault("gc_grace", timedelta(0))
        return SecretStore(kube, k8s_namespace, **kwargs)

    return make


class TestSecretStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store: Callable[..., SecretStore]) -> Iterator[SecretStore]:
        yield make_store()

    @pytest.fixture
    def tenant_store(self, make_store: Callable[..., SecretStore]) -> Callable[[str], SecretStore]:
        return lambda tenant: make_store(tenant=tenant)


def _view_rules(api: k8s.ApiClient) -> list[k8s.V1PolicyRule]:
    rbac = k8s.RbacAuthorizationV1Api(api)
    view = rbac.read_cluster_role("view")
    selectors = [s.match_labels or {} for s in view.aggregation_rule.cluster_role_selectors]
    assert {AGGREGATE_TO_VIEW: "true"} in selectors
    aggregated = rbac.list_cluster_role(label_selector=f"{AGGREGATE_TO_VIEW}=true").items
    assert "system:aggregate-to-view" in {r.metadata.name for r in aggregated}
    return [rule for role in [view, *aggregated] for rule in role.rules or []]


def _can(api: k8s.ApiClient, user: str, verb: str, resource: str, namespace: str, name: str = "") -> bool:
    review = k8s.V1SubjectAccessReview(
        spec=k8s.V1SubjectAccessReviewSpec(
            user=user,
            resource_attributes=k8s.V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, name=name or None
            ),
        )
    )
    return bool(k8s.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed)


async def test_a_namespace_viewer_cannot_read_snapshot_payloads(
    make_store: Callable[..., SecretStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns, user = k8s_namespace, f"viewer-{uuid.uuid4().hex[:6]}"
    rbac = k8s.RbacAuthorizationV1Api(k8s_api)
    role = rbac.create_cluster_role(
        k8s.V1ClusterRole(metadata=k8s.V1ObjectMeta(name=f"test-view-{ns}"), rules=_view_rules(k8s_api))
    )
    rbac.create_namespaced_role_binding(
        ns,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name="viewer"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name),
            subjects=[k8s.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")],
        ),
    )
    try:
        payload = {"permissionscheme/10000": {"permissions": [{"holder": "role-actor", "secret": "x"}]}}
        await put_snapshot(make_store(), "acme-schemes-1", payload, tenant=f"{ns}/acme")
        parts = request_json(
            k8s_api, "GET", f"/api/v1/namespaces/{ns}/secrets", query={"fieldSelector": f"type={SNAPSHOT_PACK_TYPE}"}
        )["items"]
        assert parts, "the store wrote no Secrets"
        # The viewer really is a viewer: it reads the namespace's ConfigMaps (where payloads used to be)...
        assert _can(k8s_api, user, "get", "configmaps", ns) and _can(k8s_api, user, "list", "configmaps", ns)
        # ...and no payload part, neither by name nor by listing.
        assert not _can(k8s_api, user, "list", "secrets", ns)
        for part in parts:
            assert not _can(k8s_api, user, "get", "secrets", ns, part["metadata"]["name"])
    finally:
        rbac.delete_cluster_role(role.metadata.name)


async def test_the_secret_store_never_touches_a_secret_of_another_type(
    make_store: Callable[..., SecretStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    """A credential Secret named like a part is neither read as one nor listed with the parts."""
    store = make_store()
    name = store.manifest_name("acme-1")
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {"jiradrift.io/part": "manifest", "app.kubernetes.io/managed-by": "jira-drift-operator"},
        },
        "data": {"token": base64.b64encode(b"t").decode()},
    }
    k8s.CoreV1Api(k8s_api).create_namespaced_secret(k8s_namespace, body)
    assert list(await store.list_manifests()) == []
    with pytest.raises(KeyError):
        await store.get_manifest("acme-1")
    assert ConfigMapStore.TYPE is None and SecretStore.TYPE == SNAPSHOT_PACK_TYPE
