"""The notifier reads the objects it delivers into their models once (notify/worker.py over
api/objects.py): against the real API server and a webhook receiver on loopback, a marked Snapshot
is delivered once, its record written, its label removed; a SiteComparison the watch holds likewise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tests.operator.kube import get, make_secret, make_tenant
from tests.receiver import Receiver

from jiradrift.api.objects import read_object
from jiradrift.api.resources import GROUP, LABEL_NOTIFY, VERSION, SiteComparison, Snapshot
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.notify.sender import new_client
from jiradrift.notify.worker import Notifier, NotifySettings

pytestmark = pytest.mark.k8s

SITE = "https://acme.atlassian.net"
HOOK = [{"name": "hook", "type": "webhook", "urlSecretRef": {"name": "hooks", "key": "url"}}]
PENDING = [{"destination": "hook", "type": "webhook", "state": "Pending"}]


def create(api: k8s.ApiClient, ns: str, kind: str, metadata: dict[str, Any], spec: dict[str, Any], status: Any) -> None:
    """A custom resource of ``kind`` with ``status``, as the operator would have left it."""
    plural = {"Snapshot": "snapshots", "SiteComparison": "sitecomparisons"}[kind]
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": metadata, "spec": spec}
    objects = k8s.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(GROUP, VERSION, ns, plural, body)
    objects.patch_namespaced_custom_object_status(GROUP, VERSION, ns, plural, metadata["name"], {"status": status})


def settings() -> NotifySettings:
    return NotifySettings(hosts=HostAllowlist.parse("127.0.0.1"), poll_seconds=0.05)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def tenant(k8s_api: k8s.ApiClient, k8s_namespace: str) -> str:
    make_secret(k8s_api, k8s_namespace, "acme-jira", {"email": "a@example.com", "token": "t"})
    make_tenant(k8s_api, k8s_namespace, "acme", SITE, "acme-jira", ["workflows"], notifications=HOOK)
    return "acme"


@pytest.fixture
def hook(k8s_api: k8s.ApiClient, k8s_namespace: str, tenant: str) -> Iterator[Receiver]:
    """The tenant's webhook: a receiver on loopback, its URL in the opted-in Secret ``hooks``."""
    with Receiver() as receiver:
        make_secret(k8s_api, k8s_namespace, "hooks", {"url": receiver.url}, tenant)
        yield receiver


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The notifier's delivery client."""
    async with new_client() as delivering:
        yield delivering


async def test_a_marked_snapshot_is_delivered_once_recorded_and_unmarked(
    k8s_api: k8s.ApiClient, k8s_namespace: str, tenant: str, hook: Receiver, kube: Kube, client: httpx.AsyncClient
) -> None:
    ns = k8s_namespace
    change = {"key": "workflow/1", "name": "Flow", "op": "modified", "path": "name", "severity": "medium"}
    create(
        k8s_api,
        ns,
        "Snapshot",
        {"name": "acme-workflows-x1", "labels": {LABEL_NOTIFY: "pending"}},
        {"tenantRef": {"name": tenant}, "type": "workflows"},
        {
            "phase": "Completed",
            "completionTime": "2026-12-07T12:00:00Z",
            "drift": {"baseline": "acme-workflows-x0", "total": 1, "changed": 1, "changes": [change]},
            "notifications": PENDING,
        },
    )
    notifier = Notifier(kube, settings(), "me", [ns], now)
    marked = await notifier._marked()
    assert [type(m) for m in marked] == [Snapshot] and marked[0].metadata.key == f"{ns}/acme-workflows-x1"
    await notifier.deliver(client, marked[0])
    assert await notifier.round(client) == 0  # delivered and unmarked: nothing left to list
    assert len(hook.requests) == 1
    sent = hook.requests[0].json()
    assert sent["tenant"] == {"namespace": ns, "name": tenant, "site": SITE}
    assert sent["snapshot"]["completionTime"] == "2026-12-07T12:00:00Z"
    assert sent["drift"]["changes"][0]["name"] == "Flow"
    after = get(k8s_api, ns, "snapshots", "acme-workflows-x1")
    assert LABEL_NOTIFY not in (after["metadata"].get("labels") or {})
    [record] = after["status"]["notifications"]
    assert record["state"] == "Delivered" and record["digest"] == sent["id"] and record["attempts"] == 1


async def test_a_watched_comparison_is_read_into_its_model_and_delivered(
    k8s_api: k8s.ApiClient, k8s_namespace: str, tenant: str, hook: Receiver, kube: Kube, client: httpx.AsyncClient
) -> None:
    ns = k8s_namespace
    make_tenant(k8s_api, ns, "sandbox", "https://sandbox.atlassian.net", "acme-jira", ["workflows"])
    since = "2026-12-07T10:00:00Z"
    in_sync = {"type": "InSync", "status": "False", "reason": "Differ", "lastTransitionTime": since}
    create(
        k8s_api,
        ns,
        "SiteComparison",
        {"name": "prod-vs-sandbox"},
        {"left": {"name": tenant}, "right": {"name": "sandbox"}},
        {"conditions": [in_sync], "differences": {"total": 2, "high": 1, "low": 1}, "notifications": PENDING},
    )
    watched = get(k8s_api, ns, "sitecomparisons", "prod-vs-sandbox")
    notifier = Notifier(kube, settings(), "me", [ns], now, comparisons=lambda: [watched])
    [comparison] = await notifier._comparisons()
    assert isinstance(comparison, SiteComparison) and comparison.spec.right.name == "sandbox"
    await notifier.deliver(client, comparison)
    [sent] = [r.json() for r in hook.requests]
    assert sent["kind"] == "ComparisonNotification" and sent["since"] == "2026-12-07T10:00:00Z"
    assert sent["differences"]["highestSeverity"] == "high" and sent["inSync"] is False
    after = read_object(SiteComparison, get(k8s_api, ns, "sitecomparisons", "prod-vs-sandbox"))
    assert after.status is not None and after.status.notifications is not None
    assert [r.state for r in after.status.notifications] == ["Delivered"]
