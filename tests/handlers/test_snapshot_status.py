"""A Snapshot's status from the API models, the one drift summary, and the Event body (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from jiradrift.api.resources import SnapshotStatus
from jiradrift.handlers.drift_summary import snapshot_drift, summary_line, tenant_drift
from jiradrift.handlers.snapshot_status import failed, finished, retrying, status_patch
from jiradrift.kube.events import event_body, once_name
from jiradrift.model.kinds import Severity
from jiradrift.model.manifest import CaptureError, Manifest
from jiradrift.model.report import Change, ChangeOp, DriftReport

T0 = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def manifest(**extra: object) -> Manifest:
    return Manifest(
        snapshot_id="s2",
        tenant="ns/acme",
        type="workflows",
        captured_at=T0,
        items={"status/1": "a" * 64, "status/2": "b" * 64},
        digest="d" * 64,
        request_count=7,
        **extra,  # type: ignore[arg-type]
    )


def report() -> DriftReport:
    changes = [
        Change("status/1", ChangeOp.RENAMED, "name", Severity.MEDIUM, "Open", "Opened", name="Opened"),
        Change("status/2", ChangeOp.MODIFIED, "x" * 600, Severity.HIGH, 1, 2),
    ]
    return DriftReport("ns/acme", "workflows", "s2", "s1", changed=2, changes=changes)


def test_completed_status_is_the_model_as_json_with_seconds_precision() -> None:
    status = finished(
        manifest(),
        report(),
        {},
        location="ns/s2",
        backend="configmap",
        max_changes=10,
        duration=1.23456,
        now=T0,
        generation=1,
    )
    patch = status_patch(status)
    assert patch["phase"] == "Completed" and patch["completionTime"] == "2026-01-01T12:00:00Z"
    assert patch["storageRef"] == {"backend": "ConfigMap", "location": "ns/s2"}
    assert patch["itemCount"] == 2 and patch["requestCount"] == 7 and patch["durationSeconds"] == 1.235
    assert patch["unchangedFrom"] is None  # set explicitly: a retry clears a stale value
    assert patch["drift"]["baseline"] == "s1" and patch["drift"]["highestSeverity"] == "high"
    first, second = patch["drift"]["changes"]  # the most severe first
    assert len(first["path"]) == 512 and "name" not in first and first["severity"] == "high"
    assert second == {"key": "status/1", "name": "Opened", "op": "renamed", "path": "name", "severity": "medium"}
    [ready] = patch["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Completed")
    assert "lock" not in patch and "startTime" not in patch  # a merge patch leaves them as they are
    SnapshotStatus.model_validate(patch)  # what we write is what the CRD's model accepts


def test_incomplete_status_names_what_could_not_be_read() -> None:
    errors = [CaptureError(kind="workflow", endpoint="/workflows/search", status=500, message="boom")]
    status = finished(
        manifest(complete=False, errors=errors),
        None,
        {},
        location="ns/s2",
        backend="secret",
        max_changes=10,
        duration=0,
        now=T0,
        generation=None,
    )
    assert status.phase == "Incomplete" and status.error_count == 1
    assert status.conditions[0].reason == "Incomplete" and "could not be read: boom" in status.conditions[0].message
    assert status.drift is not None and status.drift.total == 0 and status.drift.baseline is None


def test_failed_and_retrying_statuses_bound_their_messages() -> None:
    patch = status_patch(failed("SecretNotFound", "m" * 5000, 3, T0, 2))
    assert patch["phase"] == "Failed" and len(patch["message"]) == 4096 and patch["attempts"] == 3
    assert patch["conditions"][0]["reason"] == "SecretNotFound"
    assert status_patch(retrying(2, 5, "down")) == {
        "phase": "Pending",
        "attempts": 2,
        "message": "attempt 2/5 failed: down",
    }


def test_one_drift_summary_feeds_snapshot_tenant_and_message() -> None:
    drift = snapshot_drift(report(), 1)
    assert (drift.total, drift.changed, len(drift.changes)) == (2, 2, 1)
    tenant = tenant_drift(drift, "workflows", "s2", T0)
    assert tenant.summary == "2 changes (high) in workflows" and tenant.last_snapshot == "s2"
    assert status_patch(tenant)["lastDetected"] == "2026-01-01T12:00:00Z"
    line = summary_line(2, report())
    assert line.startswith("2 items; 2 changes (high) from s1: modified status/2:xxx")  # the high one leads
    assert line.endswith(" and 1 more")
    assert summary_line(2, None) == "2 items; first snapshot of this type, no baseline to compare"


def test_a_once_event_has_a_stable_name_per_object_reason_and_key() -> None:
    obj = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "acme", "namespace": "ns", "uid": "u1"}}
    assert once_name(obj, "DriftDetected", "s2") == once_name(obj, "DriftDetected", "s2")
    assert once_name(obj, "DriftDetected", "s2") != once_name(obj, "DriftDetected", "s3")
    body = event_body(obj, "Normal", "DriftDetected", "token=Bearer abcdefghijkl", name="fixed")
    assert body["metadata"] == {"name": "fixed", "namespace": "ns"}
    assert "abcdefghijkl" not in body["message"] and body["involvedObject"]["uid"] == "u1"


def test_the_status_says_how_many_items_could_not_be_compared() -> None:
    quiet = DriftReport("acme", "fields", "s2", "s1", unknown={"field-context": 120}, unreadable={"field-context": 40})
    drift = snapshot_drift(quiet, 10)
    assert drift.total == 0 and drift.unknown_items == 120
    assert summary_line(900, quiet) == (
        "900 items; no drift that could be seen from s1; 120 item(s) could not be compared (field-context: 120); "
        "40 read(s) failed, items unknown (field-context: 40)"
    )
    complete = DriftReport("acme", "fields", "s2", "s1")
    assert snapshot_drift(complete, 10).unknown_items == 0
    assert summary_line(900, complete) == "900 items; no drift from s1"


def test_status_and_message_lead_with_the_most_severe_change_named_as_people_know_it() -> None:
    """Reported: the Event named the first change in key order, by Jira's id (``workflow/d70a6cec-…
    ('jira')``), so a high-severity change among many low ones was hidden. The most severe leads, named
    by its kind and name; the key (an id) only when the item has no name."""
    changes = [
        Change("screen/10", ChangeOp.MODIFIED, "tabs[id=1].name", Severity.LOW, "A", "B", name="Default Screen"),
        Change("workflow/d70a6cec", ChangeOp.MODIFIED, "description", Severity.MEDIUM, "a", "b", name="jira"),
        Change("permission-scheme/0", ChangeOp.MODIFIED, "permissions", Severity.HIGH, None, 1, name="Default"),
        Change("screen/11", ChangeOp.ADDED, "", Severity.LOW, None, None, name="Other"),
    ]
    many = DriftReport("ns/acme", "schemes", "s2", "s1", changed=4, changes=changes)
    line = summary_line(10, many)
    assert line == "10 items; 4 changes (high) from s1: modified permission-scheme 'Default':permissions and 3 more"
    drift = snapshot_drift(many, 2)
    assert [c.key for c in drift.changes] == ["permission-scheme/0", "workflow/d70a6cec"]
    one = DriftReport("ns/acme", "workflows", "s2", "s1", changed=1, changes=[changes[1]])
    assert summary_line(49, one) == "49 items; 1 change (medium) from s1: modified workflow 'jira':description"
