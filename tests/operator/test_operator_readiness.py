"""The operator's readiness endpoint against the real API server: 503 until the caches hold what a
LIST showed at startup and the replica took part in its first membership round, 200 after, and
kopf's liveness endpoint stays separate (alive is not ready)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s
from tests.operator.kube import make_secret, make_tenant

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def test_ready_only_after_the_caches_and_the_first_membership_round(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, tmp_path: Path
) -> None:
    ns = k8s_namespace
    make_secret(k8s_api, ns, "acme-jira", {"email": "a@example.invalid", "token": "t"})
    for i in range(3):  # paused: they sit in the caches and send nothing anywhere
        make_tenant(k8s_api, ns, f"acme-{i}", "https://acme.atlassian.net", "acme-jira", ["workflows"], paused=True)
    with running_operator(control_plane, [ns], tmp_path, extra=["--shard-namespace", ns]) as op:
        url = f"http://127.0.0.1:{op.readiness_port}/readyz"

        def ready() -> httpx.Response | None:
            try:
                r = httpx.get(url, timeout=2)
            except httpx.TransportError:
                return None  # not serving yet
            assert r.status_code in (200, 503), r.text
            if r.status_code == 503:
                body = r.json()
                assert body["ready"] is False and body["waiting"], body  # says what it waits for
                return None
            return r

        answer = wait_for(ready, "the readiness endpoint to answer 200", op=op, timeout=90)
        assert answer.json() == {"ready": True}
        messages = [line.get("message", "") for line in op.lines()]
        watching = next(i for i, m in enumerate(messages) if m.startswith("watching 3 JiraTenant(s)"))
        became_ready = next(i for i, m in enumerate(messages) if m.startswith("ready: caches synced"))
        assert watching < became_ready  # ready only once the caches held every listed tenant
        # the membership round ran first: this replica holds its membership Lease
        leases = k8s.CoordinationV1Api(k8s_api).list_namespaced_lease(ns).items
        assert any(lease.spec.holder_identity for lease in leases)
        # kopf's liveness endpoint is another port and path
        assert httpx.get(f"http://127.0.0.1:{op.liveness_port}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{op.readiness_port}/healthz", timeout=5).status_code == 404
