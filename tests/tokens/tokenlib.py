"""Helpers for the token tests: tenants and Secrets on the real API server, grants on the emulator."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kubernetes import client as k8s

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.kubejson import request_json
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens.secret import format_time

EMULATOR = HostAllowlist.parse("127.0.0.1,localhost")
"""The emulator's token endpoint is on loopback: allowed here as a cluster admin would allow a host."""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def create_secret(
    api: k8s.ApiClient, ns: str, name: str, values: dict[str, str], tenants: str | None = "*"
) -> dict[str, Any]:
    """A credential Secret; ``tenants`` is its opt-in (``jiradrift.io/allowed-tenants``), None for none."""
    annotations = {ALLOWED_TENANTS_ANNOTATION: tenants} if tenants is not None else {}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "data": {k: b64(v) for k, v in values.items()},
    }
    return request_json(api, "POST", f"/api/v1/namespaces/{ns}/secrets", body=body)


def get_secret(api: k8s.ApiClient, ns: str, name: str) -> dict[str, Any]:
    return request_json(api, "GET", f"/api/v1/namespaces/{ns}/secrets/{name}")


def secret_values(api: k8s.ApiClient, ns: str, name: str) -> dict[str, str]:
    return {k: unb64(v) for k, v in (get_secret(api, ns, name).get("data") or {}).items()}


def patch_secret(api: k8s.ApiClient, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    return request_json(
        api,
        "PATCH",
        f"/api/v1/namespaces/{ns}/secrets/{name}",
        body=patch,
        content_type="application/merge-patch+json",
    )


def set_secret_values(api: k8s.ApiClient, ns: str, name: str, values: dict[str, str | None]) -> dict[str, Any]:
    """Merge-patch data keys (``None`` removes a key)."""
    data = {k: (b64(v) if v is not None else None) for k, v in values.items()}
    return patch_secret(api, ns, name, {"data": data})


def tenant_path(ns: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/jiratenants"
    return f"{base}/{name}" if name else base


def create_tenant(
    api: k8s.ApiClient,
    ns: str,
    name: str,
    sim: RunningEmulator,
    *,
    kind: str = "oauth",
    secret: str | None = None,
    allow_write_scopes: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {"secretRef": {"name": secret or f"{name}-creds"}}
    if kind in ("oauth", "serviceAccount"):
        block["tokenUrl"] = sim.token_url
    auth: dict[str, Any] = {kind: block}
    if allow_write_scopes:
        auth["allowWriteScopes"] = True
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"site": sim.base_url, "apiGateway": sim.gateway_url, "auth": auth},
    }
    return request_json(api, "POST", tenant_path(ns), body=body)


def get_tenant(api: k8s.ApiClient, ns: str, name: str) -> dict[str, Any]:
    return request_json(api, "GET", tenant_path(ns, name))


def condition(tenant: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in (tenant.get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return dict(item)
    return {}


def oauth_secret(
    sim: RunningEmulator,
    refresh_token: str,
    *,
    expires_at: datetime | None = None,
    access_token: str = "at-old-token",  # 8+ characters: shorter ones are never used (issue 23)
) -> dict[str, str]:
    values = {
        "client_id": sim.credentials.client_id,
        "client_secret": sim.credentials.client_secret,
        "refresh_token": refresh_token,
    }
    if expires_at is not None:
        values["access_token"] = access_token
        values["expires_at"] = format_time(expires_at)
    return values


def sa_secret(sim: RunningEmulator) -> dict[str, str]:
    return {"client_id": sim.credentials.sa_client_id, "client_secret": sim.credentials.sa_client_secret}


def soon(minutes: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def events_for(api: k8s.ApiClient, ns: str, name: str, reason: str) -> list[dict[str, Any]]:
    found = request_json(
        api,
        "GET",
        f"/api/v1/namespaces/{ns}/events",
        query={"fieldSelector": f"involvedObject.name={name},reason={reason}"},
    )
    return list(found.get("items") or [])


class RefreshTokenSpy:
    """An httpx event hook that records every refresh token presented to the token endpoint."""

    def __init__(self) -> None:
        self.presented: list[str] = []
        self.grant_types: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/oauth/token") and request.method == "POST":
            body = json.loads(request.content or b"{}")
            self.grant_types.append(str(body.get("grant_type")))
            if body.get("grant_type") == "refresh_token":
                self.presented.append(str(body.get("refresh_token")))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30.0, event_hooks={"request": [self]})


class CountingKube(Kube):
    """The real client, counting API calls by HTTP method."""

    def __init__(self, kube: Kube) -> None:
        super().__init__(kube.api, kube.timeout)
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls[method] += 1
        self.requests.append((method, path))
        return await super().request(method, path, **kwargs)
