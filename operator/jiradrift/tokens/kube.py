"""The few Kubernetes calls the token lifecycle makes, over the one client (:class:`~jiradrift.kube.client.Kube`).

Plain JSON in and out. Failures are :class:`~jiradrift.kube.client.KubeError` (``.conflict`` for a
failed resourceVersion precondition or an existing object) and
:class:`~jiradrift.kube.client.KubeUnavailable` (no answer); a missing object reads as ``None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.kube.client import Kube, resource_path

PLURAL = "jiratenants"
FIELD_MANAGER = "jiradrift-tokens"


class KubeOps:
    """Secrets, JiraTenant status, Events and tenant listing through one :class:`Kube`."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    # --- Secrets --------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.kube.get_or_none(resource_path("", "v1", "secrets", namespace, name))

    async def replace_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT; ``metadata.resourceVersion`` in ``body`` is the precondition (409: ``.conflict``)."""
        meta = body["metadata"]
        path = resource_path("", "v1", "secrets", meta["namespace"], meta["name"])
        written: dict[str, Any] = await self.kube.request("PUT", path, body=body, query={"fieldManager": FIELD_MANAGER})
        return written

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        path = resource_path("", "v1", "secrets", namespace)
        created: dict[str, Any] = await self.kube.request(
            "POST", path, body=body, query={"fieldManager": FIELD_MANAGER}
        )
        return created

    # --- JiraTenants ----------------------------------------------------------------------

    async def get_tenant(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.kube.get_or_none(resource_path(GROUP, VERSION, PLURAL, namespace, name))

    async def patch_tenant_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of ``/status``; a ``metadata.resourceVersion`` in it makes it conditional."""
        path = resource_path(GROUP, VERSION, PLURAL, namespace, name) + "/status"
        patched: dict[str, Any] = await self.kube.request(
            "PATCH",
            path,
            body=patch,
            content_type="application/merge-patch+json",
            query={"fieldManager": FIELD_MANAGER},
        )
        return patched

    async def list_tenants(self, namespace: str | None, *, limit: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Every JiraTenant (read ``limit`` at a time), in one namespace or across all."""
        async for item in self.kube.pages(resource_path(GROUP, VERSION, PLURAL, namespace), page_size=limit):
            yield item

    # --- Events ---------------------------------------------------------------------------

    async def create_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.kube.create(resource_path("", "v1", "events", namespace), body)
        return created
