"""When a capture refused its window's Lease tries again (handlers/schedule.py). Which waiting capture
gets the next slot: tests/handlers/test_schedule_priority.py."""

from __future__ import annotations

import pytest

from jiradrift.handlers.schedule import denied_retry_seconds


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
