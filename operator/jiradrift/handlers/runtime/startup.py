"""At startup: wait until the caches hold every object a metadata LIST shows.

Before that, the first shard assignment would be computed over a half-listed few tenants and
acceptance would read partial Snapshot lists (``loops`` waits for this before its first round).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.handlers.cache import listed_uids
from jiradrift.handlers.runtime.caches import Caches
from jiradrift.kube.client import METADATA_LIST, Kube, KubeError, resource_path
from jiradrift.net.backoff import NO_JITTER, backoff_delay

log = logging.getLogger("jiradrift.handlers")
CACHE_READY_SECONDS = 120.0  # how long startup waits for the watch to deliver what a LIST showed


async def fill_caches(kube: Kube, namespaces: list[str], caches: Caches) -> None:
    """Return once the watch has delivered every JiraTenant and Snapshot a LIST showed now."""
    for plural, cache in (("jiratenants", caches.tenants), ("snapshots", caches.snapshots)):
        cache.expect(listed_uids(await list_metadata(kube, namespaces, plural)))
    await caches.tenants.wait_ready(CACHE_READY_SECONDS)
    await caches.snapshots.wait_ready(CACHE_READY_SECONDS)
    log.info("watching %d JiraTenant(s) and %d Snapshot(s)", len(caches.tenants), len(caches.snapshots))


async def list_metadata(kube: Kube, namespaces: list[str], plural: str) -> list[dict[str, Any]]:
    """Every object's metadata in the watched namespaces (paged); retried until the API answers."""
    scopes: list[str | None] = list(namespaces) or [None]
    for attempt in itertools.count():
        try:
            return [
                item
                for namespace in scopes
                async for item in kube.pages(resource_path(GROUP, VERSION, plural, namespace), accept=METADATA_LIST)
            ]
        except KubeError as exc:
            delay = backoff_delay(attempt, base=1.0, cap=30.0, jitter=NO_JITTER)
            log.warning("could not list %s at startup (%s); retrying in %.0fs", plural, exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # itertools.count() never ends
