"""RBAC proven against the real API server, with the chart's own ServiceAccount identities.

Each check is a SelfSubjectAccessReview sent *as* the ServiceAccount (a kubeconfig with its user
name and groups), so the answer is exactly what its pod would get. A few real calls follow, to
prove the rules and the tenant-spec admission policy hold for actual requests, not just reviews.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from chartlib import CHART, Helm, unique
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import wait_for

pytestmark = pytest.mark.k8s

G = "jiradrift.io"

# (verb, group, resource) the operator needs in every watched namespace: the contract in issue 7.
OPERATOR_NEEDS = [
    *[(v, G, "jiratenants") for v in ("get", "list", "watch", "patch")],
    ("patch", G, "jiratenants/status"),
    *[(v, G, "snapshots") for v in ("get", "list", "watch", "create", "patch", "delete")],
    ("patch", G, "snapshots/status"),
    *[(v, G, "sitecomparisons") for v in ("get", "list", "watch")],  # compared, never made or changed
    ("patch", G, "sitecomparisons/status"),
    ("create", "", "events"),
    *[(v, "coordination.k8s.io", "leases") for v in ("get", "create", "update", "delete")],
    # credentials: get, and update for refreshed tokens; the default (secret) store's payload parts:
    # list, create, patch, delete, confined to type jiradrift.io/snapshot-pack by the secret guard policy
    *[(v, "", "secrets") for v in ("get", "update", "list", "create", "patch", "delete")],
]
TOKEN_JOB_NEEDS = [
    ("get", G, "jiratenants"),
    ("list", G, "jiratenants"),
    ("patch", G, "jiratenants/status"),
    *[(v, "", "secrets") for v in ("get", "update")],
    # a refresh Lease is released by deleting it (kube/lease.py), so the next run creates it in one call
    *[(v, "coordination.k8s.io", "leases") for v in ("get", "create", "update", "delete")],
    ("create", "", "events"),
]
# In the release namespace: the membership Leases of sharded replicas (handlers/shard.py), and nothing else.
OPERATOR_MEMBERSHIP = [(v, "coordination.k8s.io", "leases") for v in ("get", "list", "create", "update", "delete")]
# Never, in a watched namespace.
OPERATOR_MUST_NOT = [
    *[(v, G, "jiratenants") for v in ("create", "delete", "deletecollection", "update")],
    ("watch", "", "secrets"),  # never called: credentials are read by name when needed
    *[(v, "", "configmaps") for v in ("get", "list", "create")],  # payloads are in Secrets by default
    ("create", "", "pods"),
    ("create", "", "pods/exec"),
    ("create", "", "serviceaccounts/token"),
    ("create", "rbac.authorization.k8s.io", "rolebindings"),
    ("create", "apps", "deployments"),
    ("deletecollection", G, "snapshots"),
    *[(v, G, "sitecomparisons") for v in ("create", "update", "patch", "delete")],
    # granted once, never called (the audit-log comparison in tests/node found them): gone
    *[(v, G, "jiratenants/status") for v in ("get", "update")],
    ("patch", "", "events"),
    ("create", "events.k8s.io", "events"),
    *[(v, "coordination.k8s.io", "leases") for v in ("list", "watch", "patch")],
]
TOKEN_JOB_MUST_NOT = [
    *[(v, G, "jiratenants") for v in ("patch", "update", "create", "delete", "watch")],
    *[(v, "", "secrets") for v in ("list", "watch", "create", "delete", "patch")],
    *[(v, G, "snapshots") for v in ("get", "create", "delete")],
    ("get", "", "configmaps"),
    *[(v, "coordination.k8s.io", "leases") for v in ("list", "watch", "patch")],
    ("create", "", "pods"),
    ("get", G, "jiratenants/status"),  # never called: status is only patched
]
# Never, anywhere (cluster-scoped or all namespaces), for both.
NOBODY = [
    *[(v, "apiextensions.k8s.io", "customresourcedefinitions") for v in ("create", "update", "patch", "delete")],
    ("list", "", "secrets"),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
    ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    ("create", "", "namespaces"),
]


@dataclass
class Identity:
    api: k8s.ApiClient

    def can(self, verb: str, group: str, resource: str, namespace: str = "") -> bool:
        resource, _, sub = resource.partition("/")
        review = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    verb=verb,
                    group=group,
                    resource=resource,
                    subresource=sub or None,
                    namespace=namespace or None,
                )
            )
        )
        return bool(k8s.AuthorizationV1Api(self.api).create_self_subject_access_review(review).status.allowed)

    def denied(self, checks: list[tuple[str, str, str]], namespace: str = "") -> list[tuple[str, ...]]:
        return [(*c, namespace) for c in checks if self.can(*c, namespace=namespace)]

    def missing(self, checks: list[tuple[str, str, str]], namespace: str = "") -> list[tuple[str, ...]]:
        return [(*c, namespace) for c in checks if not self.can(*c, namespace=namespace)]


def in_effect(identity: Identity, checks: list[tuple[str, str, str]], namespaces: list[str]) -> None:
    """Wait until the API server's authorizer grants every check: it sees new Roles and bindings
    through its own watch, a moment after they are created."""

    def nothing_missing() -> bool:
        missing = [m for ns in namespaces for m in identity.missing(checks, ns)]
        assert missing == [], f"not allowed (yet): {missing}"
        return True

    wait_for(nothing_missing, f"RBAC in effect in {namespaces}", timeout=60)


@dataclass
class Release:
    namespace: str
    watched: list[str]
    other: str
    operator: Identity
    token_job: Identity


def _identity(plane: ControlPlane, namespace: str, sa: str) -> Identity:
    return Identity(k8s_config.new_client_from_config(str(plane.service_account_kubeconfig(namespace, sa))))


def _install(plane: ControlPlane, release: str, namespace: str, *sets: str) -> dict[str, str]:
    # A short fullname: the harness authenticates a ServiceAccount with a client certificate whose
    # CN (system:serviceaccount:<ns>:<name>) may not exceed 64 characters.
    plane.helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--set",
        "crds.install=false",
        "--set",
        f"fullnameOverride={release}",
        *sets,
    )
    manifest = plane.helm("get", "manifest", release, "--namespace", namespace).stdout
    assert "kind: Deployment" in manifest
    sas = {}
    listed = plane.kubectl("get", "sa", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}", "-o", "json")
    for doc in json.loads(listed.stdout)["items"]:
        sas[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = doc["metadata"]["name"]
    return sas


@pytest.fixture(scope="module")
def namespaced(control_plane: ControlPlane) -> Iterator[Release]:
    ns, team1, team2, other = (unique(p) for p in ("jdr", "team1", "team2", "other"))
    for name in (ns, team1, team2, other):
        control_plane.kubectl("create", "namespace", name)
    release = unique("jd")
    sas = _install(control_plane, release, ns, "--set", f"watchNamespaces={{{team1},{team2}}}")
    installed = Release(
        ns,
        [team1, team2],
        other,
        _identity(control_plane, ns, sas["operator"]),
        _identity(control_plane, ns, sas["token-refresh"]),
    )
    in_effect(installed.operator, OPERATOR_NEEDS, installed.watched)
    in_effect(installed.token_job, TOKEN_JOB_NEEDS, installed.watched)
    yield installed
    control_plane.helm("uninstall", release, "--namespace", ns)


def test_operator_may_make_every_call_it_needs_in_each_watched_namespace(namespaced: Release) -> None:
    for ns in namespaced.watched:
        assert namespaced.operator.missing(OPERATOR_NEEDS, ns) == []


def test_token_job_may_make_every_call_it_needs_in_each_watched_namespace(namespaced: Release) -> None:
    for ns in namespaced.watched:
        assert namespaced.token_job.missing(TOKEN_JOB_NEEDS, ns) == []


def test_deny_list_is_denied(namespaced: Release) -> None:
    op, job = namespaced.operator, namespaced.token_job
    for ns in namespaced.watched:
        assert op.denied(OPERATOR_MUST_NOT, ns) == []
        assert job.denied(TOKEN_JOB_MUST_NOT, ns) == []
    for identity in (op, job):
        assert identity.denied(NOBODY) == []
        # Outside the watched namespaces: nothing at all.
        for ns in (namespaced.other, "default", "kube-system"):
            assert identity.denied(OPERATOR_NEEDS + TOKEN_JOB_NEEDS, ns) == []
    # Its own namespace: the operator's membership Leases only; the token job nothing.
    everything = OPERATOR_NEEDS + TOKEN_JOB_NEEDS + OPERATOR_MEMBERSHIP
    assert op.missing(OPERATOR_MEMBERSHIP, namespaced.namespace) == []
    assert op.denied([c for c in everything if c not in OPERATOR_MEMBERSHIP], namespaced.namespace) == []
    assert op.denied([(v, "coordination.k8s.io", "leases") for v in ("watch", "patch")], namespaced.namespace) == []
    assert job.denied(everything, namespaced.namespace) == []


def policy_refuses_spec_patch(identity: Identity, ns: str, tenant: str) -> str:
    """The refusal's body once the tenant-spec policy refuses a dry-run spec patch; else AssertionError."""
    try:
        k8s.CustomObjectsApi(identity.api).patch_namespaced_custom_object(
            G, "v1alpha1", ns, "jiratenants", tenant, {"spec": {"paused": True}}, dry_run="All"
        )
    except ApiException as exc:
        assert exc.status == 403 and "never changes a JiraTenant's spec" in str(exc.body), (exc.status, exc.body)
        return str(exc.body)
    raise AssertionError("a dry-run spec patch by the operator was admitted: the policy is not in effect yet")


def test_real_calls_obey_rbac_and_the_tenant_spec_guard(control_plane: ControlPlane, namespaced: Release) -> None:
    ns = namespaced.watched[0]
    admin = k8s_config.new_client_from_config(str(control_plane.kubeconfig))
    opt_in = {"jiradrift.io/allowed-tenants": "acme"}
    k8s.CoreV1Api(admin).create_namespaced_secret(
        ns,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(name="acme-jira", annotations=opt_in),
            string_data={"email": "a@b.c", "token": "t"},
        ),
    )
    k8s.CoreV1Api(admin).create_namespaced_secret(
        ns, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="app-db"), string_data={"password": "p"})
    )
    k8s.CoreV1Api(admin).create_namespaced_secret(
        namespaced.other,
        k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="not-yours"), string_data={"token": "t"}),
    )
    tenant = {
        "apiVersion": f"{G}/v1alpha1",
        "kind": "JiraTenant",
        "metadata": {"name": "acme"},
        "spec": {
            "site": "https://acme.atlassian.net",
            "auth": {"apiToken": {"secretRef": {"name": "acme-jira"}}},
        },
    }
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object(G, "v1alpha1", ns, "jiratenants", tenant)
    # The API server loads a new admission policy and its binding asynchronously: until it has,
    # the operator's spec patch would be admitted. Wait for a dry-run probe (nothing persists) to be
    # refused by the policy itself.
    wait_for(
        lambda: policy_refuses_spec_patch(namespaced.operator, ns, "acme"),
        "the tenant-spec admission policy to refuse the operator's spec patch",
        timeout=60,
    )

    def forbidden(call: object, *args: object, **kwargs: object) -> str:
        with pytest.raises(ApiException) as err:
            call(*args, **kwargs)  # type: ignore[operator]
        assert err.value.status == 403, err.value.body
        return str(err.value.body)

    for identity in (namespaced.operator, namespaced.token_job):
        objects, core = k8s.CustomObjectsApi(identity.api), k8s.CoreV1Api(identity.api)
        objects.patch_namespaced_custom_object_status(
            G, "v1alpha1", ns, "jiratenants", "acme", {"status": {"observedGeneration": 1}}
        )
        secret = core.read_namespaced_secret("acme-jira", ns)
        secret.string_data = {"token": "rotated"}
        core.replace_namespaced_secret("acme-jira", ns, secret)  # PUT with its resourceVersion
        forbidden(core.read_namespaced_secret, "not-yours", namespaced.other)
        spec_patch = {"spec": {"paused": True}}
        body = forbidden(objects.patch_namespaced_custom_object, G, "v1alpha1", ns, "jiratenants", "acme", spec_patch)
        if identity is namespaced.operator:  # RBAC allows patch (kopf finalizers); the policy refuses spec
            assert "never changes a JiraTenant's spec" in body
    # The operator's metadata writes (kopf's finalizer) still go through.
    operator = k8s.CustomObjectsApi(namespaced.operator.api)
    operator.patch_namespaced_custom_object(
        G,
        "v1alpha1",
        ns,
        "jiratenants",
        "acme",
        {"metadata": {"finalizers": ["kopf.zalando.org/KopfFinalizerMarker"]}},
    )
    core = k8s.CoreV1Api(namespaced.operator.api)
    pack = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="payload-0"), type="jiradrift.io/snapshot-pack", data={})
    core.create_namespaced_secret(ns, pack)
    core.patch_namespaced_secret("payload-0", ns, {"metadata": {"annotations": {"jiradrift.io/touched-at": "x"}}})
    core.delete_namespaced_secret("payload-0", ns)
    # RBAC cannot tell Secrets apart; the secret guard policy does: no other Secret is created,
    # deleted, or rewritten unless it opted in to a tenant (and the opt-in itself never changes).
    opaque = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="planted"), string_data={"token": "x"})
    assert "only Secrets of type jiradrift.io/snapshot-pack" in forbidden(core.create_namespaced_secret, ns, opaque)
    assert "deletes only Secrets" in forbidden(core.delete_namespaced_secret, "app-db", ns)
    foreign = core.read_namespaced_secret("app-db", ns)
    foreign.string_data = {"password": "stolen"}
    assert "opted in" in forbidden(core.replace_namespaced_secret, "app-db", ns, foreign)
    widened = core.read_namespaced_secret("acme-jira", ns)
    widened.metadata.annotations = {"jiradrift.io/allowed-tenants": "*"}
    assert "opted in" in forbidden(core.replace_namespaced_secret, "acme-jira", ns, widened)
    leases = k8s.CoordinationV1Api(namespaced.operator.api)
    leases.create_namespaced_lease(ns, k8s.V1Lease(metadata=k8s.V1ObjectMeta(name="snapshot-lock-x")))
    leases.delete_namespaced_lease("snapshot-lock-x", ns)
    forbidden(
        k8s.CustomObjectsApi(namespaced.operator.api).delete_namespaced_custom_object,
        G,
        "v1alpha1",
        ns,
        "jiratenants",
        "acme",
    )
    assert k8s.CoreV1Api(admin).read_namespaced_secret("acme-jira", ns).data["token"] == "cm90YXRlZA=="
    spec = k8s.CustomObjectsApi(admin).get_namespaced_custom_object(G, "v1alpha1", ns, "jiratenants", "acme")["spec"]
    assert spec.get("paused") is False


SECRETS = [(v, "", "secrets") for v in ("get", "list", "watch", "create", "update", "patch", "delete")]


def test_cluster_wide_mode_uses_cluster_roles_but_keeps_the_deny_list(control_plane: ControlPlane) -> None:
    """Cluster-wide, the operator serves tenants everywhere but holds Secrets only in the namespaces the
    admin named in rbac.secretNamespaces (issue 23: it could read every Secret in the cluster)."""
    ns, anywhere, tenants = unique("jdw"), unique("anywhere"), unique("tenants")
    for name in (ns, tenants):
        control_plane.kubectl("create", "namespace", name)
    release = unique("jdw")
    sas = _install(
        control_plane, release, ns, "--set", "rbac.clusterWide=true", "--set", f"rbac.secretNamespaces={{{tenants}}}"
    )
    try:
        op, job = (
            _identity(control_plane, ns, sas["operator"]),
            _identity(control_plane, ns, sas["token-refresh"]),
        )
        secretless_op = [c for c in OPERATOR_NEEDS if c[2] != "secrets"]
        secretless_job = [c for c in TOKEN_JOB_NEEDS if c[2] != "secrets"]
        in_effect(op, OPERATOR_NEEDS, [tenants])
        in_effect(job, TOKEN_JOB_NEEDS, [tenants])
        assert op.missing(secretless_op, anywhere) == []
        assert op.missing([("list", G, "jiratenants"), ("watch", G, "jiratenants")]) == []
        assert op.missing([("list", "apiextensions.k8s.io", "customresourcedefinitions")]) == []
        assert job.missing(secretless_job, anywhere) == []
        # Secrets: nothing outside rbac.secretNamespaces, and no cluster-wide list
        for identity in (op, job):
            assert identity.denied(SECRETS, anywhere) == [] and identity.denied(SECRETS, "kube-system") == []
            assert identity.denied(SECRETS) == []
        assert op.denied(OPERATOR_MUST_NOT, anywhere) == [] and op.denied(OPERATOR_MUST_NOT, tenants) == []
        assert job.denied(TOKEN_JOB_MUST_NOT, anywhere) == [] and job.denied(TOKEN_JOB_MUST_NOT, tenants) == []
        assert op.denied(NOBODY) == [] and job.denied(NOBODY) == []
    finally:
        control_plane.helm("uninstall", release, "--namespace", ns)


def test_cluster_wide_mode_without_secret_namespaces_fails_with_the_fix(helm: Helm) -> None:
    proc = helm.run(
        "template", "jdw", str(CHART), "--set", "rbac.clusterWide=true", "--kube-version", "1.36.3", check=False
    )
    assert proc.returncode != 0 and "rbac.secretNamespaces" in proc.stderr, proc.stderr
