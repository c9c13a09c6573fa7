"""The tenant reconcile reads its JiraTenant into the model once, at entry (api.objects.read_object)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from jiradrift.api.resources import JiraTenantStatus
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.tenant import checked_in_status, reconcile_tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AUTH = {"apiToken": {"secretRef": {"name": "jira"}}}
CHECKED = ("Ready", "CredentialsValid", "Reachable", "TokenFresh", "ScopesReadOnly")


def condition(type_: str, status: str = "True", generation: int = 2) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": "Ready",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": generation,
    }


async def test_a_spec_the_model_refuses_is_ready_false_invalid_spec_naming_the_field() -> None:
    # no API request is made for an invalid spec: the context has no client
    ctx = OperatorContext(kube=cast(Any, None), settings=OperatorSettings(), holder="test", clock=lambda: T0)
    body = {
        "metadata": {"name": "acme", "namespace": "team-a", "uid": "u-1", "generation": 4},
        "spec": {"site": "https://acme.atlassian.net", "auth": AUTH, "rateLimit": {"maxConcurrency": "many"}},
        # a newer operator's status field does not stand in the way of reporting the spec
        "status": {"conditions": [condition("Reachable")], "shardEpoch": 7},
    }
    patch = await reconcile_tenant(ctx, body, [])
    assert patch["observedGeneration"] == 4
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"].startswith(
        "spec is invalid: ('rateLimit', 'maxConcurrency'): Input should be a valid integer"
    )
    assert ready["observedGeneration"] == 4


def test_checked_in_status_reads_the_status_model() -> None:
    healthy = JiraTenantStatus.model_validate({"observedGeneration": 2, "conditions": [condition(t) for t in CHECKED]})
    assert checked_in_status(healthy, 2)
    assert not checked_in_status(healthy, 3)  # another spec generation
    assert not checked_in_status(None, 2)
    stale = JiraTenantStatus.model_validate(
        {
            "observedGeneration": 2,
            "conditions": [condition(t, generation=1 if t == "Reachable" else 2) for t in CHECKED],
        }
    )
    assert not checked_in_status(stale, 2)
    failing = JiraTenantStatus.model_validate(
        {
            "observedGeneration": 2,
            "conditions": [condition(t, "False" if t == "TokenFresh" else "True") for t in CHECKED],
        }
    )
    assert not checked_in_status(failing, 2)
