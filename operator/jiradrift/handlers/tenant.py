"""Reconcile one JiraTenant: check credentials and site, keep conditions current, schedule Snapshots.

Reads like the paragraph in DESIGN.md: parse the spec, resolve the Secret, check the site (not
on every tick: a healthy tenant every ``recheck_seconds``, a failing one every
``error_recheck_seconds``), create the window's Snapshots when ``schedule.decide_window`` says
so, prune by retention, and write status. Failures become conditions and Warning Events, never exceptions
that kopf would retry in a tight loop. The parts live in their own modules: ``probe`` (the
health check), ``health`` (conditions), ``transitions`` (Events), ``retention``, ``state``.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jiradrift.api import conditions as cond
from jiradrift.api.baseline import SnapshotEntry
from jiradrift.api.conditions import ConditionType, Reason
from jiradrift.api.credentials import CredentialsProblem, auth_method
from jiradrift.api.objects import InvalidObject, involved, read_object
from jiradrift.api.resources import (
    Condition,
    ConditionStatus,
    JiraTenant,
    JiraTenantSpec,
    JiraTenantStatus,
    SiteInfo,
    UnacceptedDrift,
)
from jiradrift.api.windows import ensure_snapshot, snapshot_name, window_iso
from jiradrift.handlers import metrics
from jiradrift.handlers.acceptance import reconcile_acceptance
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.health import CHECKED, conditions_from, ready_condition
from jiradrift.handlers.incremental import run_window
from jiradrift.handlers.objects import get_object
from jiradrift.handlers.probe import check_site
from jiradrift.handlers.retention import prune
from jiradrift.handlers.schedule import (
    FINAL,
    TenantSchedule,
    WindowDecision,
    WindowVerdict,
    decide_incremental,
    decide_window,
)
from jiradrift.handlers.snapshot_status import status_patch
from jiradrift.handlers.state import TenantState
from jiradrift.handlers.transitions import transition_events
from jiradrift.kube import events
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.kube.mergepatch import changed_fields
from jiradrift.redact import redact

log = logging.getLogger("jiradrift.tenant")

PRUNE_SECONDS = 30.0
# how often the accepted baselines are compared (no API request: Snapshots come from the watch; diffs are cached)
ACCEPTANCE_SECONDS = 10.0


def tenant_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def invalid_spec_message(exc: InvalidObject) -> str:
    return f"spec is invalid: {exc.loc}: {exc.problem}"


async def reconcile_tenant(
    ctx: OperatorContext,
    body: Mapping[str, Any],
    snapshots: Sequence[SnapshotEntry],
    *,
    force_check: bool = False,
) -> dict[str, Any]:
    """Returns the merge patch of the tenant's status: only the fields that change (empty for a
    steady tenant). ``snapshots``: the tenant's Snapshots as the operator's watch knows them (no LIST
    per tick)."""
    current = body.get("status") or {}  # as stored: the patch carries only what differs from it
    now = ctx.clock()
    try:
        tenant = read_object(JiraTenant, body)
    except InvalidObject as exc:
        generation = int(body["metadata"].get("generation") or 0)
        conditions = cond.set_condition(
            current.get("conditions"),
            ConditionType.READY,
            False,
            Reason.INVALID_SPEC,
            invalid_spec_message(exc),
            generation=generation,
            now=now,
        )
        invalid = JiraTenantStatus(conditions=_models(conditions), observed_generation=generation)
        return changed_fields(current, status_patch(invalid))

    meta, spec = tenant.metadata, tenant.spec
    namespace, name, generation = meta.namespace, meta.name, meta.generation or 0
    state = ctx.tenants.setdefault(meta.uid, TenantState())
    previous = await _check(ctx, state, tenant, generation, now, force_check=force_check)
    conditions = ready_condition(
        conditions_from(previous, state.problems, spec, generation, now), spec, generation, now
    )

    schedule = TenantSchedule.from_spec(spec)
    metrics.set_tenant_schedule(
        namespace,
        name,
        None if spec.paused else schedule.interval.total_seconds(),
        list(schedule.types),
        incremental=schedule.incremental is not None and not spec.paused,
    )
    window = decide_window(
        schedule, ready=cond.is_true(conditions, ConditionType.READY), scheduled=state.scheduled, now=now
    )
    status = JiraTenantStatus(
        conditions=_models(conditions),
        observed_generation=generation,
        next_snapshot_time=window.next_at,
    )
    if state.site:
        status.site = SiteInfo.model_validate(state.site)
    if ctx.shard is not None and ctx.shard.enabled:
        status.owner = ctx.shard.identity
    accepted: set[str] = set()
    if state.acceptance_due(now, ACCEPTANCE_SECONDS):
        try:  # a failure here leaves Drifted as it was; it never blocks scheduling
            acceptance = await reconcile_acceptance(
                ctx.kube,
                await ctx.store_for(namespace, tenant_key(namespace, name)),
                namespace,
                name,
                spec.drift.ignore,
                state.acceptance,
                now,
                snapshots,
            )
        except Exception as exc:
            log.warning("accepted baselines of %s/%s not compared: %s", namespace, name, exc)
        else:
            drifted, reason, message = acceptance.condition
            conditions = cond.set_condition(
                conditions, ConditionType.DRIFTED, drifted, reason, message, generation=generation, now=now
            )
            status.conditions = _models(conditions)
            status.unaccepted = UnacceptedDrift.model_validate(acceptance.unaccepted.status())
            accepted = acceptance.protected
    # after the acceptance, so a Drifted transition is posted with the status that shows it
    for event in transition_events(state.posted, previous, conditions):
        await events.post(ctx.kube, involved(tenant), event.type, event.reason, event.message)
    # An incremental window (handlers/incremental.py): a quiet one writes only lastCheckedTime
    incremental = decide_incremental(
        schedule,
        ready=cond.is_true(conditions, ConditionType.READY),
        full=window,
        busy=any(s.phase not in FINAL for s in snapshots),
        checked=state.checked,
        now=now,
    )
    if incremental.due and incremental.window is not None:
        state.checked = incremental.window  # once per window, whatever the outcome: never a hot loop
        try:
            outcome = await run_window(ctx, tenant, schedule.types, incremental.window)
        except Exception as exc:
            metrics.INCREMENTAL_WINDOWS.labels(namespace, name, "failed").inc()
            log.warning(
                "JiraTenant %s/%s: incremental window %s failed: %s; tried again at the next window",
                namespace,
                name,
                window_iso(incremental.window),
                redact(str(exc)),
            )
        else:
            if outcome.checked:  # not when no type had a base to continue from: nothing was checked
                status.last_checked_time = now
            result = "changed" if outcome.created else "quiet" if outcome.checked else "unchecked"
            metrics.INCREMENTAL_WINDOWS.labels(namespace, name, result).inc()
            log.info(
                "JiraTenant %s/%s: incremental window %s: %d Jira request(s), %d object(s) re-read, changed %s, "
                "quiet: %s%s",
                namespace,
                name,
                window_iso(incremental.window),
                outcome.requests,
                outcome.reread,
                ", ".join(outcome.created) or "nothing",
                ", ".join(outcome.quiet) or "none",
                f", waiting for a full capture: {outcome.unbased}" if outcome.unbased else "",
            )
    # only what changes the stored status: a steady tenant costs no write
    changed = changed_fields(current, status_patch(status))

    if window.verdict is WindowVerdict.CREATE:
        await _schedule(ctx, state, tenant, window)
    if state.prune_due(now, PRUNE_SECONDS):
        try:  # retention must never block scheduling
            deleted = await prune(ctx, namespace, tenant_key(namespace, name), spec, snapshots, accepted)
            if deleted:
                log.info("retention pruned %d Snapshot(s) of %s/%s", len(deleted), namespace, name)
        except Exception as exc:
            log.warning("retention for %s/%s failed: %s", namespace, name, exc)
    return changed


async def _check(
    ctx: OperatorContext,
    state: TenantState,
    tenant: JiraTenant,
    generation: int,
    now: datetime,
    *,
    force_check: bool,
) -> list[dict[str, Any]]:
    """Check credentials and site when due; returns the conditions to start from."""
    meta, spec = tenant.metadata, tenant.spec
    namespace, name = meta.namespace, meta.name
    status = tenant.status
    secret_version = await _secret_version(ctx, namespace, spec)
    settings = ctx.settings
    if state.generation < 0 and checked_in_status(status, generation):
        # New to this process (a restart, or gained from another replica) and the status shows
        # this generation checked and healthy: trusted until its next recheck, which is spread
        # over the recheck interval. A replica gaining a dead one's thousand tenants would
        # otherwise probe a thousand sites at once, just when the survivors have the most to do.
        spread = (zlib.crc32(str(meta.uid).encode()) / 2**32) * settings.recheck_seconds
        site = status.site.model_dump(by_alias=True, exclude_none=True) if status and status.site else {}
        state.record_check(
            generation=generation,
            secret_version=secret_version,
            now=now - timedelta(seconds=spread),
            problems=[],
            site=site,
        )
        force_check = False
    due = force_check or state.check_due(
        generation=generation,
        secret_version=secret_version,
        now=now,
        recheck_seconds=settings.recheck_seconds,
        error_recheck_seconds=settings.error_recheck_seconds,
    )
    if due:
        problems, site = await check_site(ctx, tenant)
        state.record_check(generation=generation, secret_version=secret_version, now=now, problems=problems, site=site)
        for p in problems:
            metrics.ERRORS.labels(namespace, name, p.reason).inc()
        # re-read: the token module may have written status (token, ScopesReadOnly) meanwhile
        status = (await _reread(ctx, tenant)).status
    token = status.token if status else None
    if token and token.expires_at:
        metrics.TOKEN_EXPIRY.labels(namespace, name).set(token.expires_at.timestamp())
    if token and token.last_refresh_time:
        metrics.TOKEN_LAST_REFRESH.labels(namespace, name).set(token.last_refresh_time.timestamp())
    return cond.written(status.conditions) if status else []


async def _reread(ctx: OperatorContext, tenant: JiraTenant) -> JiraTenant:
    """The tenant as the API server has it now; ``tenant`` when it cannot be read (or no longer validates)."""
    meta = tenant.metadata
    try:
        fresh = await get_object(ctx.kube, meta.namespace, "jiratenants", meta.name)
        return read_object(JiraTenant, fresh) if fresh is not None else tenant
    except (KubeError, InvalidObject):
        return tenant


def checked_in_status(status: JiraTenantStatus | None, generation: int) -> bool:
    """Whether ``status`` records a check of spec ``generation`` that found nothing wrong: Ready and
    every checked condition True, each observed at this generation."""
    if status is None or status.observed_generation != generation:
        return False
    found = [cond.find(status.conditions, type_) for type_ in (ConditionType.READY, *CHECKED)]
    return all(
        c is not None and c.status == ConditionStatus.TRUE and c.observed_generation == generation for c in found
    )


async def _schedule(ctx: OperatorContext, state: TenantState, tenant: JiraTenant, window: WindowDecision) -> None:
    """Create the window's Snapshots (``decide_window`` said CREATE: once per window and type set
    per process; a restart re-creates idempotently: 409). A create the namespace's ResourceQuota
    refuses is reported (a Warning Event, once per window) and tried again at the next tick; the
    tenant's status is still written."""
    meta = tenant.metadata
    namespace, name = meta.namespace, meta.name
    start = window.window
    refused = False
    for snapshot_type in window.types:
        snapshot = snapshot_name(name, snapshot_type, start)
        try:
            created = await ensure_snapshot(ctx.kube, namespace, name, meta.uid, snapshot_type, start)
        except KubeError as exc:
            if not quota_exceeded(exc):
                raise
            refused = True
            message = (
                f"Snapshot {snapshot} for window {window_iso(start)} not created: {exc.message}; raise the "
                f"namespace's ResourceQuota for count/snapshots.jiradrift.io or lower spec.retention.keepLast"
            )
            log.warning("JiraTenant %s/%s: %s", namespace, name, message)
            await events.post(
                ctx.kube, involved(tenant), "Warning", Reason.QUOTA_EXCEEDED, message, once=window_iso(start)
            )
            continue
        if created:
            log.info("created Snapshot %s for window %s", snapshot, window_iso(start))
    if not refused:
        state.scheduled = window.scheduled


def quota_exceeded(exc: KubeError) -> bool:
    """The API server's ResourceQuota admission refused a create (403 ``exceeded quota``)."""
    return exc.status == 403 and "exceeded quota" in exc.message


def _models(conditions: list[dict[str, Any]]) -> list[Condition]:
    return [Condition.model_validate(c) for c in conditions]


async def _secret_version(ctx: OperatorContext, namespace: str, spec: JiraTenantSpec) -> str:
    """The Secret's resourceVersion (a change re-checks the site); an error's status otherwise."""
    try:
        _, secret_name = auth_method(spec)
        secret = await ctx.kube.get(resource_path("", "v1", "secrets", namespace, secret_name))
        return str((secret.get("metadata") or {}).get("resourceVersion") or "")
    except CredentialsProblem as exc:
        return f"error-{exc.reason}"
    except KubeError as exc:
        return f"error-{exc.status}"
