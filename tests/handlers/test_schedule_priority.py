"""Which captures count as scheduled (handlers/schedule.py): only what the operator's own schedule
makes, judged from facts a Snapshot's author cannot forge (name, the tenant's interval, the API
server's creationTimestamp, the operator's clock); everything else is manual."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jiradrift.api.windows import snapshot_name
from jiradrift.handlers.schedule import CaptureClass, capture_claim, scheduled_window

NOW = datetime(2026, 12, 1, 12, 41, tzinfo=UTC)  # current 5m window: 12:40
TENANT: dict[str, Any] = {"metadata": {"name": "acme"}, "spec": {"schedule": {"interval": "5m"}}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def snap(
    window: str | None,
    created: str,
    *,
    name: str | None = None,
    reason: str = "Scheduled",
    tenant: str = "acme",
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"tenantRef": {"name": tenant}, "type": "workflows", "reason": reason}
    if window is not None:
        spec["windowStart"] = window
    if name is None:
        name = snapshot_name(tenant, "workflows", at(window)) if window else "manual-1"
    meta = {"name": name, "namespace": "team-a", "creationTimestamp": created}
    return {"metadata": meta, "spec": spec, "status": status or {}}


CASES: dict[str, tuple[dict[str, Any], dict[str, Any] | None, bool]] = {
    "the operator's own, current window": (snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"), TENANT, True),
    "the previous window, unfinished (a dead replica's)": (
        snap("2026-12-01T12:35:00Z", "2026-12-01T12:35:02Z"),
        TENANT,
        True,
    ),
    "the oldest window of the lookback": (snap("2026-12-01T12:30:00Z", "2026-12-01T12:34:59Z"), TENANT, True),
    "created a little before its window by a skewed clock": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:39:30Z"),
        TENANT,
        True,
    ),
    "forged 1970 window with the deterministic name": (
        snap("1970-01-01T00:00:00Z", "2026-12-01T12:40:30Z"),
        TENANT,
        False,
    ),
    "forged 1970 window, any name": (
        snap("1970-01-01T00:00:00Z", "2026-12-01T12:40:30Z", name="aaa-first"),
        TENANT,
        False,
    ),
    "current window, not the deterministic name": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z", name="acme-workflows-now"),
        TENANT,
        False,
    ),
    "another tenant's deterministic name": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z", name=snapshot_name("other", "workflows", NOW)),
        TENANT,
        False,
    ),
    "deterministic name and window, reason Manual": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z", reason="Manual"),
        TENANT,
        False,
    ),
    "window not aligned to the tenant's interval": (
        snap("2026-12-01T12:41:00Z", "2026-12-01T12:41:00Z"),
        TENANT,
        False,
    ),
    "window older than the lookback (a real one, long unfinished)": (
        snap("2026-12-01T12:25:00Z", "2026-12-01T12:25:01Z"),
        TENANT,
        False,
    ),
    "a future window": (snap("2026-12-01T12:45:00Z", "2026-12-01T12:40:30Z"), TENANT, False),
    "created after its window ended (not by the ticker)": (
        snap("2026-12-01T12:30:00Z", "2026-12-01T12:40:30Z"),
        TENANT,
        False,
    ),
    "no windowStart": (snap(None, "2026-12-01T12:40:30Z"), TENANT, False),
    "tenant unknown": (snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"), None, False),
    "tenant interval unparsable": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"),
        {"spec": {"schedule": {"interval": "soon"}}},
        False,
    ),
    "tenant paused (the ticker schedules nothing)": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"),
        {"spec": {"schedule": {"interval": "5m"}, "paused": True}},
        False,
    ),
    "a type the tenant does not capture": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"),
        {"spec": {"schedule": {"interval": "5m"}, "snapshotTypes": ["fields"]}},
        False,
    ),
    "a type the tenant captures": (
        snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z"),
        {"spec": {"schedule": {"interval": "5m"}, "snapshotTypes": ["fields", "workflows"]}},
        True,
    ),
    "windowStart unparsable": (snap(None, "2026-12-01T12:40:30Z") | {"spec": {"windowStart": "x"}}, TENANT, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scheduled_priority_is_earned_not_claimed(case: str) -> None:
    body, tenant, scheduled = CASES[case]
    claim = capture_claim(body, tenant, NOW)
    assert claim.scheduled is scheduled
    assert claim.band[0] == (CaptureClass.SCHEDULED if scheduled else CaptureClass.MANUAL)
    assert claim.who == ("team-a", body["spec"].get("tenantRef", {}).get("name", ""))
    assert (scheduled_window(body, tenant, NOW) is not None) is scheduled


def test_claims_order_scheduled_windows_oldest_first_retries_first_then_manual() -> None:
    fresh_old = snap("2026-12-01T12:35:00Z", "2026-12-01T12:35:01Z")
    taken_over = snap("2026-12-01T12:35:00Z", "2026-12-01T12:35:01Z", status={"phase": "Capturing", "attempts": 1})
    retried = snap("2026-12-01T12:35:00Z", "2026-12-01T12:35:01Z", status={"phase": "Pending", "attempts": 2})
    fresh_new = snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z")
    retried_new = snap("2026-12-01T12:40:00Z", "2026-12-01T12:40:01Z", status={"phase": "Capturing", "attempts": 1})
    manual = snap(None, "2026-12-01T12:37:30Z", reason="Manual")
    manual_retried = snap(None, "2026-12-01T12:37:30Z", reason="Manual", status={"attempts": 1})
    forged = snap("1970-01-01T00:00:00Z", "2026-12-01T12:40:30Z")

    def band(body: dict[str, Any]) -> tuple[int, str, int]:
        return capture_claim(body, TENANT, NOW).band

    bodies = [fresh_new, forged, retried_new, manual, fresh_old, manual_retried, retried, taken_over]
    order = sorted(bodies, key=band)  # sorted() is stable
    assert order == [retried, taken_over, fresh_old, retried_new, fresh_new, manual_retried, forged, manual]
    assert band(forged) == band(manual)
