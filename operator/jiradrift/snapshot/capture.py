"""Capture: stream Jira pages -> normalised items -> canonical JSON -> sha256 -> store -> manifest.

    manifest = await capture_snapshot(jira, store, tenant="acme", snapshot_type="workflows",
                                      snapshot_id="acme-workflows-20260101t0000", captured_at=now)

Memory holds the page being processed plus the manifest (keys and hashes). A failing object or
endpoint is recorded as a :class:`CaptureError` and the capture carries on; the manifest is then
``complete=False``. The manifest is written last, so it never points at a body that is missing.

Catalog sources hand items to a synchronous sink; the sink hashes them and queues the bodies for one
writer task, which awaits the store (``has_item``/``put_item``). The queue drains whenever a source
awaits Jira, so it holds about a page of bodies. A store error (e.g. ``BudgetExceeded``) stops the
capture: the sources are cancelled and the error propagates; no manifest is written.

A capture as a whole is bounded (:class:`~jiradrift.jira.bounds.CaptureBounds`: listing pages and
items across all its sources, and a deadline, from the client's ``ResponseLimits``). Passing one
cancels the sources, records the reason as an error of each kind whose source had not finished,
and stores what was read as an incomplete manifest, so a site whose every listing runs away ends
within the bounds. Every item a manifest gains is taken from the process's
:class:`~jiradrift.jira.budget.ItemBudget` (``max_process_items``, shared by all captures) and given
back once the manifest is stored: a capture that finds it spent stops the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from jiradrift.jira.bounds import BoundedReader, CaptureBounds, item_budget_of, limits_of
from jiradrift.jira.catalog import JiraReader, Sink, Source, sources_for
from jiradrift.jira.errors import CaptureLimitExceeded, JiraHTTPError
from jiradrift.jira.requestcount import RequestCounter, current_counter
from jiradrift.model.manifest import CaptureError, CaptureInfo, Manifest, compute_digest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.model.store import SnapshotStore
from jiradrift.redact import clip
from jiradrift.snapshot.reach_index import SnapshotEdges, remember

MAX_PARALLEL_SOURCES = 4


@dataclass(frozen=True)
class CaptureProgress:
    """Reported after every item and when a source finishes."""

    snapshot_type: str
    source: str
    items: int
    errors: int
    requests: int
    sources_done: int
    sources_total: int


ProgressCallback = Callable[[CaptureProgress], None]


@dataclass(frozen=True)
class Collector:
    """A read that is not a whole catalog source (e.g. some objects by id): like ``Source``, it
    names the kinds it emits and collects them into a sink."""

    name: str
    kinds: tuple[str, ...]
    collect: Callable[[JiraReader, Sink], Awaitable[None]]


def canonical_bytes(body: Any) -> bytes:
    """The stored form of an item: JSON with sorted keys, no whitespace (so equal config, equal hash)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


class _ManifestSink:
    """Receives items from catalog sources, hashes and stores them, and builds the manifest."""

    def __init__(
        self,
        manifest: Manifest,
        store: SnapshotStore,
        kinds: set[str],
        on_item: Callable[[], None],
        bounds: CaptureBounds,
        edges: SnapshotEdges | None = None,
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.kinds = kinds
        self.on_item = on_item
        self.bounds = bounds
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.queued: set[str] = set()
        self.edges = edges if edges is not None else SnapshotEdges()  # the reference index, kept with the snapshot

    def item(self, kind: str, ident: str, body: dict[str, Any]) -> None:
        if kind not in self.kinds:
            return
        key = f"{kind}/{ident}"
        if key in self.manifest.items:
            return  # pages can shift while an admin edits: the first read of an id wins
        self.bounds.item()
        data = canonical_bytes(body)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self.queued:
            self.queued.add(digest)
            self.queue.put_nowait((digest, data))
        self.manifest.items[key] = digest
        self.edges.add(key, body)
        self.on_item()

    def stopped(self, exc: CaptureLimitExceeded, kinds: list[str]) -> None:
        """The bound that stopped the capture, recorded once for each kind whose source had not
        finished: a failed read of unknown size, so the diff calls its missing items unknown rather
        than removed."""
        for kind in kinds:
            self.manifest.errors.append(
                CaptureError(kind=kind, key=None, endpoint=f"{exc.method} {exc.url}", status=None, message=str(exc))
            )
        self.manifest.complete = False
        self.on_item()

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def drain(self) -> None:
        """Store queued bodies until :meth:`close`: the one place capture awaits the store."""
        while (entry := await self.queue.get()) is not None:
            digest, data = entry
            if not await self.store.has_item(digest):
                await self.store.put_item(digest, data)

    def error(self, kind: str, endpoint: str, exc: BaseException, key: str | None = None) -> None:
        if isinstance(exc, CaptureLimitExceeded):
            return  # the capture records its bound once (capture_snapshot), not once per source
        status = exc.status if isinstance(exc, JiraHTTPError) else None
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, JiraHTTPError) and type(exc).__name__ not in message:
            message = f"{type(exc).__name__}: {message}"
        self.manifest.errors.append(
            CaptureError(
                kind=kind,
                key=key,
                endpoint=endpoint or f"{kind} response",
                status=status,
                message=clip(message, 1000),
            )
        )
        self.manifest.complete = False
        self.on_item()


async def capture_snapshot(
    client: JiraReader,
    store: SnapshotStore,
    *,
    tenant: str,
    snapshot_type: SnapshotType | str,
    snapshot_id: str,
    captured_at: datetime,
    progress: ProgressCallback | None = None,
    kinds: set[str] | None = None,
    max_parallel_sources: int = MAX_PARALLEL_SOURCES,
    info: CaptureInfo | None = None,
) -> Manifest:
    """Capture every kind of ``snapshot_type`` from Jira into ``store`` and return the stored manifest.

    ``kinds`` narrows the capture to some kinds of the type. Up to ``max_parallel_sources`` catalog
    sources run at once; each pages its endpoints sequentially, and the client bounds concurrency
    and rate for the tenant as a whole. ``info`` is recorded as the manifest's ``capture`` (how it
    was captured; the default says full, with every item read).
    """
    stype = SnapshotType(snapshot_type)
    sources: list[Source] = sources_for(stype)
    wanted = {k for s in sources for k in s.kinds}
    if kinds is not None:
        wanted &= kinds
        sources = [s for s in sources if wanted.intersection(s.kinds)]
    manifest = Manifest(
        snapshot_id=snapshot_id,
        tenant=tenant,
        type=stype.value,
        captured_at=captured_at,
        site=str(getattr(client, "site", "")),
    )
    edges = SnapshotEdges()  # which items use which: the reference index kept with the snapshot
    # The manifest's items count against the process's item budget until it is stored.
    bounds = CaptureBounds(limits_of(client), stype.value, item_budget_of(client))
    try:
        await collect_into(
            client,
            store,
            manifest,
            sources,
            wanted,
            progress=progress,
            max_parallel_sources=max_parallel_sources,
            edges=edges,
            bounds=bounds,
        )
        manifest.capture = (info or CaptureInfo()).model_copy(update={"reread": len(manifest.items)})
        stored = await store.put_manifest(manifest)  # the stored form (the store may mark it unchanged_from)
        await remember(store, stored.digest, edges)  # reach at diff time is then a lookup
    finally:
        bounds.release()
    return stored


async def collect_into(
    client: JiraReader,
    store: SnapshotStore,
    manifest: Manifest,
    sources: list[Source],
    wanted: set[str],
    *,
    progress: ProgressCallback | None = None,
    max_parallel_sources: int = MAX_PARALLEL_SOURCES,
    extra: Sequence[Collector] = (),
    edges: SnapshotEdges | None = None,
    bounds: CaptureBounds | None = None,
) -> int:
    """Run ``sources`` (and ``extra`` collectors, e.g. reads by id) into ``manifest``: items of the
    ``wanted`` kinds not already in it are added and their bodies stored; errors mark it incomplete.
    Returns how many items were added. ``manifest.digest`` and ``request_count`` are set; the
    caller stores it. ``bounds``: the capture's bounds, when the caller releases their items from
    the process's budget once it has stored the manifest; by default they are released on return."""
    stype = SnapshotType(manifest.type)
    before = len(manifest.items)
    total = len(sources) + len(extra)
    # This capture's own requests, though other captures may share the client (jira.requestcount).
    requests = RequestCounter(current_counter.get())
    counting = current_counter.set(requests)  # the tasks started below inherit it
    done = 0
    current = {"source": ""}

    def report() -> None:
        if progress is not None:
            progress(
                CaptureProgress(
                    snapshot_type=stype.value,
                    source=current["source"],
                    items=len(manifest.items),
                    errors=len(manifest.errors),
                    requests=requests.value,
                    sources_done=done,
                    sources_total=total,
                )
            )

    owned = bounds is None
    if bounds is None:
        bounds = CaptureBounds(limits_of(client), stype.value, item_budget_of(client))
    reader = BoundedReader(client, bounds)
    sink = _ManifestSink(manifest, store, wanted, report, bounds, edges=edges)
    gate = asyncio.Semaphore(max(1, max_parallel_sources))
    finished: set[str] = set()  # kinds whose source ran to its end before any bound was passed

    async def run(source: Source | Collector) -> None:
        nonlocal done
        async with gate:
            current["source"] = source.name
            try:
                await source.collect(reader, sink)
                if bounds.stopped is None:
                    finished.update(source.kinds)
            except CaptureLimitExceeded:
                pass  # recorded in bounds.stopped: the capture stops and says why
            finally:
                done += 1
                report()

    try:
        await store.begin_capture(manifest.tenant, stype.value)
        writer = asyncio.create_task(sink.drain())
        runs: list[Source | Collector] = [*sources, *extra]
        collectors = asyncio.gather(*(run(s) for s in runs))
        stopper = asyncio.create_task(bounds.stop_event.wait())
        try:
            watched: set[asyncio.Future[Any]] = {writer, collectors, stopper}
            await asyncio.wait(watched, timeout=max(0.0, bounds.remaining()), return_when=asyncio.FIRST_COMPLETED)
            if writer.done():  # the store refused a body: stop reading Jira
                collectors.cancel()
                await writer
                raise AssertionError("the body writer stopped before the capture finished")
            if not collectors.done():  # a capture bound was passed (or the deadline, with no read in flight)
                if bounds.stopped is None:
                    bounds.deadline_passed("GET", stype.value)
                collectors.cancel()
                await asyncio.gather(collectors, return_exceptions=True)
            else:
                await collectors
            if bounds.stopped is not None:
                sink.stopped(bounds.stopped, sorted(wanted - finished))
            sink.close()
            await writer
        finally:
            for task in (writer, collectors, stopper):
                if not task.done():
                    task.cancel()
            await asyncio.gather(writer, collectors, stopper, return_exceptions=True)
    finally:
        current_counter.reset(counting)
        if owned:
            bounds.release()
    added = len(manifest.items) - before
    manifest.items = dict(sorted(manifest.items.items()))
    manifest.digest = compute_digest(manifest.items)
    manifest.request_count += requests.value
    return added
