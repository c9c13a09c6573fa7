"""Our custom objects over the one Kubernetes client: get, patch status, patch labels, delete."""

from __future__ import annotations

from typing import Any

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.redact import redact_strings


def object_path(namespace: str, plural: str, name: str | None = None) -> str:
    return resource_path(GROUP, VERSION, plural, namespace, name)


async def get_object(kube: Kube, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    """The object as the API server returns it, or None when it does not exist (``api.objects.read_object``
    reads it into its model)."""
    return await kube.get_or_none(object_path(namespace, plural, name))


async def patch_status(kube: Kube, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
    """Merge ``status`` into the object's status. Every string passes redaction: messages quote
    errors, and errors quote input."""
    await kube.merge_patch(object_path(namespace, plural, name) + "/status", {"status": redact_strings(status)})


async def patch_labels(kube: Kube, namespace: str, plural: str, name: str, labels: dict[str, str]) -> None:
    await kube.merge_patch(object_path(namespace, plural, name), {"metadata": {"labels": labels}})


async def delete_object(kube: Kube, namespace: str, plural: str, name: str) -> None:
    """Delete; already gone is fine."""
    try:
        await kube.delete(object_path(namespace, plural, name))
    except KubeError as exc:
        if not exc.not_found:
            raise
