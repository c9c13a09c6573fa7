"""The one async Kubernetes client against a real kube-apiserver: JSON round trips, paging,
errors with the server's reason, conflict retry, and an unreachable server."""

from __future__ import annotations

import pytest

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.client import Kube, KubeError, KubeUnavailable, resource_path, retry_on_conflict

pytestmark = pytest.mark.k8s


async def test_round_trip_paging_and_errors(control_plane: ControlPlane, k8s_namespace: str) -> None:
    async with await Kube.connect(control_plane.kubeconfig) as kube:
        cms = resource_path("", "v1", "configmaps", k8s_namespace)
        for i in range(7):
            await kube.create(cms, {"metadata": {"name": f"cm-{i}", "labels": {"t": "x"}}, "data": {"i": str(i)}})
        # seven items read two at a time: four pages, every item once, in order
        names = [item["metadata"]["name"] async for item in kube.pages(cms, page_size=2, labelSelector="t=x")]
        assert names == [f"cm-{i}" for i in range(7)]

        with pytest.raises(KubeError) as missing:
            await kube.get(resource_path("", "v1", "configmaps", k8s_namespace, "nope"))
        assert missing.value.not_found and missing.value.reason == "NotFound"
        assert '"nope" not found' in missing.value.message

        # A MicroTime with a zero fraction survives (the generated models would drop it).
        leases = resource_path("coordination.k8s.io", "v1", "leases", k8s_namespace)
        body = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "renewTime": "2026-01-02T03:04:05.000000Z"}}
        created = await kube.create(leases, body)
        assert created["spec"]["renewTime"] == "2026-01-02T03:04:05.000000Z"


async def test_retry_on_conflict_rereads(control_plane: ControlPlane, k8s_namespace: str) -> None:
    async with await Kube.connect(control_plane.kubeconfig) as kube:
        path = resource_path("", "v1", "configmaps", k8s_namespace, "counter")
        await kube.create(
            resource_path("", "v1", "configmaps", k8s_namespace), {"metadata": {"name": "counter"}, "data": {"n": "0"}}
        )
        stale = await kube.get(path)
        reads = 0

        async def bump() -> dict:
            nonlocal reads
            reads += 1
            current = stale if reads == 1 else await kube.get(path)
            if reads == 1:  # someone else writes between our read and our write
                other = await kube.get(path)
                other["data"]["n"] = "10"
                await kube.replace(path, other)
            current["data"]["n"] = str(int(current["data"]["n"]) + 1)
            return await kube.replace(path, current)

        result = await retry_on_conflict(bump)
        assert reads == 2 and result["data"]["n"] == "11"

        async def always_conflicts() -> None:
            raise KubeError(409, "Conflict", "again")

        with pytest.raises(KubeError):
            await retry_on_conflict(always_conflicts, attempts=3, base_delay=0)


async def test_unreachable_server_is_kube_unavailable(control_plane: ControlPlane, tmp_path) -> None:
    config = control_plane.kubeconfig.read_text().replace(control_plane.url, "https://127.0.0.1:1")
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(config)
    async with await Kube.connect(dead) as kube:
        with pytest.raises(KubeUnavailable) as err:
            await kube.get("/api/v1/namespaces")
        assert err.value.status is None


async def test_proxy_environment_is_honoured_once_and_netrc_is_not_read(
    control_plane: ControlPlane, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """HTTPS_PROXY/NO_PROXY decide the route when connecting (as client-go does); a ~/.netrc is
    never read, per request or at all (kubernetes_asyncio's trust_env read it on every call)."""
    path = resource_path("", "v1", "configmaps", k8s_namespace)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password should-never-be-sent\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    # a proxy nobody listens on: every request must fail through it
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with await Kube.connect(control_plane.kubeconfig) as kube:
        with pytest.raises(KubeUnavailable):
            await kube.get(path)
    # the API server's host is exempt: straight through, and no netrc credentials are sent
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with await Kube.connect(control_plane.kubeconfig) as kube:
        assert (await kube.get(path))["kind"] == "ConfigMapList"
        assert not kube.api.rest_client.pool_manager.trust_env
