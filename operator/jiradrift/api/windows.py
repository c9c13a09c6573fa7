"""Schedule windows and the deterministic names that make scheduled creation idempotent.

A tenant with ``interval = 6h`` has windows starting at 00:00, 06:00, 12:00 and 18:00 UTC. The
Snapshot for a window is named from tenant, type and window start, so a restarted operator or a
second replica that tries to create it again gets 409 AlreadyExists instead of a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from jiradrift.api.resources import API_VERSION, GROUP, LABEL_TENANT, LABEL_TYPE, LABEL_WINDOW, VERSION
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.kube.names import label_value

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration(text: str, *, days: bool = False) -> timedelta:
    """``"1h30m"`` -> 90 minutes (``days``: ``"2d"`` too). Raises ValueError naming the accepted form.

    The one duration parser: schedule intervals (hours, minutes, seconds, as the CRD's pattern
    allows) and the token job's ``--window`` (which also takes days).
    """
    compact = text.strip().lower()
    match = _DURATION.match(compact)
    if not compact or not match or (match.group(1) and not days):
        form = "such as 30m, 6h, 1h30m or 2d" if days else "hours, minutes and seconds such as 30m, 6h or 1h30m"
        raise ValueError(f"{text!r} is not a duration; use {form}")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def window_start(now: datetime, interval: timedelta) -> datetime:
    """``floor(now, interval)`` in UTC, counted from the Unix epoch."""
    step = int(interval.total_seconds())
    if step <= 0:
        raise ValueError("interval must be positive")
    seconds = int((now.astimezone(UTC) - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=seconds - seconds % step)


def window_label(start: datetime) -> str:
    """A label-safe window id, e.g. ``20261126T1200Z``."""
    return start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def window_iso(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_name(tenant: str, snapshot_type: str, start: datetime, marker: str = "") -> str:
    """``<tenant>-<type>-<window>`` (lowercase, DNS-1123), or ``<tenant>-<type>-<marker>-<window>``,
    shortened with a hash when too long."""
    infix = f"{marker}-" if marker else ""
    name = f"{tenant}-{snapshot_type}-{infix}{window_label(start).lower()}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: 253 - 11].rstrip('-.')}-{digest}"


def scheduled_snapshot(
    namespace: str, tenant: str, tenant_uid: str, snapshot_type: str, start: datetime
) -> dict[str, Any]:
    """The Snapshot of one window, owned by its tenant (so it goes when the tenant goes)."""
    return window_snapshot(namespace, tenant, tenant_uid, snapshot_type, start)


def window_snapshot(
    namespace: str,
    tenant: str,
    tenant_uid: str,
    snapshot_type: str,
    start: datetime,
    *,
    reason: str = "Scheduled",
    marker: str = "",
) -> dict[str, Any]:
    """A Snapshot created for the window starting at ``start``, owned by its tenant. Only a scheduled
    (full) window's Snapshot carries the window label; ``marker`` sets its name apart
    (:func:`snapshot_name`)."""
    labels = {LABEL_TENANT: label_value(tenant), LABEL_TYPE: snapshot_type}
    if reason == "Scheduled":
        labels[LABEL_WINDOW] = window_label(start)
    return {
        "apiVersion": API_VERSION,
        "kind": "Snapshot",
        "metadata": {
            "name": snapshot_name(tenant, snapshot_type, start, marker),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": "JiraTenant", "name": tenant, "uid": tenant_uid}],
        },
        "spec": {
            "tenantRef": {"name": tenant},
            "type": snapshot_type,
            "windowStart": window_iso(start),
            "reason": reason,
        },
    }


async def ensure_snapshot(
    kube: Kube, namespace: str, tenant: str, tenant_uid: str, snapshot_type: str, start: datetime
) -> bool:
    """Create the window's Snapshot unless it exists. True when this call created it."""
    body = scheduled_snapshot(namespace, tenant, tenant_uid, snapshot_type, start)
    try:
        await kube.create(resource_path(GROUP, VERSION, "snapshots", namespace), body)
        return True
    except KubeError as exc:
        if exc.conflict:
            return False
        raise
