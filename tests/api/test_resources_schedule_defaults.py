"""The schedule defaults as the API server stores them (issue 26): a tenant that says nothing gets
incremental windows every 2 minutes and a full capture daily; each part is defaulted on its own, so
a tenant that sets only its full interval (as every tenant written before issue 26 did) gets
incremental windows too, and one may switch them off or slow them down alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from kubernetes import client as k8s

from jiradrift.api.resources import GROUP, VERSION, JiraTenantSpec
from jiradrift.handlers.schedule import TenantSchedule

pytestmark = pytest.mark.k8s

CASES: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    # why: (spec.schedule as applied, None: left out) -> spec.schedule as stored
    "no schedule": (None, {"interval": "24h", "incremental": {"enabled": True, "interval": "2m"}}),
    "an empty schedule": ({}, {"interval": "24h", "incremental": {"enabled": True, "interval": "2m"}}),
    "only the full interval (a tenant from before issue 26)": (
        {"interval": "6h"},
        {"interval": "6h", "incremental": {"enabled": True, "interval": "2m"}},
    ),
    "a slower incremental interval": (
        {"incremental": {"interval": "5m"}},
        {"interval": "24h", "incremental": {"enabled": True, "interval": "5m"}},
    ),
    "incremental windows switched off": (
        {"incremental": {"enabled": False}},
        {"interval": "24h", "incremental": {"enabled": False, "interval": "2m"}},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_api_server_stores_the_schedule_defaults(case: str, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    applied, expected = CASES[case]
    spec: dict[str, Any] = {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "j"}}}}
    if applied is not None:
        spec["schedule"] = applied
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JiraTenant", "metadata": {"name": "acme"}, "spec": spec}
    api = k8s.CustomObjectsApi(k8s_api)
    api.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, "jiratenants", body, field_validation="Strict")
    stored = api.get_namespaced_custom_object(GROUP, VERSION, k8s_namespace, "jiratenants", "acme")["spec"]
    assert stored["schedule"] == expected
    # what the operator makes of it: the same defaults as the model's (one source of truth)
    schedule = TenantSchedule.from_spec(JiraTenantSpec.model_validate(stored))
    assert schedule.interval == timedelta(hours=int(expected["interval"].removesuffix("h")))
    inc = expected["incremental"]
    minutes = int(inc["interval"].removesuffix("m"))
    assert schedule.incremental == (timedelta(minutes=minutes) if inc["enabled"] else None)
    assert TenantSchedule.from_spec(JiraTenantSpec.model_validate(spec)) == schedule, "the model defaults alike"
