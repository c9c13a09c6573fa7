"""Drift events of a tenant in a cluster: Snapshot objects (listed with ``limit``/``continue``)
give the order and the per-snapshot counts; the tenant's store gives the changes of one page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from jiradrift.api.resources import GROUP, LABEL_TENANT, VERSION
from jiradrift.kube.client import Kube, resource_path
from jiradrift.kube.names import label_value
from jiradrift.model.report import Change
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.drift import SnapshotDrift


class KubernetesDriftSource:
    """A ``DriftSource`` over the Snapshots of one JiraTenant (``namespace/name``)."""

    def __init__(self, kube: Kube, namespace: str, tenant: str, store: SnapshotStore, page_size: int = 250):
        self.kube = kube
        self.namespace = namespace
        self.tenant = tenant
        self.store = store
        self.page_size = page_size

    async def snapshots(self, tenant: str | None) -> AsyncIterator[SnapshotDrift]:
        key = f"{self.namespace}/{self.tenant}"
        found = []
        # Kubernetes lists by name; Snapshot objects are small, so their (time, count) pairs are
        # gathered page by page and sorted. Change bodies are never loaded here.
        path = resource_path(GROUP, VERSION, "snapshots", self.namespace)
        selector = f"{LABEL_TENANT}={label_value(self.tenant)}"
        async for snap in self.kube.pages(path, page_size=self.page_size, labelSelector=selector):
            if snap["spec"]["tenantRef"]["name"] != self.tenant:
                continue
            status = snap.get("status") or {}
            total = int((status.get("drift") or {}).get("total") or 0)
            # when Jira was read, as the store orders (older Snapshots: when the capture started)
            started = status.get("capturedAt") or status.get("startTime") or snap["metadata"]["creationTimestamp"]
            if total and status.get("phase") in ("Completed", "Incomplete"):
                when = datetime.fromisoformat(started.replace("Z", "+00:00"))
                found.append(SnapshotDrift(snap["metadata"]["name"], key, snap["spec"]["type"], when, total))
        found.sort(key=lambda s: s.order, reverse=True)
        for snapshot in found:
            yield snapshot

    async def changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        return await self.store.read_changes(snapshot_id, start, stop)
