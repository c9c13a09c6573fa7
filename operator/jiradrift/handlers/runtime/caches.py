"""The operator's own copies of the watched JiraTenants, Snapshots (fed by ``watch``) and SiteComparisons.

The ticker, acceptance, retention and the Snapshot runner read these, never the API: a tenant's
tick costs no LIST. ``handlers/cache.py`` has the cache itself; ``startup`` says when they are full.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jiradrift.api.baseline import SnapshotEntry
from jiradrift.handlers.cache import WatchCache
from jiradrift.handlers.context import OperatorContext


@dataclass
class Caches:
    tenants: WatchCache[str, dict[str, Any]] = field(default_factory=lambda: WatchCache("JiraTenants"))
    snapshots: WatchCache[tuple[str, str], SnapshotEntry] = field(default_factory=lambda: WatchCache("Snapshots"))
    #: SiteComparisons by namespace (handlers/comparison.py feeds it; the notifier reads it: no LIST).
    comparisons: WatchCache[str, dict[str, Any]] = field(default_factory=lambda: WatchCache("SiteComparisons"))

    @classmethod
    def serving(cls, ctx: OperatorContext) -> Caches:
        """New caches; a capture reads its tenant from them (``ctx.watched_tenant``) without a GET."""
        caches = cls()
        ctx.watched_tenant = caches.tenants.first
        return caches

    def tenant_keys(self) -> list[str]:
        """Every watched JiraTenant, as ``namespace/name``."""
        return list(self.tenants.groups())

    def owned_tenants(self, ctx: OperatorContext) -> list[str]:
        return [key for key in self.tenants.groups() if ctx.owns(*key.split("/", 1))]


def cached(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a watched object to keep, without its managedFields (most of its bytes, never
    copied: this runs for every event of every tenant in every replica)."""
    kept = {key: copy.deepcopy(value) for key, value in body.items() if key != "metadata"}
    metadata = body.get("metadata") or {}
    kept["metadata"] = {key: copy.deepcopy(value) for key, value in metadata.items() if key != "managedFields"}
    return kept
