"""Drift events of a tenant in a cluster: Snapshot objects (listed with ``limit``/``continue``)
give the order and the per-snapshot counts; the tenant's store gives the changes of one page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from kubernetes import client as k8s

from jiradrift.k8s.resources import GROUP, LABEL_TENANT, VERSION
from jiradrift.kube.api import label_value
from jiradrift.model.report import Change
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.drift import SnapshotDrift


class KubernetesDriftSource:
    """A ``DriftSource`` over the Snapshots of one JiraTenant (``namespace/name``)."""

    def __init__(self, api: k8s.ApiClient, namespace: str, tenant: str, store: SnapshotStore, page_size: int = 250):
        self.api = api
        self.namespace = namespace
        self.tenant = tenant
        self.store = store
        self.page_size = page_size

    def _list(self) -> Iterator[dict[str, Any]]:
        objects = k8s.CustomObjectsApi(self.api)
        token: str | None = None
        for _ in range(100_000):  # bounded; each page is page_size objects
            kwargs: dict[str, Any] = {
                "label_selector": f"{LABEL_TENANT}={label_value(self.tenant)}",
                "limit": self.page_size,
            }
            if token:
                kwargs["_continue"] = token
            result: dict[str, Any] = cast(
                dict[str, Any],
                objects.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "snapshots", **kwargs),
            )
            yield from result["items"]
            token = result["metadata"].get("continue")
            if not token:
                return

    def snapshots(self, tenant: str | None) -> Iterator[SnapshotDrift]:
        key = f"{self.namespace}/{self.tenant}"
        found = []
        # Kubernetes lists by name; Snapshot objects are small, so their (time, count) pairs are
        # gathered page by page and sorted. Change bodies are never loaded here.
        for snap in self._list():
            if snap["spec"]["tenantRef"]["name"] != self.tenant:
                continue
            status = snap.get("status") or {}
            total = int((status.get("drift") or {}).get("total") or 0)
            started = status.get("startTime") or snap["metadata"]["creationTimestamp"]
            if total and status.get("phase") in ("Completed", "Incomplete"):
                when = datetime.fromisoformat(started.replace("Z", "+00:00"))
                found.append(SnapshotDrift(snap["metadata"]["name"], key, snap["spec"]["type"], when, total))
        found.sort(key=lambda s: s.order, reverse=True)
        yield from found

    def changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return self.store.read_changes(snapshot_id, start, stop)
