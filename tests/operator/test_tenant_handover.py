"""A tenant new to an operator process (a restart, or gained from another replica) whose status
shows its spec generation checked and healthy is not probed at once: its next check is spread
over the recheck interval. A spec change is still checked at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, running_operator, wait_for

pytestmark = pytest.mark.k8s


def reconciled(op: OperatorProcess, key: str, generation: int) -> bool:
    wanted = f"reconciled JiraTenant {key} (spec generation {generation})"
    return any(line.get("message") == wanted for line in op.lines())


def ready_at(api: k8s.ApiClient, ns: str, name: str, generation: int) -> bool:
    ready = condition(get(api, ns, "jiratenants", name), "Ready")
    return ready.get("status") == "True" and ready.get("observedGeneration") == generation


def test_a_healthy_tenant_is_not_probed_again_by_the_next_process_but_a_spec_change_is(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows"], paused=True)

    def probes() -> int:
        return int(jira_sim.requests.count("GET /rest/api/3/serverInfo"))

    with running_operator(control_plane, [ns], tmp_path, name="op-first") as first:
        wait_for(lambda: ready_at(k8s_api, ns, "acme", 1), "Ready at generation 1", op=first, timeout=60)
    checked = probes()
    assert checked >= 1

    with running_operator(control_plane, [ns], tmp_path, name="op-second") as second:
        wait_for(lambda: reconciled(second, f"{ns}/acme", 1), "op-second reconciled acme", op=second, timeout=60)
        assert probes() == checked, "the status showed generation 1 checked and healthy: no probe"
        assert ready_at(k8s_api, ns, "acme", 1)

        k8s.CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, "jiratenants", "acme", {"spec": {"schedule": {"interval": "12h"}}}
        )
        wait_for(lambda: ready_at(k8s_api, ns, "acme", 2), "Ready at generation 2", op=second, timeout=60)
        assert probes() == checked + 1, "a new spec generation is checked at once"
