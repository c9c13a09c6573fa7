"""Accepted baselines, pure: which snapshot is accepted and newest per type, since when they differ,
what the Drifted condition says, and what pruning must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jiradrift.api.baseline import (
    LABEL_ACCEPTED,
    REASON_IN_SYNC,
    REASON_NO_BASELINE,
    REASON_UNACCEPTED,
    SnapshotEntry,
    accept_patch,
    baselines,
    drifted_condition,
    protected,
    summarise,
    to_auto_accept,
)
from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, ChangeOp, DriftReport

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def snap(
    name: str, stype: str, hour: int, digest: str, *, phase: str = "Completed", accepted: bool = False
) -> dict[str, Any]:
    at = (T0 + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
    labels = {"jiradrift.io/type": stype}
    if accepted:
        labels[LABEL_ACCEPTED] = "true"
    return {
        "metadata": {"name": name, "creationTimestamp": at, "labels": labels},
        "spec": {"type": stype},
        "status": {"phase": phase, "digest": digest, "completionTime": at},
    }


def entries(*objs: dict[str, Any]) -> list[SnapshotEntry]:
    return [SnapshotEntry.from_object(o) for o in objs]


def report(stype: str, *severities: Severity, unknown: int = 0) -> DriftReport:
    changes = [Change(f"k/{i}", ChangeOp.MODIFIED, "name", s, "a", "b") for i, s in enumerate(severities)]
    return DriftReport("acme", stype, "new", "old", changes=changes, unknown={"k": unknown} if unknown else {})


def test_accepted_newest_and_since_per_type() -> None:
    es = entries(
        snap("w1", "workflows", 0, "d1", accepted=True),
        snap("w2", "workflows", 1, "d1"),  # same content: not the start of drift
        snap("w3", "workflows", 2, "d2"),  # first difference
        snap("w4", "workflows", 3, "d3", phase="Incomplete"),  # never "newest complete"
        snap("f1", "fields", 0, "e1", accepted=True),
        snap("f2", "fields", 1, "e1"),
    )
    bases = baselines(es)
    w, f = bases["workflows"], bases["fields"]
    assert (w.accepted.name, w.newest.name, w.since) == ("w1", "w3", T0 + timedelta(hours=2))  # type: ignore[union-attr]
    assert w.outstanding
    assert (f.accepted.name, f.newest.name, f.since, f.outstanding) == ("f1", "f2", None, False)  # type: ignore[union-attr]


def test_a_newer_accept_wins_and_accepting_the_newest_ends_the_drift() -> None:
    es = entries(
        snap("w1", "workflows", 0, "d1", accepted=True),
        snap("w2", "workflows", 1, "d2", accepted=True),  # accepted later, e.g. a crash between label and unlabel
    )
    w = baselines(es)["workflows"]
    assert w.accepted.name == "w2" and not w.outstanding  # type: ignore[union-attr]


def test_snapshots_created_in_one_second_are_ordered_by_when_jira_was_read() -> None:
    """A window's Snapshot and a manual one taken right after it are often created in the same
    second (creation times are whole seconds): the name must not decide which is newer. The upgrade
    test on the node lost the admin's accept of ``acme-before-upgrade`` to the window's
    ``acme-workflows-...`` that way ("acme-b" < "acme-w"), and Drifted stayed UnacceptedChanges."""
    window = snap("acme-workflows-20261207t1305z", "workflows", 0, "d1", accepted=True)
    manual = snap("acme-before-upgrade", "workflows", 0, "d2", accepted=True)
    window["status"]["capturedAt"] = (T0 + timedelta(milliseconds=120)).isoformat()
    manual["status"]["capturedAt"] = (T0 + timedelta(milliseconds=640)).isoformat()
    w = baselines(entries(window, manual))["workflows"]
    assert (w.accepted.name, w.newest.name, w.outstanding) == ("acme-before-upgrade", "acme-before-upgrade", False)  # type: ignore[union-attr]
    # the store orders manifests the same way (captured_at, then id): the two agree on "newest"
    older = snap("acme-workflows-20261207t1300z", "workflows", 0, "d0")  # by an older release: no capturedAt
    assert [e.name for e in sorted(entries(manual, older, window), key=lambda e: e.order)] == [
        "acme-workflows-20261207t1300z",
        "acme-workflows-20261207t1305z",
        "acme-before-upgrade",
    ]


def test_first_complete_snapshot_is_auto_accepted_only_once() -> None:
    assert to_auto_accept([], "workflows")
    es = entries(snap("w1", "workflows", 0, "d1", phase="Failed"))
    assert to_auto_accept(es, "workflows")  # a failed one does not count
    es = entries(snap("w1", "workflows", 0, "d1", accepted=True), snap("f1", "fields", 0, "e1"))
    assert not to_auto_accept(es, "workflows") and to_auto_accept(es, "fields")


def test_pruning_keeps_every_accepted_snapshot() -> None:
    es = entries(snap("w1", "workflows", 0, "d1", accepted=True), snap("w2", "workflows", 1, "d2"))
    assert protected(es) == {"w1"}


def test_condition_counts_by_severity_across_types() -> None:
    es = entries(
        snap("w1", "workflows", 0, "d1", accepted=True),
        snap("w2", "workflows", 5, "d2"),
        snap("p1", "permissions", 0, "p1", accepted=True),
        snap("p2", "permissions", 3, "p2"),
        snap("f1", "fields", 0, "e1", accepted=True),
    )
    bases = baselines(es)
    summary = summarise(
        bases,
        {
            "workflows": report("workflows", Severity.MEDIUM, Severity.MEDIUM, Severity.LOW),
            "permissions": report("permissions", Severity.HIGH, unknown=4),
        },
    )
    assert summary.total == 4 and summary.highest == "high"
    assert summary.types == ["permissions", "workflows"] and summary.unknown == 4
    assert summary.since == T0 + timedelta(hours=3)  # the earliest start over the drifted types
    assert summary.status() == {
        "total": 4,
        "high": 1,
        "medium": 2,
        "low": 1,
        "highestSeverity": "high",
        "types": ["permissions", "workflows"],
        "since": "2026-03-01T03:00:00Z",
        "unknownItems": 4,
    }
    status, reason, message = drifted_condition(summary, "ns/acme")
    assert (status, reason) == ("True", REASON_UNACCEPTED)
    assert message.startswith(
        "4 unaccepted change(s) (high: 1, medium: 2, low: 1) in permissions, workflows since 2026-03-01 03:00 UTC"
    )
    assert "jiradrift accept acme -n ns" in message
    assert "jiradrift drift list --tenant acme -n ns --unaccepted" in message


def test_condition_in_sync_and_before_any_snapshot() -> None:
    es = entries(snap("w1", "workflows", 0, "d1", accepted=True), snap("w2", "workflows", 1, "d1"))
    assert drifted_condition(summarise(baselines(es), {}), "ns/a")[:2] == ("False", REASON_IN_SYNC)
    assert drifted_condition(summarise(baselines([]), {}), "ns/a")[:2] == ("Unknown", REASON_NO_BASELINE)
    # outstanding by digest, but every difference was ignored or unknown: not drifted, and it says why
    es = entries(snap("w1", "workflows", 0, "d1", accepted=True), snap("w2", "workflows", 1, "d2"))
    status, reason, message = drifted_condition(
        summarise(baselines(es), {"workflows": report("workflows", unknown=3)}), "ns/a"
    )
    assert (status, reason) == ("False", REASON_IN_SYNC) and "3 item(s) could not be compared" in message


def test_accept_patch_labels_and_annotates() -> None:
    patch = accept_patch("alice", T0)
    assert patch["metadata"]["labels"] == {LABEL_ACCEPTED: "true"}
    assert patch["metadata"]["annotations"]["jiradrift.io/accepted-at"] == "2026-03-01T00:00:00Z"
