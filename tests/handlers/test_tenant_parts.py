"""The pure parts of the tenant reconciler: when to re-check, conditions, transition Events, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jiradrift.api.baseline import SnapshotEntry, Unaccepted
from jiradrift.api.conditions import ConditionType, Problem, Reason, find
from jiradrift.api.credentials import CredentialsProblem
from jiradrift.api.resources import Condition, JiraTenantSpec, JiraTenantStatus, UnacceptedDrift
from jiradrift.handlers.health import conditions_from, ready_condition
from jiradrift.handlers.jiraconn import classify
from jiradrift.handlers.retention import (
    beyond_keep_last,
    beyond_retention,
    budget_candidates,
    finished_by_type,
    protected,
    unaccepted_evidence,
)
from jiradrift.handlers.state import TenantState
from jiradrift.handlers.transitions import transition_events
from jiradrift.kube import mergepatch

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CT = ConditionType


def spec(auth: str = "apiToken", **extra: Any) -> JiraTenantSpec:
    return JiraTenantSpec.model_validate(
        {"site": "https://acme.atlassian.net", "auth": {auth: {"secretRef": {"name": "s"}}}, **extra}
    )


# --- when the site is checked again ---------------------------------------------------------


def due(state: TenantState, *, at: float, generation: int = 1, secret: str = "v1") -> bool:
    return state.check_due(
        generation=generation,
        secret_version=secret,
        now=T0 + timedelta(seconds=at),
        recheck_seconds=600,
        error_recheck_seconds=60,
    )


def test_a_new_tenant_is_checked_and_then_at_the_healthy_interval() -> None:
    state = TenantState()
    assert due(state, at=0)
    state.record_check(generation=1, secret_version="v1", now=T0, problems=[], site={})
    assert not due(state, at=599)
    assert due(state, at=600)


def test_a_failing_tenant_is_rechecked_sooner_and_a_change_rechecks_at_once() -> None:
    state = TenantState()
    problem = Problem(CT.REACHABLE, Reason.UNREACHABLE, "down")
    state.record_check(generation=1, secret_version="v1", now=T0, problems=[problem], site={})
    assert not due(state, at=59) and due(state, at=60)
    assert due(state, at=1, generation=2)  # spec edited
    assert due(state, at=1, secret="v2")  # Secret rotated


def test_prune_is_due_at_most_once_per_interval() -> None:
    state = TenantState()
    assert state.prune_due(T0, 30)
    assert not state.prune_due(T0 + timedelta(seconds=29), 30)
    assert state.prune_due(T0 + timedelta(seconds=30), 30)


# --- conditions ------------------------------------------------------------------------------


def test_a_healthy_static_tenant_is_ready_with_not_applicable_token_conditions() -> None:
    conditions = ready_condition(conditions_from([], [], spec(), 3, T0), spec(), 3, T0)
    # every health condition (Drifted is set by the accepted-baseline comparison, not the health check)
    assert [c["type"] for c in conditions] == [str(t) for t in ConditionType if t is not ConditionType.DRIFTED]
    assert {c["type"]: c["reason"] for c in conditions} == {
        "Ready": "Ready",
        "CredentialsValid": "Accepted",
        "Reachable": "Reachable",
        "TokenFresh": "NotApplicable",
        "ScopesReadOnly": "NotApplicable",
    }
    assert all(c["status"] == "True" and c["observedGeneration"] == 3 for c in conditions)


def test_ready_takes_the_first_failing_condition_and_oauth_waits_for_the_token_module() -> None:
    oauth = spec("oauth")
    problem = Problem(CT.REACHABLE, Reason.NOT_JIRA, "not a Jira site")
    conditions = ready_condition(conditions_from([], [problem], oauth, 1, T0), oauth, 1, T0)
    ready = find(conditions, "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("False", "NotJira")
    token = find(conditions, "TokenFresh")
    assert token is not None and (token["status"], token["reason"]) == ("Unknown", "Pending")


def test_paused_is_ready_with_reason_paused() -> None:
    paused = spec(paused=True)
    ready = find(ready_condition(conditions_from([], [], paused, 1, T0), paused, 1, T0), "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("True", "Paused")


def test_errors_carry_their_condition_into_status() -> None:
    problem = classify(CredentialsProblem(Reason.SECRET_NOT_FOUND, "Secret ns/s does not exist"), spec())
    assert problem == Problem(CT.CREDENTIALS_VALID, "SecretNotFound", "Secret ns/s does not exist")
    unexpected = classify(RuntimeError("boom"), spec())
    assert (unexpected.condition, unexpected.reason) == (CT.REACHABLE, Reason.UNEXPECTED_ERROR)


# --- transition Events -----------------------------------------------------------------------


def test_each_transition_is_posted_once_even_when_the_body_lags() -> None:
    posted: dict[str, tuple[str, str | None]] = {}
    healthy = ready_condition(conditions_from([], [], spec(), 1, T0), spec(), 1, T0)
    broken = ready_condition(
        conditions_from(healthy, [Problem(CT.REACHABLE, Reason.UNREACHABLE, "down")], spec(), 1, T0), spec(), 1, T0
    )
    first = transition_events(posted, healthy, broken)
    assert [(e.type, e.reason) for e in first] == [("Warning", "Unreachable")]
    # the next tick still sees the old body (status patch not visible yet): nothing new
    assert transition_events(posted, healthy, broken) == []
    recovered = transition_events(posted, broken, healthy)
    assert [(e.type, e.reason) for e in recovered] == [("Normal", "Ready")]


def test_a_tenant_ready_from_the_start_posts_nothing() -> None:
    healthy = ready_condition(conditions_from([], [], spec(), 1, T0), spec(), 1, T0)
    assert transition_events({}, [], healthy) == []


# --- retention -------------------------------------------------------------------------------


def snap(name: str, minute: int, type_: str = "fields", phase: str = "Completed", **labels: str) -> SnapshotEntry:
    """A Snapshot as the operator's watch index holds it (``accepted="true"`` sets that label)."""
    return SnapshotEntry.from_object(
        {
            "metadata": {
                "name": name,
                "creationTimestamp": f"2026-01-01T00:{minute:02d}:00Z",
                "labels": {f"jiradrift.io/{k}": v for k, v in labels.items()},
            },
            "spec": {"type": type_},
            "status": {"phase": phase},
        }
    )


def names(snaps: list[SnapshotEntry]) -> list[str]:
    return [s.name for s in snaps]


def test_keep_last_per_type_spares_the_named_baseline_and_unfinished_snapshots() -> None:
    snaps = [snap(f"f{i}", i) for i in range(5)] + [snap("w0", 0, "workflows"), snap("run", 9, phase="Capturing")]
    by_type = finished_by_type(snaps)
    assert names(by_type["fields"]) == ["f4", "f3", "f2", "f1", "f0"]
    assert sorted(names(beyond_keep_last(by_type, 2, protected(snaps, None)))) == ["f0", "f1", "f2"]
    assert sorted(names(beyond_keep_last(by_type, 2, protected(snaps, "f1")))) == ["f0", "f2"]


def test_retention_never_removes_an_accepted_snapshot() -> None:
    snaps = [snap("f0", 0, accepted="true")] + [snap(f"f{i}", i) for i in range(1, 4)]
    keep = protected(snaps, None)
    assert keep == {"f0"}
    by_type = finished_by_type(snaps)
    assert sorted(names(beyond_keep_last(by_type, 1, keep))) == ["f1", "f2"]
    assert names(budget_candidates(by_type, snaps, keep)) == ["f1", "f2"]


def test_drift_after_the_accepted_snapshot_is_kept_as_evidence_until_accepted() -> None:
    snaps = [
        snap("f0", 0, drift="true"),  # before the accepted one: not evidence
        snap("f1", 1, accepted="true"),
        snap("f2", 2, drift="true"),
        snap("f3", 3, drift="false"),
        snap("f4", 4),
    ]
    assert unaccepted_evidence(snaps) == {"f2"}
    by_type = finished_by_type(snaps)
    assert sorted(names(beyond_keep_last(by_type, 1, protected(snaps, None) | unaccepted_evidence(snaps)))) == [
        "f0",
        "f3",
    ]
    snaps[1] = snap("f1", 1)
    snaps[4] = snap("f4", 4, accepted="true")  # accepted later: f2 is history now
    assert unaccepted_evidence(snaps) == set()


def test_unaccepted_evidence_is_bounded_per_type() -> None:
    """Incremental windows (on by default) create a Snapshot per change: while nobody accepts, the
    evidence spared beyond keepLast is at most keepLast more per type, the newest of it."""
    snaps = [snap("f0", 0, accepted="true")] + [snap(f"f{i}", i, drift="true") for i in range(1, 10)]
    snaps += [snap("w0", 0, "workflows", accepted="true"), snap("w1", 1, "workflows", drift="true")]
    evidence = unaccepted_evidence(snaps)
    assert len(evidence) == 10
    by_type = finished_by_type(snaps)
    doomed = beyond_retention(by_type, 3, protected(snaps, None), evidence)
    assert sorted(names(doomed)) == ["f1", "f2", "f3"], "f7..f9 kept by keepLast, f4..f6 as evidence, f0 accepted"
    # fewer than keepLast past it: all spared, as before
    assert beyond_retention(by_type, 5, protected(snaps, None), evidence) == []


@pytest.mark.parametrize("baseline", [None, "f0"])
def test_the_byte_budget_never_takes_the_newest_of_a_type_or_the_baseline(baseline: str | None) -> None:
    snaps = [snap("f0", 0), snap("f1", 1), snap("w0", 2, "workflows")]
    by_type = finished_by_type(snaps)
    assert names(budget_candidates(by_type, snaps, protected(snaps, baseline))) == ([] if baseline else ["f0"])


def test_status_from_the_model_equals_what_the_server_stored_so_a_steady_tenant_writes_nothing() -> None:
    conditions = ready_condition(conditions_from([], [], spec(), 1, T0), spec(), 1, T0)
    status = JiraTenantStatus(conditions=[Condition.model_validate(c) for c in conditions], next_snapshot_time=T0)
    dumped = status.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == {"conditions": conditions, "nextSnapshotTime": "2026-01-01T00:00:00Z"}


def test_unaccepted_with_nothing_to_report_equals_what_the_server_stored() -> None:
    """``status.unaccepted`` carries ``since: null``; the merge patch deletes the key, so the stored
    object has none. The patch must still count as no change, or every reconciliation writes status
    (the scale bench counted one PATCH per tenant per tick)."""
    unaccepted = UnacceptedDrift.model_validate(Unaccepted(known_types=1, accepted_types=1).status())
    desired = JiraTenantStatus(unaccepted=unaccepted).model_dump(mode="json", by_alias=True, exclude_unset=True)
    stored = mergepatch.apply({}, desired)
    assert "since" not in stored["unaccepted"] and desired["unaccepted"]["since"] is None
    assert desired != stored  # what the reconciler compared before, hence the write per tick
    assert mergepatch.changed_fields(stored, desired) == {}
    later = {**desired, "unaccepted": {**desired["unaccepted"], "total": 1}}
    assert mergepatch.changed_fields(stored, later) == {"unaccepted": later["unaccepted"]}
