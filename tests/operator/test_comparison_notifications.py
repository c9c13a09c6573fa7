"""SiteComparison notifications against a real API server and an operator process: when InSync changes
(different, then in sync again) the left tenant's destinations get one message each, in the drift
formats, retried with backoff while a receiver is down and recorded in the comparison's status; a
comparison that opts out sends nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.cmd.test_compare_cluster import put_site
from tests.operator.kube import get, make_secret, make_tenant
from tests.operator.test_operator_notify import FAST
from tests.operator.test_site_comparison import apply, comparison, in_sync
from tests.plugins.sites import CapturedSite
from tests.receiver import Receiver

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import api_requests
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.kube.client import Kube
from jiradrift.sim.variant import RENAMED_GROUP, sandbox_differences
from jiradrift.store.configmap import SecretStore

pytestmark = pytest.mark.k8s

SITE = "https://acme-prod.atlassian.net"


def records(api: k8s.ApiClient, ns: str, name: str) -> dict[str, dict[str, Any]]:
    status = get(api, ns, "sitecomparisons", name).get("status") or {}
    return {r["destination"]: r for r in status.get("notifications") or []}


def test_insync_changes_reach_the_left_tenants_destinations_once(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    production: CapturedSite,
    sandbox: CapturedSite,
    tmp_path: Path,
) -> None:
    ns = k8s_namespace
    prod, sand = f"{ns}/prod", f"{ns}/sandbox"
    prod_items = production.items()

    async def fill(sandbox_items: list[tuple[str, Any]], hours: int = 0) -> None:
        async with await Kube.connect(control_plane.kubeconfig) as kube:
            if hours == 0:
                await put_site(SecretStore(kube, ns, prod), prod, prod_items)
            await put_site(SecretStore(kube, ns, sand), sand, sandbox_items, suffix=f"w{hours}", hours=hours)

    asyncio.run(fill(sandbox.items()))
    expected = sandbox_differences(production.site)
    group = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"
    with Receiver() as slack, Receiver() as hook:
        hook.answer(503, b"receiver down for maintenance")
        make_secret(k8s_api, ns, "hooks", {"slack": slack.url, "webhook": hook.url}, "prod")
        destinations = [
            {"name": "chat", "type": "slack", "urlSecretRef": {"name": "hooks", "key": "slack"}},
            {"name": "hook", "type": "webhook", "urlSecretRef": {"name": "hooks", "key": "webhook"}},
        ]
        # The left tenant only lends its destinations: its Jira secret does not exist, so it captures nothing.
        make_tenant(k8s_api, ns, "prod", SITE, "no-such-secret", ["workflows"], notifications=destinations)
        with running_operator(control_plane, [ns], tmp_path, extra=FAST) as op:
            body = comparison("prod-vs-sandbox", "prod", "sandbox", mappings=[group])
            assert apply(control_plane, ns, body).returncode == 0
            quiet = comparison("quiet", "prod", "sandbox", mappings=[group], notify=False)
            assert apply(control_plane, ns, quiet).returncode == 0
            wait_for(lambda: slack.requests, "the slack message that the sites differ", op=op, timeout=120)
            # The webhook is down: its record says so and it is retried with backoff.
            down = wait_for(
                lambda: (
                    (r := records(k8s_api, ns, "prod-vs-sandbox").get("hook"))
                    and r["state"] == "Pending"
                    and r["attempts"] >= 2
                    and r
                ),
                "the webhook retried",
                op=op,
            )
            assert "503" in down["lastError"] and not hook.requests
            hook.answer(200)
            wait_for(
                lambda: records(k8s_api, ns, "prod-vs-sandbox")["hook"]["state"] == "Delivered",
                "the webhook delivered",
                op=op,
            )
            different = hook.requests[0].json()
            assert different["kind"] == "ComparisonNotification" and different["inSync"] is False
            assert different["comparison"] == {
                "namespace": ns,
                "name": "prod-vs-sandbox",
                "left": "prod",
                "right": "sandbox",
                "site": SITE,
            }
            assert different["differences"]["total"] == len(expected)
            assert 0 < len(different["differences"]["first"]) <= 10
            assert any("affects" in d for d in different["differences"]["first"]), different
            assert hook.requests[0].headers["X-Jiradrift-Notification-Id"] == different["id"]
            text = slack.requests[0].json()
            assert text["text"].startswith("Jira sites differ") and f"{len(expected)} difference(s)" in text["text"]

            # Compared again and still different (the spec no longer declares the group mapping): no new message.
            assert apply(control_plane, ns, comparison("prod-vs-sandbox", "prod", "sandbox")).returncode == 0
            wait_for(
                lambda: (s := in_sync(k8s_api, ns, "prod-vs-sandbox")) and s["observedGeneration"] == 2,
                "the new spec compared",
                op=op,
            )
            assert {r["state"] for r in records(k8s_api, ns, "prod-vs-sandbox").values()} == {"Delivered"}
            assert apply(control_plane, ns, comparison("quiet", "prod", "sandbox", notify=False)).returncode == 0

            # The sandbox completes a snapshot identical to production: in sync again, one more message each.
            asyncio.run(fill(prod_items, hours=10))
            done = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Snapshot",
                "metadata": {"name": "sandbox-sync"},
                "spec": {"tenantRef": {"name": "sandbox"}, "type": "workflows"},
            }
            objects = k8s.CustomObjectsApi(k8s_api)
            objects.create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", done)
            objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, ns, "snapshots", "sandbox-sync", {"status": {"phase": "Completed"}}
            )
            wait_for(lambda: len(hook.requests) == 2 and len(slack.requests) == 2, "the in-sync messages", op=op)
            again = hook.requests[1].json()
            assert again["inSync"] is True and again["differences"]["total"] == 0 and again["id"] != different["id"]
            assert slack.requests[1].json()["text"].startswith("Jira sites in sync again")
            quiet_status = wait_for(
                lambda: (s := in_sync(k8s_api, ns, "quiet")) and s["inSync"]["status"] == "True" and s,
                "the quiet comparison in sync",
                op=op,
            )
            assert "notifications" not in quiet_status  # opted out: in sync and different alike, never a record
            wait_for(
                lambda: {r["state"] for r in records(k8s_api, ns, "prod-vs-sandbox").values()} == {"Delivered"},
                "the in-sync messages recorded",
                op=op,
            )
        assert len(hook.requests) == 2 and len(slack.requests) == 2


def test_the_notifier_lists_no_site_comparison_each_round(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, tmp_path: Path
) -> None:
    """The notifier reads the SiteComparisons the operator's watch keeps: its rounds cost no LIST of
    them (counted by kube-apiserver itself), however many rounds run."""
    ns = k8s_namespace
    make_tenant(k8s_api, ns, "prod", SITE, "no-such-secret", ["workflows"])
    with running_operator(control_plane, [ns], tmp_path, extra=FAST) as op:
        assert apply(control_plane, ns, comparison("prod-vs-sandbox", "prod", "sandbox")).returncode == 0
        wait_for(lambda: in_sync(k8s_api, ns, "prod-vs-sandbox"), "the comparison seen by the operator", op=op)
        before = api_requests(k8s_api)

        def listed(resource: str) -> float:
            return api_requests(k8s_api).get(("LIST", resource), 0.0) - before.get(("LIST", resource), 0.0)

        # Each notifier round lists the Snapshots marked for notification: that count is its clock.
        wait_for(lambda: listed("snapshots") >= 10, "ten notifier rounds", op=op, timeout=120)
        assert listed("sitecomparisons") == 0
