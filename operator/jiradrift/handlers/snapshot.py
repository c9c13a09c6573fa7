"""Run one Snapshot: lock, capture, store, diff, write status, tell the tenant.

The capture is a sequence of small steps (:data:`STEPS`) over one :class:`SnapshotRun`. Every step
after the capture is idempotent, and the capture itself is skipped when this Snapshot's manifest
is already stored: a retry after a failure at any point (a lost Lease, a store or API error, a
crash) completes the same Snapshot from the stored manifest, without capturing the site again.

- a Snapshot whose phase is final is left alone;
- one found ``Capturing`` or ``Pending`` is taken up again under the Lease (a dead holder's Lease
  expires after ``leaseDurationSeconds`` without renewal);
- the drift report is read back when stored (so the baseline stays the one first compared to),
  statuses are merge patches, labels are set not added, and the Events of a Snapshot carry a
  name derived from it, so a repeated post meets 409 and posts nothing new.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from jiradrift.api.conditions import TERMINAL_REASONS, Reason
from jiradrift.api.locks import LeaseLock, snapshot_lock_key, snapshot_lock_labels
from jiradrift.api.objects import involved, owner_of, read_object
from jiradrift.api.resources import (
    LABEL_DRIFT,
    LABEL_NOTIFY,
    LABEL_TENANT,
    LABEL_TYPE,
    CaptureStatus,
    JiraTenant,
    JiraTenantSpec,
    JiraTenantStatus,
    LockRecord,
    Snapshot,
    SnapshotPhase,
    SnapshotReason,
    SnapshotSpec,
    SnapshotStatus,
)
from jiradrift.handlers import metrics
from jiradrift.handlers import snapshot_status as build
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.drift_summary import Attribution, tenant_drift
from jiradrift.handlers.history import HistoryRequest, queue_history
from jiradrift.handlers.incremental import incremental_check
from jiradrift.handlers.jiraconn import classify, credentials_for, open_client
from jiradrift.handlers.objects import get_object, patch_labels, patch_status
from jiradrift.handlers.schedule import (
    FINAL,
    LOST_RETRY_SECONDS,
    MAX_ATTEMPTS,
    FailureVerdict,
    RetryLater,
    capture_claim,
    decide_failure,
    denied_retry_seconds,
)
from jiradrift.handlers.snapshot_status import status_patch
from jiradrift.handlers.stored import stored_manifest, stored_or_new_drift
from jiradrift.handlers.tenant import tenant_key
from jiradrift.jira.audit import attribute, audit_entries, drift_authors
from jiradrift.jira.client import JiraClient
from jiradrift.jira.errors import JiraError
from jiradrift.kube import events
from jiradrift.kube.lease import LeaseError
from jiradrift.kube.names import label_value
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftAuthor, DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import BudgetExceeded
from jiradrift.notify import pending_deliveries, records_json
from jiradrift.redact import redact
from jiradrift.snapshot.incremental import capture_window
from jiradrift.snapshot.missed import missed_changes, missed_counts
from jiradrift.tokens.tenant import tenant_may_capture

log = logging.getLogger("jiradrift.snapshot")


class StepFailed(Exception):
    """A step failed in a way that :func:`_retry_or_fail` has already recorded in status."""


@dataclass
class SnapshotRun:
    """One attempt at one Snapshot: what the steps read and what they produce."""

    ctx: OperatorContext
    snapshot: Snapshot
    tenant: JiraTenant
    spec: JiraTenantSpec
    lock: LeaseLock
    attempts: int
    store: SnapshotStore
    started: datetime
    t0: float = field(default_factory=time.monotonic)
    client: JiraClient | None = None
    manifest: Manifest | None = None
    resumed: bool = False  # the manifest was stored by an earlier attempt
    report: DriftReport | None = None
    attribution: Attribution = field(default_factory=dict)
    status: SnapshotStatus | None = None
    missed: dict[str, int] | None = None  # a full capture: what the incremental windows missed, per kind

    def fault(self, point: str) -> None:
        """A test's fault hook at ``point`` (one of :data:`FAULT_POINTS`); nothing in production."""
        if self.ctx.before_step is not None:
            self.ctx.before_step(point)

    @property
    def namespace(self) -> str:
        return self.snapshot.metadata.namespace

    @property
    def name(self) -> str:
        return self.snapshot.metadata.name

    @property
    def tenant_name(self) -> str:
        return self.snapshot.spec.tenant_ref.name

    @property
    def snapshot_type(self) -> str:
        return str(self.snapshot.spec.type)

    @property
    def tkey(self) -> str:
        return tenant_key(self.namespace, self.tenant_name)

    @property
    def generation(self) -> int | None:
        return self.snapshot.metadata.generation


def lock_key(namespace: str, name: str, spec: SnapshotSpec) -> str:
    tenant_name, snapshot_type = spec.tenant_ref.name, str(spec.type)
    window = spec.window_start
    if window and spec.reason == SnapshotReason.INCREMENTAL:  # apart from the full window's Lease
        return f"snapshot_lock:{tenant_key(namespace, tenant_name)}:{snapshot_type}:incremental-{name}"
    if window:
        return snapshot_lock_key(tenant_key(namespace, tenant_name), snapshot_type, window)
    # a Manual Snapshot is its own window
    return f"snapshot_lock:{tenant_key(namespace, tenant_name)}:{snapshot_type}:manual-{name}"


async def run_snapshot(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    snapshot = read_object(Snapshot, body)
    meta, spec, status = snapshot.metadata, snapshot.spec, snapshot.status or SnapshotStatus()
    namespace, name = meta.namespace, meta.name
    tenant_name, snapshot_type = spec.tenant_ref.name, str(spec.type)
    key = lock_key(namespace, name, spec)
    if status.phase in FINAL:
        ctx.locks.pop(key, None)  # another replica finished it; forget our observation
        if status.phase == SnapshotPhase.COMPLETED and status.completion_time:  # learnt again after a restart
            completed = status.completion_time.timestamp()
            metrics.record_complete_snapshot(namespace, tenant_name, snapshot_type, completed)
        return
    holder = status.lock.holder if status.lock else ""
    if status.phase == SnapshotPhase.CAPTURING and holder != ctx.holder:
        await _wait_out_other_holder(ctx, _window_lock(ctx, key, namespace, tenant_name, snapshot_type))
    # At most max_concurrent_captures at once, from the first read on: a thousand windows opening
    # together must not become a thousand simultaneous API calls, captures and response buffers.
    # The order is earned, not claimed: see handlers/schedule.py (capture_claim).
    claim = capture_claim(body, ctx.watched_tenant(tenant_key(namespace, tenant_name)), ctx.clock())
    async with ctx.capture_slots.slot(claim.band, claim.who):
        await _run_slotted(ctx, snapshot, key)


async def _wait_out_other_holder(ctx: OperatorContext, lock: LeaseLock) -> None:
    """Another holder's capture (a replica that lost the tenant, or died): look at its Lease now,
    before waiting for a capture slot, so that its expiry counts from now rather than from when a
    slot frees (minutes, behind a window's backlog); and while it is held, wait for its expiry
    without taking a slot. A look that finds it held is a denied lock attempt, as at the lock."""
    try:
        free = await lock.check()
    except LeaseError as exc:
        log.info("%s: %s; trying the lock itself", lock.key, exc)
        return
    if not free:
        _held_elsewhere(ctx, lock)


def _held_elsewhere(ctx: OperatorContext, lock: LeaseLock) -> NoReturn:
    """Someone else holds the window's Lease (or died holding it: it expires): retry when it expires."""
    metrics.LOCK_ACQUISITIONS.labels("denied").inc()
    delay = denied_retry_seconds(lock.expires_in(), ctx.settings.lease_duration_seconds)
    raise RetryLater(f"{lock.key} is held by another operator", delay=delay)


def _window_lock(ctx: OperatorContext, key: str, namespace: str, tenant_name: str, snapshot_type: str) -> LeaseLock:
    """The Lease lock of a window, kept across attempts: expiry is judged from how long this object
    has seen the Lease unchanged."""
    lock = ctx.locks.get(key)
    if lock is None:
        lock = ctx.locks[key] = LeaseLock(
            ctx.kube,
            namespace,
            key,
            ctx.holder,
            duration_seconds=ctx.settings.lease_duration_seconds,
            labels=snapshot_lock_labels(tenant_name, snapshot_type),
        )
    return lock


async def _run_slotted(ctx: OperatorContext, snapshot: Snapshot, key: str) -> None:
    namespace, tenant_name = snapshot.metadata.namespace, snapshot.spec.tenant_ref.name
    attempts = (snapshot.status.attempts if snapshot.status else 0) + 1
    # The watch's copy (a GET per capture otherwise); read only when the watch has not shown it
    body = ctx.watched_tenant(tenant_key(namespace, tenant_name))
    if body is None:
        body = await get_object(ctx.kube, namespace, "jiratenants", tenant_name)
    if body is None:
        await _finish_failed(
            ctx,
            snapshot,
            Reason.TENANT_NOT_FOUND,
            f"JiraTenant {namespace}/{tenant_name} (spec.tenantRef.name) does not exist; "
            "create it or delete this Snapshot",
            attempts,
        )
        return
    tenant = read_object(JiraTenant, body)
    verdict = tenant_may_capture(tenant)
    if not verdict:
        await _finish_failed(
            ctx,
            snapshot,
            verdict.reason,
            f"JiraTenant {namespace}/{tenant_name} may not be captured: {verdict.message}",
            attempts,
        )
        return

    await _run_locked(ctx, snapshot, key, tenant, attempts)


async def _run_locked(ctx: OperatorContext, snapshot: Snapshot, key: str, tenant: JiraTenant, attempts: int) -> None:
    namespace, name = snapshot.metadata.namespace, snapshot.metadata.name
    tenant_name, snapshot_type = snapshot.spec.tenant_ref.name, str(snapshot.spec.type)
    lock = _window_lock(ctx, key, namespace, tenant_name, snapshot_type)
    # A window's Lease normally does not exist yet (the last holder deleted it): create, read only on 409
    if not await lock.try_acquire(create_first=True):
        _held_elsewhere(ctx, lock)
    metrics.LOCK_ACQUISITIONS.labels("acquired").inc()
    try:
        # The other holder may have finished between our read and our acquire.
        body = await get_object(ctx.kube, namespace, "snapshots", name)
        fresh = read_object(Snapshot, body) if body is not None else None
        if fresh is None or (fresh.status is not None and fresh.status.phase in FINAL):
            return  # the finally below releases and forgets the lock
        run = SnapshotRun(
            ctx=ctx,
            snapshot=fresh,
            tenant=tenant,
            spec=tenant.spec,
            lock=lock,
            attempts=attempts,
            store=await ctx.store_for(
                namespace,
                tenant_key(namespace, tenant_name),
                owner=owner_of(fresh),
                budget_bytes=tenant.spec.retention.max_bytes,
                parts_owner=owner_of(tenant),
            ),
            started=ctx.clock(),
        )
        try:
            await _run_steps(run)
        except StepFailed:
            return
    finally:
        await lock.release(delete=True)  # a window's Lease is used once: none is left behind
        ctx.locks.pop(key, None)


Step = Callable[[SnapshotRun], Awaitable[None]]


async def _run_steps(run: SnapshotRun) -> None:
    try:
        for _name, step in STEPS:
            await step(run)
    finally:
        if run.client is not None:
            _record_requests(run.namespace, run.tenant_name, run.client)
            await run.client.aclose()


async def mark_capturing(run: SnapshotRun) -> None:
    lock = run.lock
    record = LockRecord(
        lease=lock.name,
        key=lock.key[:1024],
        holder=lock.holder,
        transitions=lock.record.transitions if lock.record else 0,
        acquired_at=build.seconds(run.started),
    )
    status = build.capturing(
        record, run.attempts, run.started, f"capturing {run.snapshot_type} from {run.spec.site}", run.generation
    )
    await patch_status(run.ctx.kube, run.namespace, "snapshots", run.name, status_patch(status))
    # Manual Snapshots arrive unlabelled; the labels make them listable per tenant and type.
    # Scheduled ones carry them from their creation: no write (each is an event to every replica).
    labels = {LABEL_TENANT: label_value(run.tenant_name), LABEL_TYPE: run.snapshot_type}
    present = run.snapshot.metadata.labels
    if any(present.get(key) != value for key, value in labels.items()):
        await patch_labels(run.ctx.kube, run.namespace, "snapshots", run.name, labels)
    log.info("snapshot %s/%s capturing under %s (holder %s)", run.namespace, run.name, lock.key, lock.holder)


async def connect(run: SnapshotRun) -> JiraClient:
    """The read-only Jira client of this run (opened once; closed when the steps end)."""
    if run.client is None:
        credentials, _ = await credentials_for(run.ctx, run.tenant)
        run.client = await open_client(
            run.spec,
            credentials,
            limits=run.ctx.settings.limits,
            budget=run.ctx.response_budget,
            items=run.ctx.item_budget,
        )
    return run.client


async def capture(run: SnapshotRun) -> None:
    """Capture the site into the store -- unless an earlier attempt did (then resume from its manifest)."""
    created = run.snapshot.metadata.creation_timestamp
    assert created is not None  # the API server sets it
    run.manifest = await stored_manifest(
        run.store, run.name, tenant=run.tkey, snapshot_type=run.snapshot_type, created=created
    )
    if run.manifest is not None:
        run.resumed = True
        log.info("snapshot %s/%s resumes from its stored manifest", run.namespace, run.name)
        return
    try:
        client = await connect(run)
    except Exception as exc:
        await _retry_or_fail(run, exc)
    lock = run.lock
    try:
        async with lock.held(release=False) as hold:  # released in run_snapshot
            check = await _incremental_check(run, client)
            # capture_window(full=True): the manifest records the probes and the audit cursor that
            # the next incremental window continues from (handlers/incremental.py)
            window = await asyncio.wait_for(
                capture_window(
                    client,
                    run.store,
                    tenant=run.tkey,
                    types=[run.snapshot_type],
                    captured_at=run.started,
                    snapshot_id=lambda _t: run.name,
                    full=True,
                ),
                timeout=run.ctx.settings.capture_timeout_seconds,
            )
            run.manifest = window.manifests[0]
            if check is not None:
                _count_missed(run, check)
            if hold.lost.is_set():
                metrics.LOCK_ACQUISITIONS.labels("lost").inc()
                raise RetryLater(
                    f"lost {lock.key} during the capture; another holder will finish it", delay=LOST_RETRY_SECONDS
                )
    except RetryLater:
        raise
    except BudgetExceeded as exc:  # retrying cannot help: the site is larger than the budget allows
        await _finish_failed(run.ctx, run.snapshot, exc.reason, str(exc), run.attempts, phase=SnapshotPhase.INCOMPLETE)
        raise StepFailed(exc.reason) from None
    except Exception as exc:
        await _retry_or_fail(run, exc)
    run.fault("manifest-stored")


async def _incremental_check(run: SnapshotRun, client: JiraClient) -> Manifest | None:
    """Before a scheduled full capture of a tenant with incremental windows: what a window at the
    same moment would hold (nothing written), to count what the windows missed. Best effort."""
    if run.snapshot.spec.reason != SnapshotReason.SCHEDULED or not run.spec.schedule.incremental.enabled:
        return None
    try:
        return await asyncio.wait_for(
            incremental_check(
                client,
                run.store,
                tenant=run.tkey,
                snapshot_type=run.snapshot_type,
                captured_at=run.started,
                snapshot_id=f"{run.name}-check",
            ),
            timeout=run.ctx.settings.capture_timeout_seconds,
        )
    except Exception as exc:
        log.info("%s: what the incremental windows missed is not counted: %s", run.name, redact(str(exc)))
        return None


def _count_missed(run: SnapshotRun, check: Manifest) -> None:
    """``jiradrift_incremental_missed_total{kind}``, the log and the Snapshot's status.capture."""
    assert run.manifest is not None
    try:
        counts = missed_counts(missed_changes(run.manifest, [check]))
    except ValueError as exc:
        log.info("%s: what the incremental windows missed is not counted: %s", run.name, exc)
        return
    run.missed = counts
    for kind, count in counts.items():
        metrics.INCREMENTAL_MISSED.labels(kind).inc(count)
    if counts:
        log.warning(
            "snapshot %s/%s: the full capture found %d change(s) the incremental windows missed: %s",
            run.namespace,
            run.name,
            sum(counts.values()),
            _kinds_text(counts),
        )


def _kinds_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind}={count}" for kind, count in sorted(counts.items()))


async def drift(run: SnapshotRun) -> None:
    """The drift from the baseline (read back when a resumed attempt stored it), and who made it:
    a fresh report is stored once, with its authors."""
    assert run.manifest is not None
    attributed = False

    async def attribute_fresh(report: DriftReport, baseline: Manifest) -> None:
        nonlocal attributed
        attributed = True
        await _attribute_run(run, report, baseline)
        report.authors = drift_authors(run.attribution)

    try:
        run.report, baseline = await stored_or_new_drift(
            run.store,
            run.manifest,
            resumed=run.resumed,
            spec=run.spec,
            before_put=lambda: run.fault("put-drift"),
            attribute=attribute_fresh,
        )
    except Exception as exc:
        await _retry_or_fail(run, exc)
    if attributed or run.report is None or not run.report.has_drift or baseline is None:
        return
    # A resumed run read its report back: attribute it again for status (the audit log may now
    # fail: the stored authors stay), storing the authors only if the stored report lacks them.
    await _attribute_run(run, run.report, baseline)
    await _keep_authors(run.store, run.report, drift_authors(run.attribution))


async def _attribute_run(run: SnapshotRun, report: DriftReport, baseline: Manifest) -> None:
    """``run.attribution``: best effort, never raises (a resumed run whose credentials now fail
    still completes)."""
    try:
        client = await connect(run)
    except Exception as exc:
        log.info("no audit attribution for %s: %s", run.name, classify(exc, run.spec).message)
        return
    try:
        run.attribution = await _attribute(client, report, baseline.captured_at, run.ctx, str(run.spec.site))
    except Exception as exc:  # never the reason a Snapshot fails or retries
        log.warning("no audit attribution for %s: %s", run.name, redact(str(exc)))


async def _keep_authors(store: SnapshotStore, report: DriftReport, authors: list[DriftAuthor]) -> None:
    """A resumed run's report read back without authors (stored before they were known) is stored
    again with them, for every later reader of the store (a push after an operator restart,
    ``jiradrift history export``). Best effort: a failure is logged (that Snapshot's commit is then
    the operator's) and never fails the Snapshot; none found, or some stored already: nothing is written."""
    if not authors or report.authors:
        return
    report.authors = authors
    try:
        await store.put_drift(report)
    except Exception as exc:
        log.warning("the authors of %s are not stored with its drift report: %s", report.new_snapshot, redact(str(exc)))


def final_status(run: SnapshotRun) -> SnapshotStatus:
    """Completed or Incomplete, with the drift (built once per attempt)."""
    assert run.manifest is not None
    ctx = run.ctx
    if run.status is not None:
        return run.status
    run.status = build.finished(
        run.manifest,
        run.report,
        run.attribution,
        location=f"{run.namespace}/{run.name}",
        backend=ctx.settings.store,
        max_changes=ctx.settings.max_changes_in_status,
        duration=time.monotonic() - run.t0,
        now=ctx.clock(),
        generation=run.generation,
    )
    info = run.manifest.capture
    run.status.capture = CaptureStatus(
        mode=info.mode.value,
        reread=info.reread,
        reason=info.reason[:1024],
        missed_count=sum(run.missed.values()) if run.missed is not None else None,
        missed_kinds=_kinds_text(run.missed)[:1024] if run.missed else "",
    )
    return run.status


async def write_status(run: SnapshotRun) -> None:
    """The Snapshot's final phase: written last, so a Snapshot that shows it has told everyone."""
    ctx = run.ctx
    run.fault("snapshot-status")
    status = final_status(run)
    patch = status_patch(status)
    drift = status.drift
    pending = pending_deliveries(run.spec.notifications, drift.highest_severity if drift else None)
    if pending:  # for jiradrift.notify; labelled first, so a crash in between cannot lose them
        await patch_labels(ctx.kube, run.namespace, "snapshots", run.name, {LABEL_NOTIFY: "pending"})
        patch["notifications"] = records_json(pending)
    await patch_status(ctx.kube, run.namespace, "snapshots", run.name, patch)
    drifted = bool(run.report and run.report.has_drift)
    await patch_labels(ctx.kube, run.namespace, "snapshots", run.name, {LABEL_DRIFT: "true" if drifted else "false"})


async def tell_tenant(run: SnapshotRun) -> None:
    """Events (one per Snapshot and reason, whatever the retries) and the tenant's last snapshot
    and drift: merge patches of values derived from the stored drift, so repeating them is harmless."""
    assert run.manifest is not None
    ctx, status = run.ctx, final_status(run)
    now = status.completion_time or ctx.clock()
    tenant_status = JiraTenantStatus(last_snapshot_time=now, last_checked_time=now)
    if run.report is not None and run.report.has_drift and status.drift is not None:
        tenant_status.drift = tenant_drift(status.drift, run.snapshot_type, run.name, now)
        message = f"{run.name}: {status.message}"
        run.fault("drift-event")
        event_type = events.drift_event_type(run.report.highest_severity)
        await events.post(ctx.kube, involved(run.tenant), event_type, Reason.DRIFT_DETECTED, message, once=run.name)
    if status.phase == SnapshotPhase.INCOMPLETE:
        await events.post(
            ctx.kube,
            involved(run.snapshot),
            "Warning",
            Reason.SNAPSHOT_INCOMPLETE,
            build.incomplete_message(run.manifest),
            once=run.name,
        )
    run.fault("tenant-status")
    await patch_status(ctx.kube, run.namespace, "jiratenants", run.tenant_name, status_patch(tenant_status))


async def record(run: SnapshotRun) -> None:
    """Metrics and the log line, once the Snapshot is done."""
    assert run.manifest is not None and run.status is not None
    ns, tenant, type_, phase = run.namespace, run.tenant_name, run.snapshot_type, run.status.phase.value
    metrics.SNAPSHOT_DURATION.labels(ns, tenant, type_, phase).observe(time.monotonic() - run.t0)
    metrics.SNAPSHOTS.labels(ns, tenant, type_, phase).inc()
    metrics.set_snapshot_items(ns, tenant, type_, len(run.manifest.items))
    if run.status.phase == SnapshotPhase.COMPLETED and run.status.completion_time is not None:
        metrics.record_complete_snapshot(ns, tenant, type_, run.status.completion_time.timestamp())
    if run.report is not None and run.report.has_drift:
        for change in run.report.changes:
            metrics.DRIFT_CHANGES.labels(ns, tenant, type_, change.severity.value).inc()
    log.info("snapshot %s/%s %s: %s", ns, run.name, phase.lower(), run.status.message)


async def history(run: SnapshotRun) -> None:
    """spec.history: a completed Snapshot with changes is queued for a push to git, which runs after
    this capture's slot is free (handlers/history.py; never fails the Snapshot)."""
    if run.spec.history is not None and run.manifest is not None and run.manifest.unchanged_from is None:
        status = run.tenant.status
        previous = (
            status.history.model_dump(mode="json", by_alias=True, exclude_none=True)
            if status and status.history
            else None
        )
        queue_history(run.ctx, HistoryRequest(run.namespace, run.tenant_name, run.spec, run.store, previous))


STEPS: tuple[tuple[str, Step], ...] = (
    ("mark-capturing", mark_capturing),
    ("capture", capture),  # opens the Jira client, unless the manifest is already stored
    ("drift", drift),  # the manifest is stored from here on
    ("tenant", tell_tenant),
    ("status", write_status),  # the final phase: nothing after it needs to be repeated
    ("record", record),
    ("history", history),
)
# Where a test may inject a fault (ctx.before_step): every write from the stored manifest to the
# final phase. A fault at put-drift goes through the step's own error handling (Pending, retry);
# the others escape the handler, as a crash or a lost API server would.
FAULT_POINTS = ("manifest-stored", "put-drift", "drift-event", "tenant-status", "snapshot-status")


async def _attribute(client: Any, report: DriftReport, since: datetime, ctx: OperatorContext, site: str) -> Attribution:
    """Audit-log attribution of the changes shown in status, with the authors' display names
    (``ctx.users``: cached per site); best effort (needs the audit scope), and given at most
    ``audit_timeout_seconds`` for each: a slow audit log never holds up a Snapshot."""
    settings, until = ctx.settings, ctx.clock()
    shown = report.first(settings.max_changes_in_status)
    try:
        async with asyncio.timeout(settings.audit_timeout_seconds):
            entries = await audit_entries(client, since, until)
    except JiraError as exc:
        log.info("no audit attribution for %s: %s", report.new_snapshot, exc)
        return {}
    except TimeoutError:
        log.info(
            "no audit attribution for %s: the audit log did not answer within %g s",
            report.new_snapshot,
            settings.audit_timeout_seconds,
        )
        return {}
    found = attribute(((c.key, c.name) for c in shown), entries)
    authors = {entry.author for entry in found.values()}
    users = await ctx.users.resolve(client, site, authors, timeout=settings.audit_timeout_seconds)
    return {key: entry.named(users.get(entry.author)) for key, entry in found.items()}


def _record_requests(namespace: str, tenant: str, client: Any) -> None:
    stats = getattr(client, "stats", None)
    if stats is None:
        return
    for status, count in stats.requests_by_status.items():
        metrics.JIRA_REQUESTS.labels(namespace, tenant, str(status)).inc(count)
    metrics.RATE_LIMIT_WAITS.labels(namespace, tenant).inc(stats.rate_limit_waits)
    metrics.RATE_LIMIT_WAIT_SECONDS.labels(namespace, tenant).inc(stats.rate_limit_wait_seconds)


async def _retry_or_fail(run: SnapshotRun, exc: Exception) -> NoReturn:
    """Record a failed step as :func:`~jiradrift.handlers.schedule.decide_failure` says: Failed
    when retrying cannot help (or after MAX_ATTEMPTS), else Pending and a retry after its backoff.
    Raises :class:`StepFailed` or :class:`~jiradrift.handlers.schedule.RetryLater`."""
    problem = classify(exc, run.spec)
    reason, message, attempts = problem.reason, problem.message, run.attempts
    metrics.ERRORS.labels(run.namespace, run.tenant_name, reason).inc()
    decision = decide_failure(reason=reason, terminal=reason in TERMINAL_REASONS, attempts=attempts)
    if decision.verdict is FailureVerdict.GIVE_UP:
        await _finish_failed(run.ctx, run.snapshot, reason, message, attempts)
        raise StepFailed(reason)
    status = build.retrying(attempts, MAX_ATTEMPTS, message)
    await patch_status(run.ctx.kube, run.namespace, "snapshots", run.name, status_patch(status))
    raise RetryLater(redact(f"{reason}: {message}"), delay=decision.delay)


async def _finish_failed(
    ctx: OperatorContext,
    snapshot: Snapshot,
    reason: str,
    message: str,
    attempts: int,
    phase: SnapshotPhase = SnapshotPhase.FAILED,
) -> None:
    meta, spec = snapshot.metadata, snapshot.spec
    status = build.failed(reason, message, attempts, ctx.clock(), meta.generation, phase=phase)
    await patch_status(ctx.kube, meta.namespace, "snapshots", meta.name, status_patch(status))
    metrics.SNAPSHOTS.labels(meta.namespace, spec.tenant_ref.name, str(spec.type), phase.value).inc()
    await events.post(ctx.kube, involved(snapshot), "Warning", reason, message)
    log.warning("snapshot %s/%s failed: %s", meta.namespace, meta.name, message)
