"""An incremental window's outcome says whether it checked anything (handlers/incremental.WindowOutcome):
the tenant's ``status.lastCheckedTime`` is set only then. With incremental windows on by default
(issue 26), a tenant whose first capture failed has no complete base for any type: its windows
check nothing, and its status must not claim the site was checked."""

from __future__ import annotations

from jiradrift.handlers.incremental import WindowOutcome


def test_a_window_with_no_base_for_any_type_checked_nothing() -> None:
    assert not WindowOutcome(unbased=["workflows", "priorities"]).checked
    assert not WindowOutcome().checked


def test_a_quiet_or_changed_type_is_a_check() -> None:
    assert WindowOutcome(quiet=["priorities"], unbased=["workflows"]).checked
    assert WindowOutcome(created=["acme-workflows-inc-20261207t1000"]).checked
