"""When a capture refused its window's Lease tries again, and which waiting capture gets the next
slot (handlers/snapshot.py)."""

from __future__ import annotations

from typing import Any

import pytest

from jiradrift.handlers.snapshot import denied_retry_seconds, slot_priority


@pytest.mark.parametrize(
    ("expires_in", "duration", "expected"),
    [
        (None, 90, 30.0),  # never looked at the Lease: a third of a duration
        (90.0, 90, 30.0),  # first look at a live or dead holder: not the whole duration at once
        (12.5, 90, 13.5),  # a dead holder's Lease expires soon: just after it does
        (0.0, 90, 1.0),  # expired already (someone else took it meanwhile): soon, never a hot loop
        (8.0, 8, 5.0),  # short leases: at least 5 s between looks while it is held
        (3.0, 8, 4.0),
    ],
)
def test_denied_retry_comes_at_the_lease_expiry_when_that_is_soon(
    expires_in: float | None, duration: int, expected: float
) -> None:
    assert denied_retry_seconds(expires_in, duration) == expected


def _snapshot(window: str | None, created: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"tenantRef": {"name": "acme"}, "type": "workflows"}
    if window is not None:
        spec["windowStart"] = window
    return {"metadata": {"name": "s", "creationTimestamp": created}, "spec": spec, "status": status or {}}


def test_capture_slots_serve_older_windows_first_then_retries_and_takeovers_within_a_window() -> None:
    created = "2026-12-01T12:40:01Z"
    fresh_old = _snapshot("2026-12-01T12:35:00Z", created)
    taken_over = _snapshot("2026-12-01T12:35:00Z", created, {"phase": "Capturing", "attempts": 1})
    retried = _snapshot("2026-12-01T12:35:00Z", created, {"phase": "Pending", "attempts": 2})
    fresh_new = _snapshot("2026-12-01T12:40:00Z", created)
    retried_new = _snapshot("2026-12-01T12:40:00Z", created, {"phase": "Capturing", "attempts": 1})
    manual = _snapshot(None, "2026-12-01T12:37:30Z")
    order = sorted(
        [fresh_new, retried_new, manual, fresh_old, retried, taken_over],
        key=slot_priority,
    )
    assert order == [retried, taken_over, fresh_old, manual, retried_new, fresh_new]  # sorted() is stable
    assert slot_priority(retried) == slot_priority(taken_over)
