"""The few Kubernetes calls the token lifecycle makes, as awaitables over the official ApiClient.

Calls go through :func:`jiradrift.store.kubeapi.request_json` (the ApiClient's auth, TLS and
connection pool, plain JSON in and out, no generated models: the token job makes tens of thousands
of calls). Blocking calls run in the event loop's default executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from jiradrift.k8s.resources import GROUP, VERSION
from jiradrift.store.kubeapi import request_json, status_message

PLURAL = "jiratenants"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "jiradrift-tokens"


class KubeError(Exception):
    """The API server refused a call; ``status`` is its HTTP status."""

    def __init__(self, status: int, method: str, path: str, detail: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail
        hint = {
            403: "grant the job's ServiceAccount this verb on this resource (see the chart's RBAC)",
            409: "another writer changed the object; re-read it",
        }.get(status, "check the API server")
        super().__init__(f"{method} {path} -> HTTP {status}: {detail}; {hint}")


class Conflict(KubeError):
    """409: the resourceVersion precondition failed (or the object already exists)."""


def _q(value: str) -> str:
    return quote(value, safe="")


class KubeOps:
    """Secrets, JiraTenant status, Events and tenant listing for one ApiClient."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
        not_found_ok: bool = False,
    ) -> dict[str, Any] | None:
        try:
            return request_json(self.api, method, path, query=query, body=body, content_type=content_type)
        except ApiException as exc:
            if exc.status == 404 and not_found_ok:
                return None
            kind = Conflict if exc.status == 409 else KubeError
            raise kind(int(exc.status or 0), method, path, status_message(exc)) from None

    async def _run(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._call, method, path, **kwargs)

    # --- Secrets --------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run(
            "GET", f"/api/v1/namespaces/{_q(namespace)}/secrets/{_q(name)}", not_found_ok=True
        )

    async def replace_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT; ``metadata.resourceVersion`` in ``body`` is the precondition (409 :class:`Conflict`)."""
        meta = body["metadata"]
        path = f"/api/v1/namespaces/{_q(meta['namespace'])}/secrets/{_q(meta['name'])}"
        result = await self._run("PUT", path, body=body, query=[("fieldManager", FIELD_MANAGER)])
        assert result is not None
        return result

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{_q(namespace)}/secrets"
        result = await self._run("POST", path, body=body, query=[("fieldManager", FIELD_MANAGER)])
        assert result is not None
        return result

    # --- JiraTenants ----------------------------------------------------------------------

    def _tenant_path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{_q(namespace)}/{PLURAL}"
        return f"{base}/{_q(name)}" if name else base

    async def get_tenant(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("GET", self._tenant_path(namespace, name), not_found_ok=True)

    async def patch_tenant_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of ``/status``; a ``metadata.resourceVersion`` in it makes it conditional."""
        result = await self._run(
            "PATCH",
            self._tenant_path(namespace, name) + "/status",
            body=patch,
            content_type=MERGE_PATCH,
            query=[("fieldManager", FIELD_MANAGER)],
        )
        assert result is not None
        return result

    async def list_tenants(
        self, namespace: str | None, *, limit: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of JiraTenants (``limit`` / ``continue``), in one namespace or across all."""
        path = self._tenant_path(namespace) if namespace else f"/apis/{GROUP}/{VERSION}/{PLURAL}"
        token = ""
        for _ in range(1_000_000):  # bounded: a page is never empty while continue is set
            query = [("limit", str(limit))] + ([("continue", token)] if token else [])
            page = await self._run("GET", path, query=query)
            assert page is not None
            yield list(page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return

    # --- Events ---------------------------------------------------------------------------

    async def create_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        result = await self._run("POST", f"/api/v1/namespaces/{_q(namespace)}/events", body=body)
        assert result is not None
        return result
