"""The operator's metric helpers that the alert rules depend on (tests/alerts has the rules)."""

from __future__ import annotations

import uuid

from jiradrift.handlers import metrics
from jiradrift.handlers.snapshot import FINAL


def value(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_last_complete_snapshot_keeps_the_newest_whatever_the_order() -> None:
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    for at in (200.0, 500.0, 300.0):  # kopf resumes old Snapshots in no particular order
        metrics.record_complete_snapshot(ns, "acme", "workflows", at)
    assert (
        value("jiradrift_last_complete_snapshot_timestamp_seconds", namespace=ns, tenant="acme", type="workflows")
        == 500.0
    )


def test_schedule_exports_the_interval_until_paused_and_starts_counters_at_zero() -> None:
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    metrics.set_tenant_schedule(ns, "acme", 21600.0, ["workflows"])
    assert value("jiradrift_tenant_interval_seconds", namespace=ns, tenant="acme") == 21600.0
    for phase in FINAL:
        labels = {"namespace": ns, "tenant": "acme", "type": "workflows", "phase": phase}
        assert value("jiradrift_snapshots_total", **labels) == 0.0, phase
    metrics.set_tenant_schedule(ns, "acme", None, ["workflows"])  # paused: no snapshot is due
    assert value("jiradrift_tenant_interval_seconds", namespace=ns, tenant="acme") is None
    metrics.set_tenant_schedule(ns, "acme", None, ["workflows"])  # paused twice is fine


def test_incremental_window_counters_start_at_zero_only_for_tenants_with_windows() -> None:
    """JiraDriftIncrementalWindowsFailing reads increase() of the failed windows: the first failure
    counts only if the series existed at 0 before it."""
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    metrics.set_tenant_schedule(ns, "full-only", 600.0, ["fields"])
    metrics.set_tenant_schedule(ns, "acme", 600.0, ["fields"], incremental=True)
    for result in metrics.WINDOW_RESULTS:
        assert value("jiradrift_incremental_windows_total", namespace=ns, tenant="acme", result=result) == 0.0
        assert value("jiradrift_incremental_windows_total", namespace=ns, tenant="full-only", result=result) is None


def test_forget_tenant_drops_only_that_tenants_gauges() -> None:
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    for tenant in ("acme", "globex"):
        metrics.set_tenant_schedule(ns, tenant, 600.0, ["fields"])
        metrics.record_complete_snapshot(ns, tenant, "fields", 100.0)
        metrics.TOKEN_EXPIRY.labels(ns, tenant).set(1.0)
        metrics.UNACCEPTED_CHANGES.labels(ns, tenant, "high").set(2)
    metrics.forget_tenant(ns, "acme")
    assert value("jiradrift_tenant_interval_seconds", namespace=ns, tenant="acme") is None
    assert (
        value("jiradrift_last_complete_snapshot_timestamp_seconds", namespace=ns, tenant="acme", type="fields") is None
    )
    assert value("jiradrift_token_expiry_timestamp_seconds", namespace=ns, tenant="acme") is None
    assert value("jiradrift_unaccepted_changes", namespace=ns, tenant="acme", severity="high") is None
    assert value("jiradrift_tenant_interval_seconds", namespace=ns, tenant="globex") == 600.0
    assert value("jiradrift_unaccepted_changes", namespace=ns, tenant="globex", severity="high") == 2
    # a capture that finishes after the deletion (or after the tenant moved to another replica)
    # does not bring the gauges back: they would alert forever
    metrics.record_complete_snapshot(ns, "acme", "fields", 200.0)
    metrics.set_snapshot_items(ns, "acme", "fields", 7)
    assert (
        value("jiradrift_last_complete_snapshot_timestamp_seconds", namespace=ns, tenant="acme", type="fields") is None
    )
    assert value("jiradrift_snapshot_items", namespace=ns, tenant="acme", type="fields") is None
    # a tenant re-created with the same name (reconciled again) starts over: an older completion is taken
    metrics.set_tenant_schedule(ns, "acme", 600.0, ["fields"])
    metrics.record_complete_snapshot(ns, "acme", "fields", 50.0)
    assert (
        value("jiradrift_last_complete_snapshot_timestamp_seconds", namespace=ns, tenant="acme", type="fields") == 50.0
    )


def test_snapshot_phases_are_the_final_phases() -> None:
    assert metrics.SNAPSHOT_PHASES == FINAL
