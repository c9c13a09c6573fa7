"""Run one Snapshot: lock, capture, store, diff, write status, tell the tenant.

Idempotent by construction: a Snapshot whose phase is final is left alone; a Snapshot found
``Capturing`` after a restart is captured again under the Lease (the dead holder's Lease expires
after ``leaseDurationSeconds`` without renewal), and the store refuses nothing on a re-run because
bodies are content-addressed and the manifest is written last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, cast

import kopf
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.jiraconn import classify, credentials_for, open_client
from jiradrift.handlers.tenant import tenant_drift_patch, tenant_key
from jiradrift.jira.audit import AuditEntry, attribute, audit_entries
from jiradrift.jira.errors import JiraError
from jiradrift.k8s import conditions as cond
from jiradrift.k8s import events
from jiradrift.k8s.credentials import CredentialsProblem
from jiradrift.k8s.lease import LeaseLock, snapshot_lock_key, snapshot_lock_labels
from jiradrift.k8s.resources import (
    GROUP,
    LABEL_DRIFT,
    LABEL_NOTIFY,
    LABEL_TENANT,
    LABEL_TYPE,
    VERSION,
    JiraTenantSpec,
)
from jiradrift.kube.api import label_value
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import BudgetExceeded
from jiradrift.notify import pending_deliveries, records_json
from jiradrift.redact import redact, redact_strings
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.snapshot.recording import diff_stored
from jiradrift.tokens.tenant import tenant_may_capture

log = logging.getLogger("jiradrift.snapshot")

FINAL = ("Completed", "Incomplete", "Failed")
MAX_ATTEMPTS = 5


def _objects(ctx: OperatorContext) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(ctx.api)


STORE_BACKENDS = {"secret": "Secret", "configmap": "ConfigMap", "filesystem": "Filesystem", "s3": "S3"}


def patch_status(ctx: OperatorContext, namespace: str, name: str, status: dict[str, Any]) -> None:
    """Every string in a Snapshot's status passes redaction: messages quote errors, errors quote input."""
    _objects(ctx).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "snapshots", name, {"status": redact_strings(status)}
    )


def read(ctx: OperatorContext, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return cast(
            dict[str, Any],
            _objects(ctx).get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name),
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def find_baseline(
    store: SnapshotStore, tenant: str, snapshot_type: str, current: str, spec: JiraTenantSpec
) -> Manifest | None:
    """The named baseline, else the newest other complete snapshot of this tenant and type."""
    if spec.drift.compare_to == "baseline" and spec.drift.baseline_snapshot:
        try:
            return await store.get_manifest(spec.drift.baseline_snapshot)
        except KeyError:
            return None
    for info in await store.list_snapshots(tenant):
        if info.snapshot_id != current and info.type == snapshot_type and info.complete:
            return await store.get_manifest(info.snapshot_id)
    return None


def drift_status(
    report: DriftReport | None, limit: int, attribution: dict[str, AuditEntry] | None = None
) -> dict[str, Any]:
    if report is None:
        return {"baseline": None, "total": 0, "added": 0, "removed": 0, "changed": 0, "changes": []}
    highest = report.highest_severity
    return {
        "baseline": report.old_snapshot,
        "total": report.change_count,
        "added": report.added,
        "removed": report.removed,
        "changed": report.changed,
        "highestSeverity": highest.value if highest else None,
        "changes": [
            {
                "key": c.key[:512],
                **({"name": c.name[:256]} if c.name else {}),
                **({"changedBy": attribution[c.key].describe()} if attribution and c.key in attribution else {}),
                "op": c.op.value,
                "path": c.path[:512],
                "severity": c.severity.value,
            }
            for c in report.first(limit)
        ],
    }


async def run_snapshot(ctx: OperatorContext, body: dict[str, Any]) -> None:
    meta, spec = body["metadata"], body["spec"]
    namespace, name = meta["namespace"], meta["name"]
    status = body.get("status") or {}
    tenant_name, snapshot_type = spec["tenantRef"]["name"], spec["type"]
    window = spec.get("windowStart")
    if window:
        key = snapshot_lock_key(
            tenant_key(namespace, tenant_name),
            snapshot_type,
            datetime.fromisoformat(window.replace("Z", "+00:00")),
        )
    else:  # a Manual Snapshot is its own window
        key = f"snapshot_lock:{tenant_key(namespace, tenant_name)}:{snapshot_type}:manual-{name}"
    if status.get("phase") in FINAL:
        ctx.locks.pop(key, None)  # another replica finished it; forget our observation
        if status.get("phase") == "Completed" and status.get("completionTime"):  # learnt again after a restart
            completed = datetime.fromisoformat(status["completionTime"]).timestamp()
            metrics.record_complete_snapshot(namespace, tenant_name, snapshot_type, completed)
        return
    attempts = int(status.get("attempts") or 0) + 1
    tenant = await asyncio.to_thread(read, ctx, namespace, "jiratenants", tenant_name)
    if tenant is None:
        await _finish_failed(
            ctx,
            body,
            "TenantNotFound",
            f"JiraTenant {namespace}/{tenant_name} (spec.tenantRef.name) does not exist; "
            "create it or delete this Snapshot",
            attempts,
        )
        return
    tenant_spec = JiraTenantSpec.model_validate(tenant.get("spec") or {})
    verdict = tenant_may_capture(tenant)
    if not verdict:
        await _finish_failed(
            ctx,
            body,
            verdict.reason,
            f"JiraTenant {namespace}/{tenant_name} may not be captured: {verdict.message}",
            attempts,
        )
        return

    lock = ctx.locks.get(key)
    if lock is None:
        lock = ctx.locks[key] = LeaseLock(
            await ctx.kube_client(),
            namespace,
            key,
            ctx.holder,
            duration_seconds=ctx.settings.lease_duration_seconds,
            labels=snapshot_lock_labels(tenant_name, snapshot_type),
        )
    acquired = await lock.try_acquire()
    metrics.LOCK_ACQUISITIONS.labels("acquired" if acquired else "denied").inc()
    if not acquired:
        # Someone else is capturing this window (or died doing so: its Lease will expire).
        raise kopf.TemporaryError(
            f"{key} is held by another operator; waiting",
            delay=max(5, ctx.settings.lease_duration_seconds // 3),
        )
    try:
        # The other holder may have finished between our read and our acquire.
        fresh = await asyncio.to_thread(read, ctx, namespace, "snapshots", name)
        if fresh is None or (fresh.get("status") or {}).get("phase") in FINAL:
            return  # the finally below releases and forgets the lock
        await _capture_locked(ctx, fresh, tenant, tenant_spec, lock, attempts)
    finally:
        await lock.release()
        ctx.locks.pop(key, None)


async def _capture_locked(
    ctx: OperatorContext,
    body: dict[str, Any],
    tenant: dict[str, Any],
    tenant_spec: JiraTenantSpec,
    lock: LeaseLock,
    attempts: int,
) -> None:

    meta, spec = body["metadata"], body["spec"]
    namespace, name = meta["namespace"], meta["name"]
    tenant_name, snapshot_type = spec["tenantRef"]["name"], spec["type"]
    tkey = tenant_key(namespace, tenant_name)
    started = ctx.clock()
    t0 = time.monotonic()
    lock_record = {
        "lease": lock.name,
        "key": lock.key[:1024],
        "holder": lock.holder,
        "transitions": lock.record.transitions if lock.record else 0,
        "acquiredAt": cond.now_rfc3339(started),
    }
    await asyncio.to_thread(
        patch_status,
        ctx,
        namespace,
        name,
        {
            "phase": "Capturing",
            "startTime": cond.now_rfc3339(started),
            "lock": lock_record,
            "attempts": attempts,
            "message": f"capturing {snapshot_type} from {tenant_spec.site}",
            "observedGeneration": meta.get("generation"),
        },
    )
    # Manual Snapshots arrive unlabelled; the labels make them listable per tenant and type.
    await asyncio.to_thread(
        _label, ctx, namespace, name, {LABEL_TENANT: label_value(tenant_name), LABEL_TYPE: snapshot_type}
    )
    log.info("snapshot %s/%s capturing under %s (holder %s)", namespace, name, lock.key, lock.holder)
    owner = {"apiVersion": body["apiVersion"], "kind": "Snapshot", "name": name, "uid": meta["uid"]}
    tenant_ref = {"apiVersion": tenant["apiVersion"], "kind": "JiraTenant", "name": tenant_name}
    store = await ctx.store_for(
        namespace,
        tkey,
        owner=owner,
        budget_bytes=tenant_spec.retention.max_bytes,
        parts_owner={**tenant_ref, "uid": tenant["metadata"]["uid"]},
    )
    try:
        credentials, _ = await credentials_for(ctx, namespace, tenant_name, tenant_spec, tenant)
        client = await open_client(tenant_spec, credentials, limits=ctx.settings.limits)
    except CredentialsProblem as exc:
        await _retry_or_fail(ctx, body, exc.reason, exc.message, attempts)
        return
    except Exception as exc:
        problem = classify(exc, tenant_spec)
        await _retry_or_fail(ctx, body, problem.reason, problem.message, attempts)
        return
    try:
        async with lock.held(release=False) as hold:  # released in run_snapshot
            manifest = await asyncio.wait_for(
                capture_snapshot(
                    client,
                    store,
                    tenant=tkey,
                    snapshot_type=snapshot_type,
                    snapshot_id=name,
                    captured_at=started,
                ),
                timeout=ctx.settings.capture_timeout_seconds,
            )
            if hold.lost.is_set():
                metrics.LOCK_ACQUISITIONS.labels("lost").inc()
                raise kopf.TemporaryError(
                    f"lost {lock.key} during the capture; another holder will finish it", delay=10
                )
        baseline = await find_baseline(store, tkey, snapshot_type, name, tenant_spec)
        report = None
        attribution: dict[str, AuditEntry] = {}
        if baseline is not None:
            report = await diff_stored(store, baseline, manifest, tenant_spec.drift.ignore)
            await store.put_drift(report)
            if report.has_drift:
                attribution = await _attribute(client, report, baseline.captured_at, ctx.clock(), ctx.settings)
    except kopf.TemporaryError:
        raise
    except BudgetExceeded as exc:  # the store wrote nothing more; retrying would not fit either
        await _finish_failed(ctx, body, exc.reason, str(exc), attempts, phase="Incomplete")
        return
    except Exception as exc:
        problem = classify(exc, tenant_spec)
        await _retry_or_fail(ctx, body, problem.reason, problem.message, attempts)
        return
    finally:
        _record_requests(namespace, tenant_name, client)
        await client.aclose()

    phase = "Completed" if manifest.complete else "Incomplete"
    finished = ctx.clock()
    drift = drift_status(report, ctx.settings.max_changes_in_status, attribution)
    notifications = records_json(pending_deliveries(tenant_spec.notifications, drift.get("highestSeverity")))
    message = _summary(manifest, report, attribution)
    ready_message = (
        message
        if phase == "Completed"
        else f"{len(manifest.errors)} object(s) could not be read: " + "; ".join(e.message for e in manifest.errors[:3])
    )
    status = {
        "phase": phase,
        "message": message,
        "completionTime": cond.now_rfc3339(finished),
        "durationSeconds": round(time.monotonic() - t0, 3),
        "itemCount": len(manifest.items),
        "requestCount": manifest.request_count,
        "errorCount": len(manifest.errors),
        "digest": f"sha256:{manifest.digest}",
        "storageRef": {
            "backend": STORE_BACKENDS[ctx.settings.store],
            "location": f"{namespace}/{name}",
        },
        "unchangedFrom": manifest.unchanged_from,
        "drift": drift,
        **({"notifications": notifications} if notifications else {}),
        "conditions": cond.set_condition(
            [],
            "Ready",
            phase == "Completed",
            phase,
            ready_message,
            generation=meta.get("generation"),
            now=finished,
        ),
    }
    if notifications:  # for jiradrift.notify; labelled first, so a crash in between cannot lose them
        await asyncio.to_thread(_label, ctx, namespace, name, {LABEL_NOTIFY: "pending"})
    await asyncio.to_thread(patch_status, ctx, namespace, name, status)
    drifted = bool(report and report.has_drift)
    await asyncio.to_thread(_label, ctx, namespace, name, {LABEL_DRIFT: "true" if drifted else "false"})
    metrics.SNAPSHOT_DURATION.labels(namespace, tenant_name, snapshot_type, phase).observe(time.monotonic() - t0)
    metrics.SNAPSHOTS.labels(namespace, tenant_name, snapshot_type, phase).inc()
    metrics.SNAPSHOT_ITEMS.labels(namespace, tenant_name, snapshot_type).set(len(manifest.items))
    if phase == "Completed":
        metrics.record_complete_snapshot(namespace, tenant_name, snapshot_type, finished.timestamp())
    tenant_status: dict[str, Any] = {"lastSnapshotTime": cond.now_rfc3339(finished)}
    if report is not None and drifted:
        for change in report.changes:
            metrics.DRIFT_CHANGES.labels(namespace, tenant_name, snapshot_type, change.severity.value).inc()
        tenant_status["drift"] = tenant_drift_patch(report.summary(), name, finished)
        event_type = events.drift_event_type(report.highest_severity)
        await asyncio.to_thread(events.post, ctx.api, tenant, event_type, "DriftDetected", f"{name}: {message}")
    if phase == "Incomplete":
        await asyncio.to_thread(events.post, ctx.api, body, "Warning", "SnapshotIncomplete", ready_message)
    await asyncio.to_thread(
        lambda: _objects(ctx).patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "jiratenants", tenant_name, {"status": tenant_status}
        )
    )
    log.info("snapshot %s/%s %s: %s", namespace, name, phase.lower(), message)


async def _attribute(
    client: Any, report: DriftReport, since: datetime, until: datetime, settings: OperatorSettings
) -> dict[str, AuditEntry]:
    """Audit-log attribution of the changes shown in status; best effort (needs the audit scope),
    and given at most ``audit_timeout_seconds``: a slow audit log never holds up a Snapshot."""
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
    return attribute(((c.key, c.name) for c in shown), entries)


def _summary(manifest: Manifest, report: DriftReport | None, attribution: dict[str, AuditEntry] | None = None) -> str:
    items = f"{len(manifest.items)} items"
    if report is None:
        return f"{items}; first snapshot of this type, no baseline to compare"
    if not report.has_drift:
        return f"{items}; no drift from {report.old_snapshot}"
    first = report.changes[0]
    highest = report.highest_severity.value if report.highest_severity else "low"
    more = f" and {report.change_count - 1} more" if report.change_count > 1 else ""
    return (
        f"{items}; {report.change_count} change(s) ({highest}) from {report.old_snapshot}: "
        f"{first.op.value} {first.key}{f' ({first.name!r})' if first.name else ''}"
        f"{':' + first.path if first.path else ''}"
        f"{f' [audit: {attribution[first.key].describe()}]' if attribution and first.key in attribution else ''}{more}"
    )[:4000]


def _label(ctx: OperatorContext, namespace: str, name: str, labels: dict[str, str]) -> None:
    _objects(ctx).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "snapshots", name, {"metadata": {"labels": labels}}
    )


def _record_requests(namespace: str, tenant: str, client: Any) -> None:
    stats = getattr(client, "stats", None)
    if stats is None:
        return
    for status, count in stats.requests_by_status.items():
        metrics.JIRA_REQUESTS.labels(namespace, tenant, str(status)).inc(count)
    metrics.RATE_LIMIT_WAITS.labels(namespace, tenant).inc(stats.rate_limit_waits)
    metrics.RATE_LIMIT_WAIT_SECONDS.labels(namespace, tenant).inc(stats.rate_limit_wait_seconds)


async def _retry_or_fail(ctx: OperatorContext, body: dict[str, Any], reason: str, message: str, attempts: int) -> None:
    meta = body["metadata"]
    metrics.ERRORS.labels(meta["namespace"], body["spec"]["tenantRef"]["name"], reason).inc()
    terminal = reason in {
        "SecretNotFound",
        "SecretKeyMissing",
        "CredentialsRejected",
        "ReauthorizationRequired",
        "PermissionDenied",
        "NotJira",
        "InvalidSite",
        "WriteScopesGranted",
        "MalformedSecret",
        "SecretNotOptedIn",
        "HostNotAllowed",
        "NonCanonicalURL",
        "InsecureURL",
        "InvalidURL",
    }
    if terminal or attempts >= MAX_ATTEMPTS:
        await _finish_failed(ctx, body, reason, message, attempts)
        return
    await asyncio.to_thread(
        patch_status,
        ctx,
        meta["namespace"],
        meta["name"],
        {
            "phase": "Pending",
            "attempts": attempts,
            "message": f"attempt {attempts}/{MAX_ATTEMPTS} failed: {message}",
        },
    )
    raise kopf.TemporaryError(redact(f"{reason}: {message}"), delay=min(300, 15 * 2**attempts))


async def _finish_failed(
    ctx: OperatorContext, body: dict[str, Any], reason: str, message: str, attempts: int, phase: str = "Failed"
) -> None:
    meta = body["metadata"]
    now = ctx.clock()
    await asyncio.to_thread(
        patch_status,
        ctx,
        meta["namespace"],
        meta["name"],
        {
            "phase": phase,
            "message": message,
            "attempts": attempts,
            "completionTime": cond.now_rfc3339(now),
            "conditions": cond.set_condition(
                [], "Ready", False, reason, message, generation=meta.get("generation"), now=now
            ),
        },
    )
    metrics.SNAPSHOTS.labels(meta["namespace"], body["spec"]["tenantRef"]["name"], body["spec"]["type"], phase).inc()
    await asyncio.to_thread(events.post, ctx.api, body, "Warning", reason, message)
    log.warning("snapshot %s/%s failed: %s", meta["namespace"], meta["name"], message)
