"""Incremental capture: a window costs what changed, not what exists (issue 26).

    window = await capture_window(jira, store, tenant="acme", types=list(SnapshotType),
                                  captured_at=now, snapshot_id=lambda t: f"acme-{t}-{stamp}")
    for m in window.manifests: m.capture.mode, m.capture.reread

For each snapshot type the newest complete snapshot in the store is the *base*. One window:

1. reads the audit log since the oldest base's window, overlapping it (``jira.audit``), and decides
   per type what the records ask to re-read (``snapshot.changes.decide``);
2. runs the cheap change probe of every probed kind (``jira.changeprobe``) and, for workflows,
   one page ordered by ``-updated``: a kind whose probe answers differently from its base's (or
   fails) is re-listed, so no kind depends on the audit log alone;
3. re-reads what changed, by id where Jira reads one object as the full capture does (workflows,
   projects, one custom field's contexts; the field listing is one request), else the kind's whole
   catalog source, and carries every other item of the base by reference (its content hash: the
   store holds the body already).

The manifest then equals what a full capture at the same moment would store (tests/snapshot/test_incremental_capture.py
proves it on every kind the emulator mutates). A type is captured in full instead when it has no
complete base, when the base does not say where its window ended (stored before this), when
``full`` is asked, or when the audit read failed, was truncated or forbidden while the type has an
audited kind: never a silent skip. Each manifest records how (``Manifest.capture``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import orjson

from jiradrift.jira.audit import MAX_WINDOW_RECORDS, PAGE_SIZE, AuditRead, ReadStatus, read_audit_log
from jiradrift.jira.bounds import limits_of
from jiradrift.jira.catalog import (
    Collect,
    JiraReader,
    Sink,
    collect_field_configurations,
    collect_field_contexts,
    collect_field_list,
    collect_projects,
    collect_screens,
    collect_workflows_by_id,
    sources_for,
)
from jiradrift.jira.changeprobe import BY_ID, PROBES, probe_kind, updated_workflows
from jiradrift.jira.errors import JiraError, WriteRefused
from jiradrift.jira.requestcount import RequestCounter, current_counter
from jiradrift.model.kinds import kind_of_key
from jiradrift.model.manifest import CaptureInfo, CaptureMode, Manifest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.model.store import SnapshotStore
from jiradrift.snapshot.capture import Collector, ProgressCallback, capture_snapshot, collect_into
from jiradrift.snapshot.changes import (
    DEFAULT_COVERAGE,
    DEFAULT_OVERLAP,
    AuditCoverage,
    AuditCursor,
    Mode,
    TypePlan,
    decide,
    kinds_by_type,
)

T = TypeVar("T")


@dataclass(frozen=True)
class WindowResult:
    """One window's stored manifests (in the order of ``types``) and what it cost."""

    manifests: list[Manifest]
    audit: AuditRead | None = None
    requests: int = 0  # every request of the window: audit, probes and re-reads
    reasons: Mapping[str, str] = field(default_factory=dict)  # type -> why it was a full capture

    @property
    def reread(self) -> int:
        return sum(m.capture.reread or 0 for m in self.manifests)


async def base_manifests(store: SnapshotStore, tenant: str, types: Collection[str]) -> dict[str, Manifest]:
    """The newest complete snapshot of each type in ``store``: what an incremental window continues."""
    found: dict[str, Manifest] = {}
    infos = sorted(await store.list_snapshots(tenant), key=lambda i: (i.captured_at, i.snapshot_id), reverse=True)
    for info in infos:
        if info.type in types and info.type not in found and info.complete and not info.read_nothing:
            found[info.type] = await store.get_manifest(info.snapshot_id)
    return found


async def _bounded(work: Awaitable[T], seconds: float) -> T | None:
    """``work``'s result, or None when it has not ended within ``seconds``."""
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        return None


def _cursor(base: Manifest | None) -> AuditCursor | None:
    if base is None or base.capture.audit_until is None:
        return None
    return AuditCursor(base.capture.audit_until, frozenset(base.capture.audit_seen))


async def capture_window(
    client: JiraReader,
    store: SnapshotStore,
    *,
    tenant: str,
    types: Collection[SnapshotType | str],
    captured_at: datetime,
    snapshot_id: Callable[[str], str],
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    coverage: AuditCoverage = DEFAULT_COVERAGE,
    progress: ProgressCallback | None = None,
    bases: Mapping[str, Manifest] | None = None,
    max_audit_records: int = MAX_WINDOW_RECORDS,
    audit_page_size: int = PAGE_SIZE,
    store_for: Callable[[str], SnapshotStore] | None = None,
) -> WindowResult:
    """Capture ``types`` incrementally where a base allows it, else in full; ``captured_at`` is the
    window's moment (changes made before it are in the result), ``snapshot_id(type)`` names each
    new snapshot. ``bases`` overrides the store's newest complete snapshot per type (a base of
    another site is ignored). Types are captured concurrently; ``store_for(type)``, when given,
    hands each its own store object (the same store) as ``jiradrift snapshot`` does."""
    names = [str(SnapshotType(t)) for t in types]
    requests = RequestCounter(current_counter.get())
    counting = current_counter.set(requests)
    try:
        if bases is None:
            bases = {} if full else await base_manifests(store, tenant, names)
        site = str(getattr(client, "site", ""))
        bases = {t: b for t, b in bases.items() if not (site and b.site and b.site != site)}
        kinds = kinds_by_type(names)
        limits = limits_of(client)
        # The window's own reads (audit log, probes) end within a listing's and a capture's deadline:
        # one that does not answers "unknown", which re-reads (or fully captures) what it covers.
        deadline = min(limits.listing_deadline, limits.capture_deadline)
        cursors = {t: _cursor(bases.get(t)) for t in names}
        audited = coverage.kinds
        read: AuditRead | None = None
        continuing = [t for t in names if not full and cursors[t] is not None]
        if any(audited.intersection(kinds[t]) for t in continuing):
            since = min(c.since for t in continuing if (c := cursors[t]) is not None) - overlap
            read = await _bounded(
                read_audit_log(client, since, captured_at, max_records=max_audit_records, page_size=audit_page_size),
                deadline,
            )
            if read is None:
                read = AuditRead(
                    since,
                    captured_at,
                    ReadStatus.FAILED,
                    detail=f"the audit log read had not ended within {deadline} s",
                )
        plans: dict[str, TypePlan] = {}
        seen: dict[str, list[int]] = {}
        for t in names:
            if full:
                plans[t] = TypePlan(t, Mode.FULL, "a full capture was asked for")
                continue
            window = decide(read, cursors[t], {t: kinds[t]}, coverage, overlap=overlap, now=captured_at)
            plans[t] = window.types[t]
            seen[t] = sorted(window.next_cursor.seen)
        probed = sorted({k for t in names for k in kinds[t] if k in PROBES})
        answers = await asyncio.gather(*(_bounded(probe_kind(client, k), deadline) for k in probed))
        fingerprints = dict(zip(probed, answers, strict=True))

        async def one(t: str) -> Manifest:
            plan, base = plans[t], bases.get(t)
            own: dict[str, str] = {}
            for k in kinds[t]:
                if (answer := fingerprints.get(k)) is not None:
                    own[k] = answer.fingerprint
                    if answer.objects is not None:
                        own[f"{k}{WHOLE}"] = "1"
                        own |= {f"{k}/{i}": d for i, d in answer.objects.items()}
            info = CaptureInfo(
                mode=CaptureMode.FULL,
                reason=plan.reason,
                probes=own,
                audit_until=captured_at,
                audit_seen=seen.get(t, []),
            )
            target = store_for(t) if store_for is not None else store
            if plan.mode is Mode.FULL or base is None:
                return await capture_snapshot(
                    client,
                    target,
                    tenant=tenant,
                    snapshot_type=t,
                    snapshot_id=snapshot_id(t),
                    captured_at=captured_at,
                    progress=progress,
                    info=info,
                )
            changed = {k for k in kinds[t] if k in PROBES and (k not in own or own[k] != base.capture.probes.get(k))}
            probed_ids = {k: ids for k in sorted(changed) if (ids := _changed_objects(k, own, base)) is not None}
            changed -= probed_ids.keys()
            workflows: set[str] | None = set()
            if "workflow" in kinds[t]:
                horizon = (cursors[t] or AuditCursor(captured_at)).since - overlap
                workflows = await _bounded(updated_workflows(client, horizon), deadline)
            return await _continue(
                client,
                target,
                base,
                plan,
                changed,
                workflows,
                probed_ids,
                snapshot_id=snapshot_id(t),
                captured_at=captured_at,
                info=info.model_copy(update={"mode": CaptureMode.INCREMENTAL, "base": base.snapshot_id}),
                progress=progress,
            )

        manifests = list(await asyncio.gather(*(one(t) for t in names)))
    finally:
        current_counter.reset(counting)
    reasons = {t: p.reason for t, p in plans.items() if p.mode is Mode.FULL}
    return WindowResult(manifests, read, requests.value, reasons)


BODY_CHUNK = 500  # stored bodies read at once when looking for a field's contexts
WHOLE = "#whole"  # in CaptureInfo.probes: the kind's listing was read whole, each object's digest kept


def _changed_objects(kind: str, own: Mapping[str, str], base: Manifest) -> set[str] | None:
    """Ids whose listing entry differs from the base's (added, removed or changed), when both
    probes read the kind's listing whole; None otherwise (the kind is re-listed)."""
    if kind not in BY_ID or f"{kind}{WHOLE}" not in own or f"{kind}{WHOLE}" not in base.capture.probes:
        return None
    prefix = f"{kind}/"
    now = {k: d for k, d in own.items() if k.startswith(prefix)}
    before = {k: d for k, d in base.capture.probes.items() if k.startswith(prefix)}
    return {k[len(prefix) :] for k in now.keys() | before.keys() if now.get(k) != before.get(k)}


async def _field_context_keys(store: SnapshotStore, base: Manifest, field_ids: set[str]) -> set[str]:
    """Keys of the base's field contexts that belong to ``field_ids`` (their bodies say ``fieldId``);
    the bodies are read from the store (no Jira request), a chunk at a time."""
    keys = [(k, d) for k, d in base.items.items() if kind_of_key(k) == "field-context"]
    owned = set()
    for start in range(0, len(keys), BODY_CHUNK):
        chunk = keys[start : start + BODY_CHUNK]
        bodies = await store.get_items({d for _, d in chunk})
        for key, digest in chunk:
            if str(orjson.loads(bodies[digest]).get("fieldId")) in field_ids:
                owned.add(key)
    return owned


async def _continue(
    client: JiraReader,
    store: SnapshotStore,
    base: Manifest,
    plan: TypePlan,
    changed: set[str],
    workflows: set[str] | None,
    probed_ids: Mapping[str, set[str]],
    *,
    snapshot_id: str,
    captured_at: datetime,
    info: CaptureInfo,
    progress: ProgressCallback | None,
) -> Manifest:
    """The base's items, with what changed re-read: the new manifest, stored."""
    stype = SnapshotType(base.type)
    relist = set(plan.relist) | changed
    by_id: dict[str, set[str]] = {k: set(ids) for k, ids in plan.reread.items()}
    for k, named in probed_ids.items():
        by_id.setdefault(k, set()).update(named)
    if workflows is None:
        relist.add("workflow")
    elif workflows:
        by_id.setdefault("workflow", set()).update(workflows)
    # Kinds read by id where Jira reads one object the way the full capture does; the field
    # listing is one request, so a named field (or its contexts) re-lists the fields themselves.
    cheap = {"workflow", "project", "screen", "field-configuration", "field", "field-context"}
    relist |= {k for k in by_id if k not in cheap}
    sources = [s for s in sources_for(stype) if relist.intersection(s.kinds)]
    dropped = {k for s in sources for k in s.kinds}
    by_id = {k: ids for k, ids in by_id.items() if k not in dropped and ids}
    drop_keys: set[str] = set()
    collectors: list[Collector] = []
    if ids := by_id.get("workflow"):
        drop_keys |= {f"workflow/{i}" for i in ids}
        collectors.append(Collector("workflows by id", ("workflow",), _workflows(sorted(ids))))
    if ids := by_id.get("screen"):
        drop_keys |= {f"screen/{i}" for i in ids}
        collectors.append(Collector("screens by id", ("screen",), _listed(collect_screens, sorted(ids))))
    if ids := by_id.get("field-configuration"):
        drop_keys |= {f"field-configuration/{i}" for i in ids}
        collectors.append(
            Collector(
                "field configurations by id",
                ("field-configuration",),
                _listed(collect_field_configurations, sorted(ids)),
            )
        )
    if ids := by_id.get("project"):
        drop_keys |= {f"project/{i}" for i in ids}
        collectors.append(Collector("projects by id", ("project",), _listed(collect_projects, sorted(ids))))
    field_ids = by_id.get("field", set()) | by_id.get("field-context", set())
    if field_ids:
        dropped.add("field")
        drop_keys |= await _field_context_keys(store, base, field_ids)
        collectors.append(Collector("fields and named contexts", ("field", "field-context"), _fields(field_ids)))
    items = {k: d for k, d in base.items.items() if kind_of_key(k) not in dropped and k not in drop_keys}
    manifest = Manifest(
        snapshot_id=snapshot_id,
        tenant=base.tenant,
        type=base.type,
        captured_at=captured_at,
        site=str(getattr(client, "site", "")) or base.site,
        items=items,
    )
    wanted = dropped | {kind_of_key(k) for k in drop_keys} | {c for col in collectors for c in col.kinds}
    reread = await collect_into(client, store, manifest, sources, wanted, progress=progress, extra=collectors)
    manifest.capture = info.model_copy(update={"reread": reread})
    return await store.put_manifest(manifest)


def _workflows(ids: list[str]) -> Collect:
    async def collect(jira: JiraReader, sink: Sink) -> None:
        try:
            await collect_workflows_by_id(jira, sink, ids)
        except WriteRefused:
            raise
        except JiraError as exc:
            sink.error("workflow", "POST /workflows", exc)

    return collect


def _listed(read: Callable[[JiraReader, Sink, list[str] | None], Awaitable[None]], ids: list[str]) -> Collect:
    """A catalog read narrowed to ``ids`` (its listing filtered with ``id=``)."""

    async def collect(jira: JiraReader, sink: Sink) -> None:
        await read(jira, sink, ids)

    return collect


def _fields(field_ids: set[str]) -> Collect:
    async def collect(jira: JiraReader, sink: Sink) -> None:
        try:
            custom = await collect_field_list(jira, sink)
        except WriteRefused:
            raise
        except JiraError as exc:
            sink.error("field", "GET /field", exc)
            sink.error("field-context", "GET /field", exc)
            return
        named = [f for f in custom if str(f.get("id")) in field_ids]
        await asyncio.gather(*(collect_field_contexts(jira, sink, f) for f in named))

    return collect
