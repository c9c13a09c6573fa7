"""Reconcile one JiraTenant: check credentials and site, keep conditions current, schedule Snapshots.

Reads like the paragraph in DESIGN.md: parse the spec, resolve the Secret, check the site (not
on every tick: a healthy tenant every ``recheck_seconds``, a failing one every
``error_recheck_seconds``), compute the window, create the window's Snapshots, prune by
retention, and write status. Failures become conditions and Warning Events, never exceptions
that kopf would retry in a tight loop.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.jiraconn import Problem, classify, credentials_for, open_client
from jiradrift.k8s import conditions as cond
from jiradrift.k8s import events
from jiradrift.k8s.credentials import CredentialsProblem, auth_method
from jiradrift.k8s.resources import (
    API_VERSION,
    GROUP,
    LABEL_TENANT,
    LABEL_TYPE,
    LABEL_WINDOW,
    VERSION,
    JiraTenantSpec,
)
from jiradrift.k8s.scheduling import (
    EPOCH,
    parse_duration,
    snapshot_name,
    window_iso,
    window_label,
    window_start,
)
from jiradrift.kube.api import label_value

log = logging.getLogger("jiradrift.tenant")

CHECKED = ("CredentialsValid", "Reachable", "TokenFresh", "ScopesReadOnly")
PRUNE_SECONDS = 30.0


def tenant_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


async def check_site(
    ctx: OperatorContext, namespace: str, name: str, spec: JiraTenantSpec, body: dict[str, Any]
) -> tuple[list[Problem], dict[str, Any]]:
    """Resolve credentials and ask the site who it is, within ``probe_timeout_seconds`` overall.
    Returns problems and site info."""
    seconds = ctx.settings.probe_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            return await _check_site(ctx, namespace, name, spec, body)
    except TimeoutError:
        return [
            Problem(
                "Reachable",
                "ProbeTimeout",
                f"the health check of {spec.site} did not finish within {seconds:g} s "
                "(the site or its token endpoint is hanging or trickling its answers)",
            )
        ], {}


async def _check_site(
    ctx: OperatorContext, namespace: str, name: str, spec: JiraTenantSpec, body: dict[str, Any]
) -> tuple[list[Problem], dict[str, Any]]:
    try:
        credentials, _secret = await credentials_for(ctx, namespace, name, spec, body)
    except CredentialsProblem as exc:
        return [Problem("CredentialsValid", exc.reason, exc.message)], {}
    except Exception as exc:  # token errors land here (ReauthorizationRequired, OAuthError, ...)
        return [classify(exc, spec)], {}
    try:
        client = await open_client(spec, credentials, probe=True, limits=ctx.settings.limits)
    except Exception as exc:
        return [classify(exc, spec)], {}
    try:
        info = await client.get_json("/serverInfo")
        if not isinstance(info, dict) or ("baseUrl" not in info and "version" not in info):
            return [Problem("Reachable", "NotJira", f"{spec.site}/serverInfo did not describe a Jira site")], {}
        # serverInfo needs no permission; a config endpoint proves the credentials can read config
        # (/statuses/search needs Administer Jira, and read:workflow:jira with granular scopes).
        await client.get_json("/statuses/search", {"maxResults": 1})
        site = {
            "cloudId": client.cloud_id,
            "title": str(info.get("serverTitle") or "")[:512] or None,
            "version": str(info.get("version") or "")[:64] or None,
            "deploymentType": str(info.get("deploymentType") or "")[:64] or None,
        }
        return [], {k: v for k, v in site.items() if v}
    except Exception as exc:
        return [classify(exc, spec)], {}
    finally:
        await client.aclose()


def conditions_from(
    previous: list[dict[str, Any]],
    problems: list[Problem],
    spec: JiraTenantSpec,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    conditions = list(previous)
    failing = {p.condition: p for p in problems}
    method = "oauth" if spec.auth.oauth else "serviceAccount" if spec.auth.service_account else "static"
    ok_messages = {
        "CredentialsValid": ("Accepted", "the site accepted the credentials"),
        "Reachable": ("Reachable", f"{spec.site} answered as a Jira site"),
        "TokenFresh": (
            ("Fresh", "the access token is valid")
            if method != "static"
            else ("NotApplicable", "API tokens and PATs are not refreshed; the site is checked instead")
        ),
        "ScopesReadOnly": ("ReadOnly", "no granted scope can write to Jira"),
    }
    for type_ in CHECKED:
        if type_ in failing:
            p = failing[type_]
            conditions = cond.set_condition(
                conditions, type_, False, p.reason, p.message, generation=generation, now=now
            )
        elif method != "static" and type_ in ("TokenFresh", "ScopesReadOnly"):
            # jiradrift.tokens owns these for refreshable tokens (it knows expiry and granted scopes)
            if cond.find(conditions, type_) is None:
                conditions = cond.set_condition(
                    conditions,
                    type_,
                    "Unknown",
                    "Pending",
                    "no token has been obtained yet",
                    generation=generation,
                    now=now,
                )
        elif type_ == "ScopesReadOnly" and method == "static":
            conditions = cond.set_condition(
                conditions,
                type_,
                True,
                "NotApplicable",
                "API tokens and PATs carry no OAuth scopes; the client refuses every write regardless",
                generation=generation,
                now=now,
            )
        else:
            reason, message = ok_messages[type_]
            conditions = cond.set_condition(conditions, type_, True, reason, message, generation=generation, now=now)
    return conditions


def ready_condition(
    conditions: list[dict[str, Any]], spec: JiraTenantSpec, generation: int, now: datetime
) -> list[dict[str, Any]]:
    for type_ in CHECKED:
        c = cond.find(conditions, type_)
        if c is None or c["status"] != "True":
            if type_ == "ScopesReadOnly" and spec.auth.allow_write_scopes:
                continue
            reason = c["reason"] if c else "Pending"
            message = c["message"] if c else f"{type_} not checked yet"
            return cond.set_condition(conditions, "Ready", False, reason, message, generation=generation, now=now)
    message = "paused: no Snapshots are scheduled (spec.paused)" if spec.paused else "snapshots are scheduled"
    return cond.set_condition(
        conditions,
        "Ready",
        True,
        "Paused" if spec.paused else "Ready",
        message,
        generation=generation,
        now=now,
    )


def ensure_snapshot(
    api: k8s.ApiClient, namespace: str, tenant: str, tenant_uid: str, snapshot_type: str, start: datetime
) -> bool:
    """Create the window's Snapshot unless it exists. True when this call created it."""
    name = snapshot_name(tenant, snapshot_type, start)
    body = {
        "apiVersion": API_VERSION,
        "kind": "Snapshot",
        "metadata": {
            "name": name,
            "labels": {
                LABEL_TENANT: label_value(tenant),
                LABEL_TYPE: snapshot_type,
                LABEL_WINDOW: window_label(start),
            },
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": "JiraTenant", "name": tenant, "uid": tenant_uid}],
        },
        "spec": {
            "tenantRef": {"name": tenant},
            "type": snapshot_type,
            "windowStart": window_iso(start),
            "reason": "Scheduled",
        },
    }
    try:
        k8s.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace, "snapshots", body)
        return True
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise


def list_snapshots(api: k8s.ApiClient, namespace: str, tenant: str, page: int = 200) -> list[dict[str, Any]]:
    """All Snapshots of a tenant, via limit/continue pages (label selector on the tenant)."""
    objects = k8s.CustomObjectsApi(api)
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(10_000):  # bounded: 2M snapshots is far beyond any retention
        kwargs: dict[str, Any] = {"label_selector": f"{LABEL_TENANT}={label_value(tenant)}", "limit": page}
        if token:
            kwargs["_continue"] = token
        result = cast(
            dict[str, Any],
            objects.list_namespaced_custom_object(GROUP, VERSION, namespace, "snapshots", **kwargs),
        )
        items.extend(i for i in result["items"] if i["spec"]["tenantRef"]["name"] == tenant)
        token = result["metadata"].get("continue")
        if not token:
            break
    return items


async def prune(ctx: OperatorContext, namespace: str, tenant: str, spec: JiraTenantSpec) -> list[str]:
    """Delete the oldest finished Snapshots beyond ``retention.keepLast`` per type, and their payloads."""
    finished = ("Completed", "Incomplete", "Failed")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for snap in await asyncio.to_thread(list_snapshots, ctx.api, namespace, tenant):
        if (snap.get("status") or {}).get("phase") in finished:
            by_type.setdefault(snap["spec"]["type"], []).append(snap)
    baseline = spec.drift.baseline_snapshot if spec.drift.compare_to == "baseline" else None
    doomed: list[dict[str, Any]] = []
    for snaps in by_type.values():
        snaps.sort(key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"]), reverse=True)
        doomed.extend(s for s in snaps[spec.retention.keep_last :] if s["metadata"]["name"] != baseline)
    store = await ctx.store_for(namespace, tenant_key(namespace, tenant))
    deleted = [await _delete_snapshot(ctx, store, namespace, s["metadata"]["name"], s) for s in doomed]
    # byte budget: drop the oldest until the tenant fits, never the newest of a type (the next baseline)
    latest = {max(ss, key=lambda s: s["metadata"]["creationTimestamp"])["metadata"]["name"] for ss in by_type.values()}
    rest = sorted(
        (s for ss in by_type.values() for s in ss if s not in doomed),
        key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"]),
    )
    for snap in rest:
        if (await store.usage(tenant_key(namespace, tenant))).total_bytes <= spec.retention.max_bytes:
            break
        name = snap["metadata"]["name"]
        if name in latest or name == baseline:
            continue
        deleted.append(await _delete_snapshot(ctx, store, namespace, name, snap))
    return deleted


async def reconcile_tenant(
    ctx: OperatorContext, body: dict[str, Any], patch: Any, *, force_check: bool = False
) -> None:
    meta, namespace, name = body["metadata"], body["metadata"]["namespace"], body["metadata"]["name"]
    generation = int(meta.get("generation") or 0)
    status = body.get("status") or {}
    previous = list(status.get("conditions") or [])
    now = ctx.clock()
    try:
        spec = JiraTenantSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        message = f"spec is invalid: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        patch.status["conditions"] = cond.set_condition(
            previous, "Ready", False, "InvalidSpec", message, generation=generation, now=now
        )
        patch.status["observedGeneration"] = generation
        return

    # 1. credentials and site, at a bounded rate
    state: dict[str, Any] | None = ctx.checks.get(meta["uid"])
    secret_version = await asyncio.to_thread(_secret_version, ctx, namespace, spec)
    due = (
        force_check
        or state is None
        or state["generation"] != generation
        or state["secret"] != secret_version
        or (now - state["at"]).total_seconds()
        >= (ctx.settings.error_recheck_seconds if state["problems"] else ctx.settings.recheck_seconds)
    )
    if due:
        problems, site = await check_site(ctx, namespace, name, spec, body)
        posted = (ctx.checks.get(meta["uid"]) or {}).get("posted", {})
        state = {
            "generation": generation,
            "secret": secret_version,
            "at": now,
            "problems": problems,
            "site": site,
            "posted": posted,
        }
        ctx.checks[meta["uid"]] = state
        for p in problems:
            metrics.ERRORS.labels(namespace, name, p.reason).inc()
        # re-read: the token module may have written status (token, ScopesReadOnly) meanwhile
        fresh = await asyncio.to_thread(_read_tenant, ctx, namespace, name)
        status = (fresh or body).get("status") or {}
        previous = list(status.get("conditions") or [])
    assert state is not None
    expires = (status.get("token") or {}).get("expiresAt")
    if expires:
        metrics.TOKEN_EXPIRY.labels(namespace, name).set(
            datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        )
    if refreshed := (status.get("token") or {}).get("lastRefreshTime"):
        metrics.TOKEN_LAST_REFRESH.labels(namespace, name).set(datetime.fromisoformat(refreshed).timestamp())
    conditions = conditions_from(previous, state["problems"], spec, generation, now)
    conditions = ready_condition(conditions, spec, generation, now)
    await asyncio.to_thread(_post_transition_events, ctx, body, previous, conditions)
    current = body.get("status") or {}
    _set_if_changed(patch, current, "conditions", conditions)
    _set_if_changed(patch, current, "observedGeneration", generation)
    if state["site"]:
        _set_if_changed(patch, current, "site", state["site"])

    # 2. schedule
    interval = parse_duration(spec.schedule.interval)
    types = [t.value for t in spec.snapshot_types]
    metrics.set_tenant_schedule(namespace, name, None if spec.paused else interval.total_seconds(), types)
    start = window_start(now, interval)
    _set_if_changed(patch, current, "nextSnapshotTime", cond.now_rfc3339(start + interval))
    scheduled = (window_iso(start), tuple(spec.snapshot_types))
    if cond.is_true(conditions, "Ready") and not spec.paused and state.get("scheduled") != scheduled:
        # once per window and type set per process; a restart re-creates idempotently (409)
        for snapshot_type in spec.snapshot_types:
            created = await asyncio.to_thread(
                ensure_snapshot, ctx.api, namespace, name, meta["uid"], snapshot_type.value, start
            )
            if created:
                log.info(
                    "created Snapshot %s for window %s",
                    snapshot_name(name, snapshot_type.value, start),
                    window_iso(start),
                )
        state["scheduled"] = scheduled

    # 3. retention: it lists Snapshots and ConfigMaps, so at most every PRUNE_SECONDS per tenant
    if (now - state.get("pruned_at", EPOCH)).total_seconds() < PRUNE_SECONDS:
        return
    state["pruned_at"] = now
    try:
        deleted = await prune(ctx, namespace, name, spec)
        if deleted:
            log.info("retention pruned %d Snapshot(s) of %s/%s", len(deleted), namespace, name)
    except Exception as exc:  # retention must never block scheduling
        log.warning("retention for %s/%s failed: %s", namespace, name, exc)


def _set_if_changed(patch: Any, current: dict[str, Any], field: str, value: Any) -> None:
    """Only changed status fields go into the patch, so a steady tenant costs no write per tick."""
    if current.get(field) != value:
        patch.status[field] = value


async def _delete_snapshot(
    ctx: OperatorContext, store: Any, namespace: str, name: str, snap: dict[str, Any] | None = None
) -> str:
    try:
        await store.delete_snapshot(name)
    except KeyError:
        pass
    return await asyncio.to_thread(_delete_snapshot_object, ctx, namespace, name, snap)


def _delete_snapshot_object(ctx: OperatorContext, namespace: str, name: str, snap: dict[str, Any] | None) -> str:
    if snap is not None:
        _delete_released_lease(ctx, namespace, snap)
    try:
        k8s.CustomObjectsApi(ctx.api).delete_namespaced_custom_object(GROUP, VERSION, namespace, "snapshots", name)
    except ApiException as exc:
        if exc.status != 404:
            raise
    return name


def _delete_released_lease(ctx: OperatorContext, namespace: str, snap: dict[str, Any]) -> None:
    """The window's Lease goes with its Snapshot, unless someone holds it right now."""
    lock = (snap.get("status") or {}).get("lock") or {}
    lease = lock.get("lease")
    if not lease:
        return
    coordination = k8s.CoordinationV1Api(ctx.api)
    try:
        current = coordination.read_namespaced_lease(lease, namespace)
        if current.spec is None or current.metadata is None or current.spec.holder_identity:
            return
        coordination.delete_namespaced_lease(
            lease,
            namespace,
            body=k8s.V1DeleteOptions(
                preconditions=k8s.V1Preconditions(resource_version=current.metadata.resource_version)
            ),
        )
    except ApiException as exc:
        if exc.status not in (404, 409):
            log.warning("could not delete Lease %s/%s: %s", namespace, lease, exc.reason)


def _secret_version(ctx: OperatorContext, namespace: str, spec: JiraTenantSpec) -> str:

    _, secret_name = auth_method(spec)
    try:
        secret = k8s.CoreV1Api(ctx.api).read_namespaced_secret(secret_name, namespace)
        return str(secret.metadata.resource_version if secret.metadata else "")
    except ApiException as exc:
        return f"error-{exc.status}"


def _read_tenant(ctx: OperatorContext, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return cast(
            dict[str, Any],
            k8s.CustomObjectsApi(ctx.api).get_namespaced_custom_object(GROUP, VERSION, namespace, "jiratenants", name),
        )
    except ApiException:
        return None


def _post_transition_events(
    ctx: OperatorContext, body: dict[str, Any], before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    """One Event per transition: a Warning when a specific condition goes False, Normal when the
    tenant becomes Ready. What was posted is remembered per tenant, because a timer may run on a
    body that does not show the last status patch yet; a restart re-posts at most once."""
    state = ctx.checks.setdefault(body["metadata"]["uid"], {}).setdefault("posted", {})
    for new in after:
        key = (new["status"], new.get("reason"))
        old = cond.find(before, new["type"])
        seen = state.get(new["type"]) or ((old["status"], old.get("reason")) if old else None)
        state[new["type"]] = key
        if seen == key:
            continue
        if new["type"] != "Ready" and new["status"] == "False":
            events.post(ctx.api, body, "Warning", new["reason"], f"{new['type']}: {new['message']}")
        elif new["type"] == "Ready" and new["status"] == "True" and seen is not None:
            events.post(ctx.api, body, "Normal", "Ready", new["message"])


def tenant_drift_patch(report_summary: dict[str, Any], snapshot: str, now: datetime) -> dict[str, Any]:
    total = int(report_summary.get("change_count") or 0)
    highest = report_summary.get("highest_severity")
    return {
        "lastDetected": cond.now_rfc3339(now),
        "lastSnapshot": snapshot,
        "added": int(report_summary.get("added") or 0),
        "removed": int(report_summary.get("removed") or 0),
        "changed": int(report_summary.get("changed") or 0),
        "highestSeverity": highest,
        "summary": f"{total} change{'s' if total != 1 else ''} ({highest}) in {report_summary.get('type')}",
    }
