"""A Snapshot's status at each step, built from the API's own models (pure: no I/O).

:func:`status_patch` turns a model into the merge patch: only the fields a builder set, camelCase,
JSON types -- so a patch never clears a field it did not mean to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from jiradrift.api import conditions as cond
from jiradrift.api.conditions import ConditionType
from jiradrift.api.resources import Condition, LockRecord, SnapshotPhase, SnapshotStatus, StorageRef
from jiradrift.handlers.drift_summary import Attribution, snapshot_drift, summary_line
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport

MAX_MESSAGE = 4096
STORE_BACKENDS = {"secret": "Secret", "configmap": "ConfigMap", "filesystem": "Filesystem", "s3": "S3"}


def status_patch(status: BaseModel) -> dict[str, Any]:
    """The fields set on ``status``, as the API server's JSON."""
    patch: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return patch


def seconds(now: datetime) -> datetime:
    """metav1.Time has seconds precision."""
    return now.astimezone(UTC).replace(microsecond=0)


def ready(phase_ok: bool, reason: str, message: str, generation: int | None, now: datetime) -> list[Condition]:
    conditions = cond.set_condition([], ConditionType.READY, phase_ok, reason, message, generation=generation, now=now)
    return [Condition.model_validate(c) for c in conditions]


def capturing(
    lock: LockRecord, attempts: int, started: datetime, message: str, generation: int | None
) -> SnapshotStatus:
    return SnapshotStatus(
        phase=SnapshotPhase.CAPTURING,
        start_time=seconds(started),
        lock=lock,
        attempts=attempts,
        message=message[:MAX_MESSAGE],
        observed_generation=generation,
    )


def retrying(attempts: int, max_attempts: int, message: str) -> SnapshotStatus:
    return SnapshotStatus(
        phase=SnapshotPhase.PENDING,
        attempts=attempts,
        message=f"attempt {attempts}/{max_attempts} failed: {message}"[:MAX_MESSAGE],
    )


def failed(
    reason: str,
    message: str,
    attempts: int,
    now: datetime,
    generation: int | None,
    phase: SnapshotPhase = SnapshotPhase.FAILED,
) -> SnapshotStatus:
    """A Snapshot that ended without a manifest: Failed, or Incomplete when it stopped on purpose
    (``BudgetExceeded``: the capture would not fit the tenant's byte budget)."""
    return SnapshotStatus(
        phase=phase,
        message=message[:MAX_MESSAGE],
        attempts=attempts,
        completion_time=seconds(now),
        conditions=ready(False, reason, message, generation, now),
    )


def incomplete_message(manifest: Manifest) -> str:
    return f"{len(manifest.errors)} object(s) could not be read: " + "; ".join(e.message for e in manifest.errors[:3])


def finished(
    manifest: Manifest,
    report: DriftReport | None,
    attribution: Attribution,
    *,
    location: str,
    backend: str,
    max_changes: int,
    duration: float,
    now: datetime,
    generation: int | None,
) -> SnapshotStatus:
    """Completed (or Incomplete, when some objects could not be read) with the drift from the baseline."""
    phase = SnapshotPhase.COMPLETED if manifest.complete else SnapshotPhase.INCOMPLETE
    message = summary_line(len(manifest.items), report, attribution)
    ready_message = message if phase == SnapshotPhase.COMPLETED else incomplete_message(manifest)
    return SnapshotStatus(
        phase=phase,
        message=message[:MAX_MESSAGE],
        completion_time=seconds(now),
        captured_at=manifest.captured_at,
        duration_seconds=round(duration, 3),
        item_count=len(manifest.items),
        request_count=manifest.request_count,
        error_count=len(manifest.errors),
        digest=f"sha256:{manifest.digest}",
        storage_ref=StorageRef(backend=STORE_BACKENDS[backend], location=location),
        unchanged_from=manifest.unchanged_from,
        drift=snapshot_drift(report, max_changes, attribution),
        conditions=ready(phase == SnapshotPhase.COMPLETED, phase.value, ready_message, generation, now),
    )
