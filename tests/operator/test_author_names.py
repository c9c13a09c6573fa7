"""Who changed it, by name: the Snapshot status and the DriftDetected Event show the audit log's
author by display name with the account id beside it, read from Jira once per site
(``ctx.users``), through full and incremental captures alike; a deleted account is shown by its
account id and never fails the Snapshot.

The Snapshot handler and the incremental window run in this process against the real
kube-apiserver and the emulator; the user lookups are counted on the emulator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant
from tests.operator.test_snapshot_resume import make_snapshot, run_until_final

from jiradrift.api.baseline import LABEL_ACCEPTED
from jiradrift.api.objects import read_object
from jiradrift.api.resources import GROUP, VERSION, JiraTenant
from jiradrift.cmd.unaccepted import outstanding
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.incremental import run_window
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.users import BOB, GONE_ACCOUNT_ID

pytestmark = pytest.mark.k8s

BULK = "GET /rest/api/3/user/bulk"
BOB_LABEL = f"Bob Builder ({BOB.account_id})"


def _tenant(api: k8s.ApiClient, ns: str, sim: RunningEmulator, **spec: Any) -> OperatorContext:
    make_secret(api, ns, "jira", {"email": sim.credentials.email, "token": sim.credentials.api_token})
    make_tenant(api, ns, "acme", sim.base_url, "jira", ["workflows"], **spec)
    return OperatorContext(
        kube=None,  # type: ignore[arg-type]  # set by the caller
        settings=OperatorSettings(namespaces=[ns], allowed_hosts=HostAllowlist.parse("127.0.0.1")),
        holder="test-holder",
    )


def _changed_by(snap: dict[str, Any], key: str) -> str:
    return next(c.get("changedBy", "") for c in snap["status"]["drift"]["changes"] if c["key"] == key)


def _drift_event(api: k8s.ApiClient, ns: str, snapshot: str) -> str:
    events = k8s.CoreV1Api(api).list_namespaced_event(ns).items
    (message,) = [e.message for e in events if e.reason == "DriftDetected" and e.message.startswith(f"{snapshot}:")]
    return str(message)


async def test_status_and_event_name_the_author_and_a_deleted_one_by_account_id(
    k8s_api: k8s.ApiClient, k8s_namespace: str, kube: Kube, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    ctx = _tenant(k8s_api, ns, jira_sim)
    ctx.kube = kube
    workflows = [w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL"]
    make_snapshot(k8s_api, ns, "base")
    assert (await run_until_final(ctx, k8s_api, ns, "base"))[0]["status"]["phase"] == "Completed"

    jira_sim.admin.act_as(BOB.account_id)
    jira_sim.admin.change_workflow(workflows[0]["id"], description="changed by Bob")
    make_snapshot(k8s_api, ns, "s2")
    s2, _ = await run_until_final(ctx, k8s_api, ns, "s2")
    assert s2["status"]["phase"] == "Completed"
    by = _changed_by(s2, f"workflow/{workflows[0]['id']}")
    assert by.startswith("'Workflow updated' by " + BOB_LABEL + " at "), by
    assert BOB_LABEL in _drift_event(k8s_api, ns, "s2")
    asked = jira_sim.requests.count(BULK)
    assert asked == 1
    # `jiradrift drift list --unaccepted` (cmd/unaccepted.py) shows the same
    patch = {"metadata": {"labels": {LABEL_ACCEPTED: "true"}}}
    k8s.CustomObjectsApi(k8s_api).patch_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", "base", patch)
    [listed] = await outstanding(kube, ns, "acme")
    assert BOB_LABEL in (listed.attribution(f"workflow/{workflows[0]['id']}", "description") or "")

    jira_sim.admin.act_as(GONE_ACCOUNT_ID)  # an account deleted since: Jira no longer knows it
    jira_sim.admin.change_workflow(workflows[0]["id"], description="changed by a deleted account")
    make_snapshot(k8s_api, ns, "s3")
    s3, _ = await run_until_final(ctx, k8s_api, ns, "s3")
    assert s3["status"]["phase"] == "Completed"
    assert _changed_by(s3, f"workflow/{workflows[0]['id']}").startswith(f"'Workflow updated' by {GONE_ACCOUNT_ID} at ")
    assert f"by {GONE_ACCOUNT_ID} at" in _drift_event(k8s_api, ns, "s3")
    assert jira_sim.requests.count(BULK) == asked + 1  # Bob's name was not asked again


async def test_incremental_windows_name_the_author_and_the_second_asks_jira_nothing(
    k8s_api: k8s.ApiClient, k8s_namespace: str, kube: Kube, jira_sim: RunningEmulator
) -> None:
    ns = k8s_namespace
    ctx = _tenant(k8s_api, ns, jira_sim, schedule={"interval": "6h", "incremental": {"enabled": True}})
    ctx.kube = kube
    workflow = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
    make_snapshot(k8s_api, ns, "base")
    assert (await run_until_final(ctx, k8s_api, ns, "base"))[0]["status"]["phase"] == "Completed"
    jira_sim.admin.act_as(BOB.account_id)
    lookups = []
    for minute in (1, 2):
        jira_sim.admin.change_workflow(workflow["id"], description=f"window {minute}")
        body = get(k8s_api, ns, "jiratenants", "acme")
        outcome = await run_window(
            ctx, read_object(JiraTenant, body), ["workflows"], datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
        )
        (name,) = outcome.created
        before = jira_sim.requests.count(BULK)
        snap, _ = await run_until_final(ctx, k8s_api, ns, name)
        lookups.append(jira_sim.requests.count(BULK) - before)
        assert snap["spec"]["reason"] == "Incremental" and snap["status"]["capture"]["mode"] == "incremental"
        assert BOB_LABEL in _changed_by(snap, f"workflow/{workflow['id']}")
        assert BOB_LABEL in _drift_event(k8s_api, ns, name)
    assert lookups == [1, 0]  # the second window's author came from the cache
