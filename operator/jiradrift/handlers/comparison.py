"""SiteComparison: two JiraTenants of one namespace compared, again whenever either side completes a
snapshot and whenever the comparison's spec changes.

    register_comparisons(registry, ctx, caches.comparisons)     # in build_registry: two raw-event watches, nothing else

A comparison names its tenants by name only, so it can only read tenants of its own namespace (the
stores are per namespace and per tenant). The replica that owns the left tenant compares; the
comparison is offline (stored snapshots, no Jira request) and runs off the event loop. The status
says ``InSync``, counts the differences by severity and lists the first ones; the gauge
``jiradrift_comparison_differences{namespace,comparison,severity}`` carries the counts to the
chart's alert. A comparison whose inputs (spec generation, both sides' snapshot ids) did not change
is not compared again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from typing import Any

import kopf

from jiradrift.api.conditions import set_condition
from jiradrift.api.objects import InvalidObject, owner_of, read_object
from jiradrift.api.resources import (
    GROUP,
    MAX_COMPARISON_DIFFERENCES,
    VERSION,
    ChangeAffects,
    ComparisonCounts,
    ComparisonDifference,
    ComparisonReport,
    JiraTenant,
    SiteComparison,
    SiteComparisonSpec,
)
from jiradrift.compare.comparison import Comparison, Pin, annotate_comparison, compare_sites
from jiradrift.compare.mapping import ValueMappings
from jiradrift.compare.report import ReportStore, keep_report, report_name
from jiradrift.compare.sides import Side, read_snapshots
from jiradrift.handlers import metrics
from jiradrift.handlers.cache import WatchCache
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import patch_status
from jiradrift.kube.client import KubeError, resource_path
from jiradrift.model.store_errors import StoreError
from jiradrift.notify import pending_deliveries, records_json
from jiradrift.notify.comparison import highest_of, in_sync_condition
from jiradrift.redact import clip
from jiradrift.snapshot.blast import ReachRule, newest_infos
from jiradrift.snapshot.natural import NaturalIndex

log = logging.getLogger("jiradrift.handlers.comparison")
PLURAL = "sitecomparisons"
IN_SYNC = "InSync"
SEVERITIES = ("high", "medium", "low")
FINISHED = frozenset({"Completed", "Incomplete"})

DIFFERENCES = metrics.COMPARISON_DIFFERENCES


def compare(left: Side, right: Side, spec: SiteComparisonSpec) -> Comparison:
    """The comparison of two sides as ``spec`` declares it (CPU-bound: run it off the loop)."""
    result = compare_sites(
        NaturalIndex.build(left.items, in_place=True),
        NaturalIndex.build(right.items, in_place=True),
        left_name=left.label,
        right_name=right.label,
        ignore=spec.ignore or [],
        mappings=ValueMappings.parse(spec.mappings or []),
        pins=[Pin.parse(p) for p in spec.pins or []],
    )
    return annotate_comparison(result, (left.radius, right.radius), ReachRule(spec.reach_high))


def status_of(result: Comparison, left: Side, right: Side, conditions: Any, generation: int) -> dict[str, Any]:
    """The comparison's ``status``: InSync, counts by severity, the first differences."""
    counts = ComparisonCounts(total=len(result.changes))
    for change in result.changes:
        severity = change.severity.value
        setattr(counts, severity, getattr(counts, severity) + 1)
    first = []
    for change in result.changes[:MAX_COMPARISON_DIFFERENCES]:
        entry = ComparisonDifference(
            key=clip(change.key, 512), op=change.op.value, path=clip(change.path, 512), severity=change.severity.value
        )
        if change.affects is not None:
            entry.affects = ChangeAffects(count=change.affects, first=[clip(k, 64) for k in change.affects_first[:5]])
        first.append(entry.model_dump(by_alias=True, exclude_none=True))
    highest = result.highest_severity
    message = (
        f"in sync: {result.equal} items equal"
        if not result.different
        else f"{counts.total} difference(s) (highest {highest.value if highest else 'low'}): "
        f"{result.added} only on {right.label}, {result.removed} only on {left.label}, {result.changed} changed"
    )
    return {
        "observedGeneration": generation,
        "conditions": set_condition(
            conditions,
            IN_SYNC,
            not result.different,
            "Equal" if not result.different else "Different",
            message,
            generation=generation,
        ),
        "lastCompared": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "leftSnapshots": list(left.snapshots),
        "rightSnapshots": list(right.snapshots),
        "differences": counts.model_dump(by_alias=True),
        "equal": result.equal,
        "first": first,
        "message": clip(message, 4096),
    }


async def announcements(
    ctx: OperatorContext, namespace: str, spec: SiteComparisonSpec, before: dict[str, Any], after: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Pending deliveries to the left tenant's destinations when InSync changed (None when it did not).

    A first comparison that finds the sites in sync says nothing; one that finds them different does.
    A change to different reaches the destinations whose ``minSeverity`` the differences reach; the
    change back to in sync reaches those the differences had reached."""
    was, now = in_sync_condition(before).get("status"), in_sync_condition(after).get("status")
    if (
        not spec.notify
        or was == now
        or now not in ("True", "False")
        or (was not in ("True", "False") and now == "True")
    ):
        return None
    severity = highest_of(after.get("differences") if now == "False" else before.get("differences"))
    tenant = await ctx.kube.get_or_none(resource_path(GROUP, VERSION, "jiratenants", namespace, spec.left.name))
    try:
        destinations = read_object(JiraTenant, tenant).spec.notifications if tenant else []
    except InvalidObject:
        destinations = []  # the tenant's own status says what is wrong with it
    return records_json(pending_deliveries(destinations, severity or "low"))


async def _keep(store: object, comparison: SiteComparison, result: Comparison) -> tuple[dict[str, Any] | None, str]:
    """The full report written to the left tenant's store (owned by the comparison: deleted with it),
    or None and why not."""
    if not isinstance(store, ReportStore):
        return None, f"the left tenant's store ({type(store).__name__}) cannot keep reports"
    namespace, name, owner = comparison.metadata.namespace, comparison.metadata.name, owner_of(comparison)
    job = functools.partial(result.to_dict)
    report = await asyncio.get_running_loop().run_in_executor(None, job)
    try:
        kept = await keep_report(store, report_name(namespace, name), report, owner)
    except StoreError as exc:
        log.warning("SiteComparison %s/%s: the report is not kept: %s", namespace, name, exc)
        return None, str(exc)
    ref = ComparisonReport(store=kept.store, key=kept.key, digest=kept.digest, bytes=kept.bytes)
    return ref.model_dump(by_alias=True), ""


def register_comparisons(
    registry: kopf.OperatorRegistry, ctx: OperatorContext, bodies: WatchCache[str, dict[str, Any]]
) -> None:
    """Watch SiteComparisons (their spec) and Snapshots (a side completing) and keep each compared.

    ``bodies`` receives the watch's copy of each SiteComparison, by namespace (the notifier reads it)."""
    compared: dict[str, tuple[Any, ...]] = {}  # uid -> the inputs of its last comparison
    locks: dict[str, asyncio.Lock] = {}

    @kopf.on.event(GROUP, VERSION, PLURAL, id="site_comparison_seen", registry=registry)
    async def comparison_seen(body: kopf.Body, type: str | None, **_: Any) -> None:
        uid = body.metadata.uid or ""
        if type == "DELETED":
            bodies.remove(uid)
            compared.pop(uid, None)
            for severity in SEVERITIES:
                _forget(body.metadata.namespace or "", body.metadata.name or "", severity)
            left = str((body.spec.get("left") or {}).get("name") or "")
            await _drop_reports(ctx, body.metadata.namespace or "", body.metadata.name or "", left)
            return
        copy = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
        bodies.put(uid, body.metadata.namespace or "", copy)
        await reconcile(uid)

    @kopf.on.event(GROUP, VERSION, "snapshots", id="site_comparison_side_completed", registry=registry)
    async def side_completed(body: kopf.Body, type: str | None, **_: Any) -> None:
        if type == "DELETED" or str(body.status.get("phase") or "") not in FINISHED:
            return
        namespace = body.metadata.namespace or ""
        tenant = str((body.spec.get("tenantRef") or {}).get("name") or "")
        for comparison in bodies.group(namespace):
            spec = comparison["spec"]
            names = {(spec.get("left") or {}).get("name"), (spec.get("right") or {}).get("name")}
            if tenant in names:
                await reconcile(str(comparison["metadata"].get("uid") or ""))

    async def reconcile(uid: str) -> None:
        lock = locks.setdefault(uid, asyncio.Lock())
        async with lock:
            found = bodies.get(uid)
            if found is None:
                return
            body = found[1]
            try:
                await _reconcile(ctx, body, compared, uid)
            except KubeError as exc:
                if not exc.not_found:  # deleted meanwhile: nothing to report on
                    log.warning("SiteComparison %s: %s", body["metadata"].get("name"), exc)


async def _drop_reports(ctx: OperatorContext, namespace: str, name: str, left: str) -> None:
    """A deleted comparison's reports leave the left tenant's store (the replica owning it deletes)."""
    if not left or not ctx.owns(namespace, left):
        return
    try:
        store = await ctx.store_for(namespace, f"{namespace}/{left}")
        if isinstance(store, ReportStore):
            await store.delete_reports(report_name(namespace, name))
    except (StoreError, KubeError) as exc:
        log.warning("SiteComparison %s/%s deleted: its reports are not: %s", namespace, name, exc)


def _forget(namespace: str, name: str, severity: str) -> None:
    try:
        DIFFERENCES.remove(namespace, name, severity)
    except KeyError:
        pass


async def _reconcile(
    ctx: OperatorContext, body: dict[str, Any], compared: dict[str, tuple[Any, ...]], uid: str
) -> None:
    meta = body["metadata"]
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    generation = int(meta.get("generation") or 0)
    conditions = (body.get("status") or {}).get("conditions")
    try:
        comparison = read_object(SiteComparison, body)
        spec = comparison.spec
        ValueMappings.parse(spec.mappings or [])
        for pin in spec.pins or []:
            Pin.parse(pin)
    except ValueError as exc:  # InvalidObject (the model refuses the spec), or a mapping or pin
        message = clip(f"spec is not valid: {exc.message if isinstance(exc, InvalidObject) else exc}", 1024)
        if compared.get(uid) != ("invalid", generation):
            compared[uid] = ("invalid", generation)
            status = {"observedGeneration": generation, "message": message}
            status["conditions"] = set_condition(conditions, IN_SYNC, "Unknown", "InvalidSpec", message)
            await patch_status(ctx.kube, namespace, PLURAL, name, status)
        return
    left, right = spec.left.name, spec.right.name
    if not ctx.owns(namespace, left):
        return  # the replica that owns the left tenant compares
    types = [t.value for t in spec.types] if spec.types else None
    sides = []
    for tenant in (left, right):
        store = await ctx.store_for(namespace, f"{namespace}/{tenant}")
        sides.append((tenant, store, await newest_infos(store, f"{namespace}/{tenant}", types)))
    inputs = (generation, *(tuple(i.snapshot_id for i in infos) for _, _, infos in sides))
    if compared.get(uid) == inputs:
        return
    missing = [tenant for tenant, _, infos in sides if not infos]
    if missing:
        message = (
            f"waiting for a complete snapshot of JiraTenant {', '.join(missing)} in namespace {namespace} "
            f"(is the name right, and has it completed a snapshot?)"
        )
        status = {"observedGeneration": generation, "message": message}
        status["conditions"] = set_condition(
            conditions, IN_SYNC, "Unknown", "WaitingForSnapshots", message, generation=generation
        )
        await patch_status(ctx.kube, namespace, PLURAL, name, status)
        compared[uid] = inputs
        return
    (_, left_store, left_infos), (_, right_store, right_infos) = sides
    a = await read_snapshots(left, left_store, left_infos)
    b = await read_snapshots(right, right_store, right_infos)
    job = functools.partial(compare, a, b, spec)
    result = await asyncio.get_running_loop().run_in_executor(None, job)
    status = status_of(result, a, b, conditions, generation)
    status["report"], why = await _keep(left_store, comparison, result)
    if status["report"] is None:
        status["message"] = clip(f"{status['message']}; the full report is not kept: {why}", 4096)
    pending = await announcements(ctx, namespace, spec, body.get("status") or {}, status)
    if pending is not None:
        status["notifications"] = pending  # replaces the records of the previous change
    await patch_status(ctx.kube, namespace, PLURAL, name, status)
    body["status"] = {**(body.get("status") or {}), **status}
    for severity in SEVERITIES:
        DIFFERENCES.labels(namespace, name, severity).set(sum(c.severity.value == severity for c in result.changes))
    compared[uid] = inputs
    log.info(
        "SiteComparison %s/%s: %s",
        namespace,
        name,
        status["message"],
        extra={"k8s_ref": {"kind": "SiteComparison", "namespace": namespace, "name": name}},
    )
