"""What the CLI needs to show the projects a change affects: a tenant's blast radius from a store.

The radius of a tenant comes from the newest complete snapshot of each type in the store (projects
and their schemes, schemes and their workflows, screens and field configurations, fields and their
contexts): from the reference index kept with each snapshot, so no body is read and no Jira request
is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import orjson

from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.blast import BlastRadius, ReachRule, annotate, site_radius
from jiradrift.snapshot.drift import DriftPage
from jiradrift.snapshot.natural import Json


async def newest_items(
    store: SnapshotStore, tenant: str, types: list[str] | None = None, kinds: set[str] | None = None
) -> list[tuple[str, Json]]:
    """(item key, body) of the newest complete snapshot of every type (or of ``types``) of ``tenant``;
    only the items of ``kinds`` when given (their bodies alone are read)."""
    newest: dict[str, str] = {}
    infos = [i for i in await store.list_snapshots(tenant) if i.complete and (not types or i.type in types)]
    for info in sorted(infos, key=lambda i: i.captured_at, reverse=True):
        newest.setdefault(info.type, info.snapshot_id)
    items: list[tuple[str, Json]] = []
    for snapshot_id in sorted(newest.values()):
        manifest = await store.get_manifest(snapshot_id)
        wanted = {k: d for k, d in manifest.items.items() if kinds is None or k.split("/", 1)[0] in kinds}
        bodies = await store.get_items(set(wanted.values()))
        items.extend((key, orjson.loads(bodies[digest])) for key, digest in wanted.items())
    return items


radius_of = site_radius


class Radii:
    """Blast radii per tenant of one store."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self.found: dict[str, BlastRadius] = {}

    async def of(self, tenant: str, kinds: Iterable[str] = ()) -> BlastRadius:
        """The radius of ``tenant`` (``kinds``: what changed; every kind's reach is known anyway)."""
        radius = self.found.get(tenant)
        if radius is None:
            radius = self.found[tenant] = await radius_of(self.store, tenant)
        return radius


async def annotate_page(page: DriftPage, radii: Radii, rule: ReachRule | None) -> DriftPage:
    """``page`` with every event's change carrying what it affects (severity raised by ``rule``)."""
    items = []
    for event in page.items:
        kinds = {e.change.kind for e in page.items if e.tenant == event.tenant}
        [change] = annotate([event.change], await radii.of(event.tenant, kinds), rule)
        items.append(replace(event, change=change))
    return replace(page, items=items)
