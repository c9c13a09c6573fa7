"""Drift notifications end to end: the operator as a process, the real API server, the emulator,
and webhook receivers on loopback that record what they are sent.

Every wait is on a condition (a receiver's record, a Snapshot's status), never on time; the
operator runs with sub-second notification polling and backoff so the conditions arrive quickly.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from kubernetes import client as k8s
from tests.operator.kube import FULL_CAPTURES_ONLY, get, make_secret, make_tenant, snapshots
from tests.receiver import Receiver

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, running_operator, wait_for
from jiradrift.sim.usages import workflow_projects

pytestmark = pytest.mark.k8s

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "drift-notification.v1alpha1.schema.json").read_text())
FAST = [
    "--notification-hosts",
    "127.0.0.1",
    "--notify-interval",
    "0.3",
    "--notify-backoff",
    "0.5",
    "--notify-backoff-cap",
    "2",
    "--notify-max-attempts",
    "100",
]


TYPES = ["workflows", "projects"]


def tenant_notifying(api: k8s.ApiClient, ns: str, jira_sim: Any, *entries: tuple[str, str, str, str]) -> None:
    """Tenant ``acme`` on the emulator, capturing workflows and projects (what a workflow change affects),
    with destinations (name, type, secret, key)."""
    creds = jira_sim.credentials
    make_secret(api, ns, "acme-jira", {"email": creds.email, "token": creds.api_token})
    notifications = [{"name": n, "type": t, "urlSecretRef": {"name": s, "key": k}} for n, t, s, k in entries]
    make_tenant(
        api, ns, "acme", jira_sim.base_url, "acme-jira", TYPES, notifications=notifications, schedule=FULL_CAPTURES_ONLY
    )


def first_window_completed(api: k8s.ApiClient, ns: str, op: OperatorProcess) -> None:
    wait_for(
        lambda: (
            len(s := snapshots(api, ns)) >= len(TYPES)
            and all((x.get("status") or {}).get("phase") == "Completed" for x in s)
        ),
        "the first window's Snapshots Completed",
        op=op,
        timeout=120,
    )


def drift_snapshot(plane: ControlPlane, jira_sim: Any, ns: str, name: str, description: str) -> None:
    """Change a workflow that projects use in the emulator, then ask for a manual Snapshot of workflows."""
    site = jira_sim.site
    workflow = next(w for w in site.workflows if w["scope"]["type"] == "GLOBAL" and workflow_projects(site, w))
    jira_sim.admin.change_workflow(workflow["id"], description=description)
    manual = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": name},
        "spec": {"tenantRef": {"name": "acme"}, "type": "workflows"},
    }
    plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manual))


def records(api: k8s.ApiClient, ns: str, name: str) -> dict[str, dict[str, Any]]:
    snap = get(api, ns, "snapshots", name)
    return {r["destination"]: r for r in (snap.get("status") or {}).get("notifications") or []}


def notify_label(api: k8s.ApiClient, ns: str, name: str) -> str | None:
    labels: dict[str, str] = get(api, ns, "snapshots", name)["metadata"].get("labels") or {}
    return labels.get("jiradrift.io/notify")


def record_is(api: k8s.ApiClient, ns: str, name: str, destination: str, state: str) -> dict[str, Any]:
    record = records(api, ns, name).get(destination) or {}
    assert record.get("state") == state, f"{destination}: want {state}, record is {record}"
    return record


def test_each_destination_gets_one_message_across_an_outage_and_a_restart(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    with Receiver() as slack, Receiver() as teams, Receiver() as hook, Receiver() as sneaky, Receiver() as gone:
        hook.answer(503, b"receiver down for maintenance")
        gone.answer(404, b"no_service")  # a revoked webhook: never worth retrying
        urls = {"slack": slack.url, "teams": teams.url, "webhook": hook.url, "gone": gone.url}
        make_secret(k8s_api, ns, "hooks", urls, "acme")
        # a Secret of another workload, not opted in to the tenant: its URL must never be used
        make_secret(k8s_api, ns, "other-app", {"url": sneaky.url}, tenants=None)
        tenant_notifying(
            k8s_api,
            ns,
            jira_sim,
            ("chat", "slack", "hooks", "slack"),
            ("ops", "teams", "hooks", "teams"),
            ("hook", "webhook", "hooks", "webhook"),
            ("sneaky", "webhook", "other-app", "url"),
            ("revoked", "slack", "hooks", "gone"),
        )
        logs = []
        with running_operator(control_plane, [ns], tmp_path / "a", extra=FAST) as op:
            first_window_completed(k8s_api, ns, op)
            assert all("notifications" not in s["status"] for s in snapshots(k8s_api, ns))  # no drift, no message
            drift_snapshot(control_plane, jira_sim, ns, "acme-drift-1", "changed for the notification test")
            wait_for(lambda: record_is(k8s_api, ns, "acme-drift-1", "chat", "Delivered"), "slack delivered", op=op)
            wait_for(lambda: record_is(k8s_api, ns, "acme-drift-1", "ops", "Delivered"), "teams delivered", op=op)
            # the generic receiver is down: the record says so and is retried with backoff
            down = wait_for(
                lambda: (r := record_is(k8s_api, ns, "acme-drift-1", "hook", "Pending")) and r["attempts"] >= 2 and r,
                "the webhook retried",
                op=op,
            )
            assert "503" in down["lastError"] and "receiver down" in down["lastError"]
            assert hook.attempts >= 2 and not hook.requests
            refused = wait_for(
                lambda: (r := records(k8s_api, ns, "acme-drift-1").get("sneaky")) and r.get("lastError") and r,
                "the not-opted-in destination refused",
                op=op,
            )
            assert "SecretNotOptedIn" in refused["lastError"] and "kubectl annotate" in refused["lastError"]
            revoked = wait_for(lambda: record_is(k8s_api, ns, "acme-drift-1", "revoked", "Failed"), "revoked", op=op)
            assert revoked["attempts"] == 1 and "404" in revoked["lastError"] and "no_service" in revoked["lastError"]
            warning = wait_for(
                lambda: [
                    e
                    for e in k8s.CoreV1Api(k8s_api).list_namespaced_event(ns).items
                    if e.reason == "NotificationFailed" and e.involved_object.name == "acme-drift-1"
                ],
                "a NotificationFailed Event on the Snapshot",
                op=op,
            )
            assert warning[0].type == "Warning" and "'revoked'" in warning[0].message
            snap = get(k8s_api, ns, "snapshots", "acme-drift-1")
            assert snap["status"]["phase"] == "Completed"  # a failing destination never changes the phase
            assert snap["metadata"]["labels"]["jiradrift.io/notify"] == "pending"
            scrape = httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text
            chat = f'destination="chat",namespace="{ns}",result="delivered",tenant="acme"'
            assert f"jiradrift_notifications_total{{{chat}}} 1.0" in scrape
            assert f'destination="hook",namespace="{ns}",result="retrying"' in scrape
            op.kill()  # a crash, not a clean stop: nothing gets to tidy up
            logs.append(op.text())

        hook.answer(200)
        with running_operator(control_plane, [ns], tmp_path / "b", extra=FAST) as op:
            delivered = wait_for(
                lambda: record_is(k8s_api, ns, "acme-drift-1", "hook", "Delivered"),
                "the webhook delivered after the restart",
                op=op,
            )
            scrape = httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text
            logs.append(op.text())
        assert delivered["attempts"] >= 3 and delivered["deliveredAt"] and "lastError" not in delivered

        # exactly one message each: neither the retries nor the restart sent anything twice
        assert len(slack.requests) == 1 and len(teams.requests) == 1 and len(hook.requests) == 1
        assert sneaky.attempts == 0 and gone.attempts == 1
        assert 'destination="chat"' not in scrape  # the restarted operator did not even try Slack again
        body = hook.requests[0].json()
        jsonschema.validate(body, SCHEMA)
        assert body["snapshot"]["name"] == "acme-drift-1" and body["tenant"] == {
            "namespace": ns,
            "name": "acme",
            "site": jira_sim.base_url,
        }
        assert any(c["path"] == "description" and c["changedBy"] for c in body["drift"]["changes"])
        # what the change affects, everywhere drift is shown: the Snapshot's status and every message
        [changed] = [w for w in jira_sim.site.workflows if w.get("description") == "changed for the notification test"]
        keys = {str(p["id"]): p["key"] for p in jira_sim.site.projects}
        reach = sorted(keys[p] for p in workflow_projects(jira_sim.site, changed))
        [entry] = [c for c in get(k8s_api, ns, "snapshots", "acme-drift-1")["status"]["drift"]["changes"]]
        assert entry["affects"] == {"count": len(reach), "first": reach[:5]}, entry
        [sent] = body["drift"]["changes"]
        assert sent["affects"] == entry["affects"]
        assert f"affects {len(reach)} project" in json.dumps(slack.requests[0].json())
        assert f"affects {len(reach)} project" in json.dumps(teams.requests[0].json())
        assert hook.requests[0].headers["X-Jiradrift-Notification-Id"] == body["id"] == delivered["digest"]
        slack_body = slack.requests[0].json()
        assert slack_body["text"].startswith(f"Jira drift in {ns}/acme") and slack_body["blocks"][0]["type"] == "header"
        card = teams.requests[0].json()["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard"
        # the webhook URLs (their secret paths) appear in no log line and no status
        status_text = json.dumps([s.get("status") for s in snapshots(k8s_api, ns)])
        for text in (*logs, status_text):
            assert slack.path not in text and not re.search(r"127\.0\.0\.1:\d+/hook/", text)


def test_a_receiver_that_hangs_holds_up_no_capture_and_a_stop_lets_it_finish(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    with Receiver() as stuck:
        stuck.hold()  # every request waits until released
        make_secret(k8s_api, ns, "hooks", {"url": stuck.url}, "acme")
        tenant_notifying(k8s_api, ns, jira_sim, ("hook", "webhook", "hooks", "url"))
        extra = [*FAST, "--notify-timeout", "60"]
        with running_operator(control_plane, [ns], tmp_path, extra=extra) as op:
            first_window_completed(k8s_api, ns, op)
            drift_snapshot(control_plane, jira_sim, ns, "acme-drift-1", "first change")
            wait_for(
                lambda: record_is(k8s_api, ns, "acme-drift-1", "hook", "Sending") and stuck.attempts >= 1,
                "the first notification in flight",
                op=op,
            )
            # while it hangs, the next capture runs and completes, with its own notification pending
            drift_snapshot(control_plane, jira_sim, ns, "acme-drift-2", "second change")
            second = wait_for(
                lambda: (
                    (s := get(k8s_api, ns, "snapshots", "acme-drift-2"))
                    and (s.get("status") or {}).get("phase") == "Completed"
                    and s
                ),
                "the second Snapshot Completed while the receiver hangs",
                op=op,
            )
            assert second["status"]["drift"]["total"] >= 1
            assert get(k8s_api, ns, "snapshots", "acme-drift-1")["status"]["phase"] == "Completed"
            assert stuck.attempts >= 1 and not stuck.requests  # still hanging: nothing was delivered yet
            # a rolling update: SIGTERM while the POST hangs; the delivery in flight may finish
            os.killpg(op.proc.pid, signal.SIGTERM)
            wait_for(lambda: "notifier stopping" in op.text(), "the notifier told to stop", timeout=30)
            stuck.release()
            wait_for(lambda: op.proc.poll() is not None, "the operator exited", timeout=60)
        assert record_is(k8s_api, ns, "acme-drift-1", "hook", "Delivered")  # not left Sending, to be sent again
        with running_operator(control_plane, [ns], tmp_path / "b", extra=FAST) as op:
            wait_for(lambda: record_is(k8s_api, ns, "acme-drift-2", "hook", "Delivered"), "drift-2 delivered", op=op)
            wait_for(lambda: not notify_label(k8s_api, ns, "acme-drift-2"), "the notify label removed", op=op)
        assert sorted(r.json()["snapshot"]["name"] for r in stuck.requests) == ["acme-drift-1", "acme-drift-2"]


def test_two_operators_deliver_each_notification_once(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    eager = [*FAST[:2], "--notify-interval", "0.05", *FAST[4:]]  # both poll as fast as they can
    with Receiver() as one, Receiver() as two, Receiver() as three:
        make_secret(k8s_api, ns, "hooks", {"a": one.url, "b": two.url, "c": three.url}, "acme")
        tenant_notifying(
            k8s_api,
            ns,
            jira_sim,
            ("a", "webhook", "hooks", "a"),
            ("b", "slack", "hooks", "b"),
            ("c", "teams", "hooks", "c"),
        )
        with (
            running_operator(control_plane, [ns], tmp_path, name="op-a", extra=eager) as a,
            running_operator(control_plane, [ns], tmp_path, name="op-b", extra=eager) as b,
        ):
            first_window_completed(k8s_api, ns, a)
            drift_snapshot(control_plane, jira_sim, ns, "acme-drift-1", "seen by two operators")
            for name in ("a", "b", "c"):
                wait_for(
                    lambda n=name: record_is(k8s_api, ns, "acme-drift-1", n, "Delivered"), f"{name} delivered", op=b
                )
            wait_for(lambda: not notify_label(k8s_api, ns, "acme-drift-1"), "the notify label removed", op=b)
        assert [one.attempts, two.attempts, three.attempts] == [1, 1, 1]
