"""Which waiting capture gets the next slot: decided from facts a tenant author cannot forge.

    claim = capture_claim(snapshot, tenant, now)
    async with slots.slot(claim.band, claim.who):
        ...

A Snapshot's ``spec`` is whatever its author wrote: ``reason: Scheduled`` and a ``windowStart`` of
1970 sorted first, and a flood of them starved every other tenant. A Snapshot counts as scheduled
here only when everything about it is what the operator's own schedule makes, and nothing else can:

- its name is the deterministic name of its tenant, type and window (:func:`snapshot_name`), so
  there is at most one per tenant, type and window, and the operator's own is that one;
- its window is aligned to the tenant's interval and is the current window or one of the
  :data:`LOOKBACK_WINDOWS` before it (a dead replica's unfinished window keeps its priority, 1970
  does not);
- the API server created it during that window (``creationTimestamp`` is the server's, not the
  author's), as the operator's ticker does;
- its tenant is not paused and captures its type (the ticker creates nothing else).

Anything else is manual, and waits behind every scheduled capture. Within a band (a class, a
window, retried or fresh) slots go round-robin over namespaces and then over the tenants of a
namespace (``handlers/slots.py``), so a flood from one tenant queues behind its own captures only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from jiradrift.api.resources import Schedule, SnapshotPhase, SnapshotReason
from jiradrift.api.windows import parse_duration, snapshot_name, window_iso, window_start

LOOKBACK_WINDOWS = 2  # a scheduled window keeps its priority while it is current and for two more
CLOCK_SKEW = timedelta(seconds=120)  # the API server's clock (creationTimestamp) against ours
DEFAULT_INTERVAL = Schedule().interval


class CaptureClass(IntEnum):
    SCHEDULED = 0
    MANUAL = 1


Band = tuple[int, str, int]  # (class, window start for scheduled or "", 0 tried before / 1 fresh)


@dataclass(frozen=True)
class Claim:
    """A capture's place in the queue: its ``band`` (lower first) and who it is for (namespace,
    tenant), over which the slots of one band go round-robin."""

    band: Band
    who: tuple[str, str]
    scheduled: bool


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def scheduled_window(body: Mapping[str, Any], tenant: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """The window a Snapshot is the operator's scheduled capture of, or None when it is not one
    (then it is manual, whatever its spec says). ``tenant``: its JiraTenant as watched (None: unknown)."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    if tenant is None or spec.get("reason") != SnapshotReason.SCHEDULED:
        return None
    tenant_spec = tenant.get("spec") or {}
    types = tenant_spec.get("snapshotTypes")
    if tenant_spec.get("paused") or (types is not None and spec.get("type") not in types):
        return None  # the operator schedules nothing for a paused tenant, nor a type it does not capture
    start, created = _time(spec.get("windowStart")), _time(meta.get("creationTimestamp"))
    if start is None or created is None:
        return None
    schedule = tenant_spec.get("schedule") or {}
    try:
        interval = parse_duration(str(schedule.get("interval") or DEFAULT_INTERVAL))
        aligned = window_start(start, interval) == start
    except ValueError:
        return None
    tenant_name = str((spec.get("tenantRef") or {}).get("name") or "")
    if not aligned or meta.get("name") != snapshot_name(tenant_name, str(spec.get("type") or ""), start):
        return None
    if not start - CLOCK_SKEW <= created < start + interval + CLOCK_SKEW:
        return None  # not created during its window: not by the operator's ticker
    current = window_start(now, interval)
    if not current - LOOKBACK_WINDOWS * interval <= start <= current:
        return None
    return start


def capture_claim(body: Mapping[str, Any], tenant: Mapping[str, Any] | None, now: datetime) -> Claim:
    """The Snapshot's claim on a capture slot. Scheduled windows go first, the oldest first (a dead
    replica's unfinished window before the next window's captures); within a window a capture tried
    before (a retry, a takeover) before the fresh ones, which queued long before it. Manual
    Snapshots follow, tried before fresh."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    tried = status.get("phase") == SnapshotPhase.CAPTURING or int(status.get("attempts") or 0) > 0
    who = (str(meta.get("namespace") or ""), str((spec.get("tenantRef") or {}).get("name") or ""))
    window = scheduled_window(body, tenant, now)
    if window is None:
        return Claim((CaptureClass.MANUAL, "", 0 if tried else 1), who, scheduled=False)
    return Claim((CaptureClass.SCHEDULED, window_iso(window), 0 if tried else 1), who, scheduled=True)
