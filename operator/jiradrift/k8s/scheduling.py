"""Schedule windows and the deterministic names that make scheduled creation idempotent.

A tenant with ``interval = 6h`` has windows starting at 00:00, 06:00, 12:00 and 18:00 UTC. The
Snapshot for a window is named from tenant, type and window start, so a restarted operator or a
second replica that tries to create it again gets 409 AlreadyExists instead of a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` -> 90 minutes. Raises ValueError naming the accepted form."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match:
        raise ValueError(f"{text!r} is not a duration; use hours, minutes and seconds such as 30m, 6h or 1h30m")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


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


def snapshot_name(tenant: str, snapshot_type: str, start: datetime) -> str:
    """``<tenant>-<type>-<window>`` (lowercase, DNS-1123), shortened with a hash when too long."""
    name = f"{tenant}-{snapshot_type}-{window_label(start).lower()}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: 253 - 11].rstrip('-.')}-{digest}"
