"""Accepted baselines in the operator: the first complete snapshot of each type is accepted, and
the tenant's ``Drifted`` condition, ``status.unaccepted`` and ``jiradrift_unaccepted_changes`` say
what changed since the accepted snapshots (see :mod:`jiradrift.api.baseline`).

The tenant's Snapshots come from the operator's own watch (the ``tenant_snapshots`` index in
``registry``), so a comparison costs no API request; a diff only when a type's accepted or newest
snapshot changed (the reports are cached per pair in the tenant's state).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jiradrift.api.baseline import (
    AUTO_ACCEPTED_BY,
    UNACCEPT_PATCH,
    SnapshotEntry,
    Unaccepted,
    accept_patch,
    baselines,
    drifted_condition,
    summarise,
)
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.handlers import metrics
from jiradrift.kube.client import Kube, resource_path
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import StoreError
from jiradrift.snapshot.diff import IncomparableSnapshots
from jiradrift.snapshot.recording import diff_stored

log = logging.getLogger(__name__)

MAX_CACHED = 64  # accepted/newest pairs remembered per tenant


@dataclass(slots=True)
class AcceptanceState:
    """Per-tenant memory: drift reports between accepted and newest snapshots, by pair."""

    reports: dict[tuple[str, str, tuple[str, ...]], DriftReport] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Acceptance:
    unaccepted: Unaccepted
    condition: tuple[str, str, str]  # status, reason, message of ``Drifted``
    entries: tuple[SnapshotEntry, ...]

    @property
    def protected(self) -> set[str]:
        """Snapshots retention must keep: the accepted ones."""
        return {e.name for e in self.entries if e.accepted}


async def reconcile_acceptance(
    kube: Kube,
    store: SnapshotStore,
    namespace: str,
    tenant: str,
    ignore: Sequence[str],
    state: AcceptanceState,
    now: datetime,
    snapshots: Sequence[SnapshotEntry],
) -> Acceptance:
    """Accept each type's first complete snapshot if none is, then summarise what is unaccepted.

    ``snapshots`` are the tenant's Snapshots as the operator's watch knows them (no LIST)."""
    entries = list(snapshots)
    path = resource_path(GROUP, VERSION, "snapshots", namespace)
    for stype, base in baselines(entries).items():
        if base.accepted is None and base.newest is not None:
            first = min((e for e in entries if e.type == stype and e.complete), key=lambda e: e.order)
            await kube.merge_patch(f"{path}/{first.name}", accept_patch(AUTO_ACCEPTED_BY, now))
            log.info("accepted %s/%s as the first complete %s snapshot of %s", namespace, first.name, stype, tenant)
            entries = [dataclasses.replace(e, accepted=True) if e is first else e for e in entries]
    # One accepted snapshot per type: `kubectl label` alone, or an accept racing the first
    # auto-accept, can leave older ones labelled; the newest wins and the others are unlabelled.
    for stype, base in baselines(entries).items():
        if base.accepted is None:
            continue
        for stale in (e for e in entries if e.type == stype and e.accepted and e.name != base.accepted.name):
            await kube.merge_patch(f"{path}/{stale.name}", UNACCEPT_PATCH)
            log.info("%s/%s: %s superseded by the newer accepted %s", namespace, tenant, stale.name, base.accepted.name)
            entries = [dataclasses.replace(e, accepted=False) if e is stale else e for e in entries]
    bases = baselines(entries)
    reports: dict[str, DriftReport] = {}
    rules = tuple(ignore)
    for stype, base in bases.items():
        if not base.outstanding or base.accepted is None or base.newest is None:
            continue
        key = (base.accepted.name, base.newest.name, rules)
        report = state.reports.get(key)
        if report is None:
            try:
                old = await store.get_manifest(base.accepted.name)
                new = await store.get_manifest(base.newest.name)
                report = await diff_stored(store, old, new, rules)
            except (StoreError, IncomparableSnapshots) as exc:  # e.g. the accepted one is of another site
                log.warning("%s/%s: cannot compare %s with its accepted snapshot: %s", namespace, tenant, stype, exc)
                continue
            if len(state.reports) >= MAX_CACHED:
                state.reports.clear()
            state.reports[key] = report
        reports[stype] = report
    unaccepted = summarise(bases, reports)
    for severity in ("high", "medium", "low"):
        metrics.UNACCEPTED_CHANGES.labels(namespace, tenant, severity).set(unaccepted.by_severity.get(severity, 0))
    return Acceptance(unaccepted, drifted_condition(unaccepted, f"{namespace}/{tenant}"), tuple(entries))
