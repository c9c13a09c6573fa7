"""The chart's host-allowlist admission policy, rendered from the values and enforced by the real API server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chartlib import Helm, by_kind, documents
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import wait_for

pytestmark = pytest.mark.k8s


def _tenant(name: str, site: str, **auth: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name},
        "spec": {"site": site, "auth": auth or {"apiToken": {"secretRef": {"name": "s"}}}},
    }


def test_a_tenant_naming_a_host_off_the_allowlist_is_refused_at_admission(
    helm: Helm, control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    rendered = documents(
        helm.template(
            "--set",
            "allowedHosts={*.atlassian.net,api.atlassian.com,auth.atlassian.com}",
            "--api-versions",
            "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
            namespace=ns,  # the release namespace is the one served (watchNamespaces empty)
            release="hosts",
        )
    )
    policy = [
        d
        for d in by_kind(rendered, "ValidatingAdmissionPolicy") + by_kind(rendered, "ValidatingAdmissionPolicyBinding")
        if d["metadata"]["name"].endswith("-tenant-hosts")
    ]
    assert len(policy) == 2
    control_plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": policy}))
    objects = k8s.CustomObjectsApi(k8s_api)
    try:

        def create(body: dict[str, Any]) -> None:
            objects.create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", body)

        # A policy takes effect a moment after it is created: probe until it refuses.
        def refusal() -> str | None:
            try:
                create(_tenant("probe", "https://evil.example"))
            except ApiException as exc:
                assert exc.status in (400, 403, 422), exc.body
                return str(json.loads(exc.body)["message"])
            objects.delete_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", "probe")
            return None

        refused = [wait_for(refusal, "the host policy to refuse a tenant", timeout=30, interval=0.2)]
        assert "https://evil.example" in refused[0] and "allowedHosts" in refused[0]
        with pytest.raises(ApiException) as err:
            create(
                _tenant(
                    "oauth",
                    "https://acme.atlassian.net",
                    oauth={"secretRef": {"name": "s"}, "tokenUrl": "https://auth.evil.example/oauth/token"},
                )
            )
        assert "https://auth.evil.example/oauth/token" in json.loads(err.value.body)["message"]
        create(_tenant("acme", "https://acme.atlassian.net"))  # on the list: admitted
        # an API token goes to the site only: the unused gateway does not decide (as in the operator)
        create(
            {
                **_tenant("basic", "https://basic.atlassian.net"),
                "spec": {**_tenant("basic", "https://basic.atlassian.net")["spec"], "apiGateway": "https://gw.example"},
            }
        )
    finally:
        for doc in policy:
            control_plane.kubectl("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found")
