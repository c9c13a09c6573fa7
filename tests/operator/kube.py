"""Small helpers shared by the operator tests (kept out of conftest so they are plain imports)."""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes import client as k8s

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, wait_for


def make_secret(api: k8s.ApiClient, ns: str, name: str, data: dict[str, str], tenants: str | None = "*") -> None:
    """A credential Secret; ``tenants`` is its opt-in (``jiradrift.io/allowed-tenants``), None for none."""
    annotations = {ALLOWED_TENANTS_ANNOTATION: tenants} if tenants is not None else {}
    k8s.CoreV1Api(api).create_namespaced_secret(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "annotations": annotations},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        },
    )


# For tests about what a manual Snapshot taken right after a change reports (its drift, Events,
# notifications, the chain of baselines): an incremental window (on by default, every 2m) could report
# the change first. tests/operator/test_incremental_*.py run with incremental windows on.
FULL_CAPTURES_ONLY = {"interval": "6h", "incremental": {"enabled": False}}


def make_tenant(api: k8s.ApiClient, ns: str, name: str, site: str, secret: str, types: list[str], **spec: Any) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name},
        "spec": {
            "site": site,
            "auth": {"apiToken": {"secretRef": {"name": secret}}},
            "schedule": {"interval": "6h"},
            "snapshotTypes": types,
            **spec,
        },
    }
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", body)


def get(api: k8s.ApiClient, ns: str, plural: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = k8s.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
    return result


def snapshots(api: k8s.ApiClient, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, ns, "snapshots"
    )["items"]
    return items


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return dict(c)
    return {}


def conditions_are(api: k8s.ApiClient, ns: str, name: str, **expected: str) -> dict[str, Any]:
    """The JiraTenant once every named condition has the expected status; else AssertionError
    saying what the conditions are now (for ``wait_for``: conditions are written asynchronously,
    some in separate patches, so one read may see some of them and not others)."""
    tenant = get(api, ns, "jiratenants", name)
    seen = {c["type"]: c.get("status") for c in (tenant.get("status") or {}).get("conditions") or []}
    assert all(seen.get(t) == s for t, s in expected.items()), f"{name}: want {expected}, conditions are {seen}"
    return tenant


def manual_snapshot(name: str, snapshot_type: str, tenant: str = "acme") -> str:
    """A manual Snapshot as JSON, for ``kubectl apply -f -``."""
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Snapshot",
            "metadata": {"name": name},
            "spec": {"tenantRef": {"name": tenant}, "type": snapshot_type},
        }
    )


def make_acme(api: k8s.ApiClient, ns: str, sim: Any, types: list[str], **spec: Any) -> None:
    """Tenant ``acme`` on the emulator ``sim`` with its API token in Secret ``acme-jira``; full
    captures only unless ``spec`` names a schedule."""
    make_secret(api, ns, "acme-jira", {"email": sim.credentials.email, "token": sim.credentials.api_token})
    make_tenant(api, ns, "acme", sim.base_url, "acme-jira", types, **{"schedule": FULL_CAPTURES_ONLY, **spec})


def change_global_workflow(sim: Any, description: str = "changed by the test") -> dict[str, Any]:
    """Change the description of the emulator's global workflow (audited as the acting admin);
    returns that workflow (the emulator's own object, changed)."""
    workflow: dict[str, Any] = next(w for w in sim.site.workflows if w["scope"]["type"] == "GLOBAL")
    sim.admin.change_workflow(workflow["id"], description=description)
    return workflow


def apply_manual_snapshot(plane: ControlPlane, ns: str, name: str, snapshot_type: str = "workflows") -> None:
    """``kubectl apply`` a manual Snapshot of tenant ``acme`` (:func:`manual_snapshot`)."""
    plane.kubectl("apply", "-n", ns, "-f", "-", input=manual_snapshot(name, snapshot_type))


def drift_by_hand(
    plane: ControlPlane, api: k8s.ApiClient, ns: str, sim: Any, op: OperatorProcess, why: str
) -> dict[str, Any]:
    """Change the emulator's global workflow, apply the manual Snapshot ``acme-workflows-manual-1``
    and wait (``why``: what the test expects to make it so) until tenant ``acme`` is Drifted;
    returns the changed workflow."""
    workflow = change_global_workflow(sim)
    apply_manual_snapshot(plane, ns, "acme-workflows-manual-1")
    wait_for(lambda: conditions_are(api, ns, "acme", Drifted="True"), why, op=op, timeout=120)
    return workflow
