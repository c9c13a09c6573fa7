"""What the operator registers with kopf, and the loops beside it.

kopf's part is the watches: raw-event handlers feed the operator's caches (``cache.py``), start the
capture of an unfinished Snapshot, and tell the ticker (``ticker.py``) of a tenant's new spec. The
ticker reconciles the tenants this replica owns (``shard.py``); nothing runs per object in a
replica that does not own it. Built by a function rather than at import time, so the intervals come
from OperatorSettings and tests can run an operator with second-scale ticks.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import kopf

from jiradrift.handlers import metrics
from jiradrift.handlers.cache import WatchCache, listed_uids
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import patch_status, read_object
from jiradrift.handlers.readiness import Readiness, serve_readiness
from jiradrift.handlers.shard import Shard
from jiradrift.handlers.snapshot import FINAL, run_snapshot
from jiradrift.handlers.tenant import reconcile_tenant
from jiradrift.handlers.ticker import TenantTicker
from jiradrift.k8s.baseline import SnapshotEntry
from jiradrift.k8s.resources import GROUP, VERSION
from jiradrift.kube.client import METADATA_LIST, KubeError, resource_path
from jiradrift.notify import Notifier
from jiradrift.redact import redact

log = logging.getLogger("jiradrift.handlers")
Handler = Callable[..., Awaitable[None]]
UNEXPECTED_RETRY_SECONDS = 60  # what kopf itself waits after an arbitrary exception
KOPF_CONNECTIONS = 16  # kopf's API requests in flight at once (patches, events), besides its watches
FINISHED_QUIET_SECONDS = 300.0
RETRY_MARGIN_SECONDS = 0.1  # a retry timer fires this long after the Snapshot's backoff ends
CACHE_READY_SECONDS = 120.0  # how long startup waits for the watch to deliver what a LIST showed
TICK_CONCURRENCY = 16  # tenants reconciled at once (each is a request or two; a site check more)


def sanitized(handler: Handler) -> Handler:
    """Whatever a handler raises reaches kopf (its logs, its failure Events) redacted and without the
    chained exception, whose text could quote a credential; kopf's retry behaviour is unchanged."""

    @functools.wraps(handler)
    async def wrapper(**kwargs: Any) -> None:
        try:
            await handler(**kwargs)
        except kopf.TemporaryError as exc:
            raise kopf.TemporaryError(redact(str(exc)), delay=exc.delay) from None
        except kopf.PermanentError as exc:
            raise kopf.PermanentError(redact(str(exc))) from None
        except Exception as exc:
            log.exception("handler %s failed unexpectedly", handler.__name__)  # redacted by the log filter
            message = redact(f"{type(exc).__name__}: {exc}")
            raise kopf.TemporaryError(message, delay=UNEXPECTED_RETRY_SECONDS) from None

    return wrapper


TENANTS = (GROUP, VERSION, "jiratenants")
SNAPSHOTS = (GROUP, VERSION, "snapshots")


def build_registry(ctx: OperatorContext) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    settings = ctx.settings

    sessions: list[aiohttp.ClientSession] = []

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.AiohttpSession | None:  # async: the session needs the loop
        info = kopf.login_via_client(**kwargs)
        if info is None:
            return None
        session = kopf_session(info, len(settings.namespaces))
        sessions.append(session)
        return kopf.AiohttpSession(
            aiohttp_session=session,
            server=info.server,
            default_namespace=info.default_namespace,
            priority=info.priority,
            expiration=info.expiration,
        )

    @kopf.on.cleanup(registry=registry)
    async def close_sessions(**_: Any) -> None:
        for session in sessions:
            await session.close()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.posting.level = 30  # WARNING: our own Events carry the story; kopf adds only failures
        settings.scanning.disabled = bool(ctx.settings.namespaces)
        settings.watching.server_timeout = 300
        settings.networking.error_backoffs = [1, 2, 5, 10, 20]
        settings.execution.max_workers = 8

    notifiers: list[tuple[Notifier, asyncio.Task[None]]] = []

    @kopf.on.startup(registry=registry)
    async def start_notifier(**_: Any) -> None:
        """Drift notifications run beside the handlers, never inside a capture (jiradrift.notify)."""
        notifier = Notifier(
            ctx.kube,
            settings.notify,
            ctx.holder,
            settings.namespaces,
            ctx.clock,
            lambda *labels: metrics.NOTIFICATIONS.labels(*labels).inc(),
            owns=ctx.owns,
        )
        notifiers.append((notifier, asyncio.create_task(notifier.run(), name="notifier")))

    @kopf.on.cleanup(registry=registry)
    async def stop_notifier(**_: Any) -> None:
        for notifier, task in notifiers:
            notifier.stop()
            await asyncio.gather(task, return_exceptions=True)

    tenant_cache: WatchCache[str, dict[str, Any]] = WatchCache("JiraTenants")
    snapshot_cache: WatchCache[tuple[str, str], SnapshotEntry] = WatchCache("Snapshots")
    ctx.watched_tenant = tenant_cache.first

    def _shard_changed(gained: set[str], lost: set[str], moved_in: int) -> None:
        shard = ctx.shard
        assert shard is not None
        metrics.SHARD_TENANTS.labels(shard.identity).set(len(shard.owned()))
        metrics.SHARD_MEMBERS.labels(shard.identity).set(len(shard.members))
        if moved_in:
            metrics.SHARD_MOVES.labels(shard.identity, "gained").inc(moved_in)
        if lost:
            metrics.SHARD_MOVES.labels(shard.identity, "lost").inc(len(lost))
        for key in lost:  # the new owner exports them now; ours would go stale and alert
            namespace, _, name = key.partition("/")
            metrics.forget_tenant(namespace, name)
        # A gained tenant's unfinished windows (a dead replica's captures) are taken up now, not at
        # the tenant's first tick: a survivor gaining hundreds of tenants ticks them 16 at a time, and
        # the dead holder's Lease expiry counts from the first look at it (handlers/snapshot.py).
        for key in gained:
            namespace, _, name = key.partition("/")
            take_up_unfinished(namespace, snapshot_cache.group((namespace, name)))

    ctx.shard = Shard(
        ctx.kube if settings.shard_namespace else None,
        settings.shard_namespace,
        ctx.holder,
        duration_seconds=settings.shard_lease_seconds,
        on_change=_shard_changed,
    )
    ticker = TenantTicker(
        lambda key, forced: _tick(key, forced),
        interval=settings.tenant_timer_seconds,
        concurrency=TICK_CONCURRENCY,
    )
    loops: list[asyncio.Task[None]] = []
    stop_loops_event = asyncio.Event()

    def owned_tenants() -> list[str]:
        return [key for key in tenant_cache.groups() if ctx.owns(*key.split("/", 1))]

    readiness = Readiness()
    readiness_servers: list[Any] = []

    @kopf.on.startup(registry=registry)
    async def start_loops(**_: Any) -> None:
        if settings.readiness_endpoint:
            readiness_servers.append(await serve_readiness(settings.readiness_endpoint, readiness))
        task = asyncio.create_task(run_loops(), name="tenants")
        task.add_done_callback(_loops_ended)
        loops.append(task)

    def _loops_ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:  # never silently idle
            log.critical("the tenant loops stopped: %s; the liveness probe fails from now on", exc, exc_info=exc)

    @kopf.on.probe(id="tenant_loops", registry=registry)
    def tenant_loops_alive(**_: Any) -> bool:
        """kopf's liveness endpoint fails if the loops died: Kubernetes restarts the pod."""
        if any(task.done() for task in loops) and not stop_loops_event.is_set():
            raise RuntimeError("the tenant loops stopped")
        return True

    async def run_loops() -> None:
        """Once the caches hold every object (a LIST's worth): the membership rounds
        (--shard-namespace) and the tenant ticker. The first shard assignment is computed over
        every JiraTenant, never a half-listed few, and acceptance reads whole Snapshot lists."""
        readiness.waiting("the JiraTenant and Snapshot caches to hold what a LIST showed at startup")
        await _await_caches()
        shard = ctx.shard
        assert shard is not None
        tasks = [ticker.run(owned_tenants, stop_loops_event)]
        if shard.enabled:
            readiness.waiting("the first membership round (which tenants this replica owns)")
            await shard.round(list(tenant_cache.groups()))
            tasks.append(shard.run(lambda: list(tenant_cache.groups()), stop_loops_event))
        readiness.ready()
        await asyncio.gather(*tasks)

    async def _await_caches() -> None:
        for plural, cache in (("jiratenants", tenant_cache), ("snapshots", snapshot_cache)):
            cache.expect(listed_uids(await _list_metadata(plural)))
        await tenant_cache.wait_ready(CACHE_READY_SECONDS)
        await snapshot_cache.wait_ready(CACHE_READY_SECONDS)
        log.info("watching %d JiraTenant(s) and %d Snapshot(s)", len(tenant_cache), len(snapshot_cache))

    async def _list_metadata(plural: str) -> list[dict[str, Any]]:
        """Every object's metadata in the watched namespaces (paged); retried until the API answers."""
        namespaces: list[str | None] = list(settings.namespaces) or [None]
        delay = 1.0
        while True:
            try:
                return [
                    item
                    for namespace in namespaces
                    async for item in ctx.kube.pages(
                        resource_path(GROUP, VERSION, plural, namespace), accept=METADATA_LIST
                    )
                ]
            except KubeError as exc:
                log.warning("could not list %s at startup (%s); retrying in %.0fs", plural, exc, delay)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)

    @kopf.on.cleanup(registry=registry)
    async def stop_loops(**_: Any) -> None:
        readiness.stopping()
        stop_loops_event.set()
        for task in loops:
            await asyncio.wait({task}, timeout=5.0)  # the loops stop at the event; startup's wait does not
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if ctx.shard is not None:
            await ctx.shard.leave()
        for server in readiness_servers:
            await server.cleanup()

    # No kopf timer and no change handlers on JiraTenants: a kopf timer runs for every tenant in
    # every replica, and change handlers write "handled" annotations (see handlers/ticker.py). Raw
    # events feed the ticker, which reconciles only this replica's tenants.
    @kopf.on.event(*TENANTS, registry=registry)
    async def tenant_seen(body: kopf.Body, type: str | None, **_: Any) -> None:
        namespace, name, uid = body.metadata.namespace or "", body.metadata.name or "", body.metadata.uid or ""
        key = f"{namespace}/{name}"
        if type == "DELETED":
            tenant_cache.remove(uid)
            ticker.forget(key)
            ctx.tenants.pop(uid, None)
            metrics.forget_tenant(namespace, name)  # else its last-snapshot gauges would alert forever
            return
        tenant_cache.put(uid, key, _cached(body))
        ticker.observe(key, int(body.metadata.get("generation") or 0))

    async def _tick(key: str, forced: bool) -> None:
        """Reconcile one owned tenant from the watch's copy, write what changed in its status, and
        take up its unfinished Snapshots."""
        namespace, _, name = key.partition("/")
        body = tenant_cache.first(key)
        if body is None or not ctx.owns(namespace, name):
            return
        snapshots = snapshot_cache.group((namespace, name))
        status = await reconcile_tenant(ctx, body, snapshots, force_check=forced)
        if status:
            try:
                await patch_status(ctx.kube, namespace, "jiratenants", name, status)
            except KubeError as exc:
                if not exc.not_found:  # deleted meanwhile: nothing to report on
                    raise
        if forced:
            log.info(
                "reconciled JiraTenant %s (spec generation %s)",
                key,
                body["metadata"].get("generation"),
                extra={"k8s_ref": {"kind": "JiraTenant", "namespace": namespace, "name": name}},
            )
        take_up_unfinished(namespace, snapshots)

    # No change-tracking handlers (on.create/on.resume) and no timers on Snapshots. kopf's change
    # handlers record "handled" in the object's annotations as soon as ANY replica returns, and an
    # owner that sees the record never runs its own; a kopf timer puts a finalizer on every Snapshot
    # and takes it off again (two PATCHes each) and runs in every replica. Raw events (nothing
    # recorded) start a capture at once, the initial listing after a restart included; a replica
    # takes up the unfinished windows of a tenant it gains at once (_shard_changed) and again at each
    # tick; a failed attempt is retried by a timer when its backoff ends (below).
    @kopf.on.event(*SNAPSHOTS, registry=registry)
    async def snapshot_seen(body: kopf.Body, type: str | None, **_: Any) -> None:
        uid = body.metadata.uid or ""
        tenant = (body.spec.get("tenantRef") or {}).get("name")
        if type == "DELETED" or not tenant:
            snapshot_cache.remove(uid)
            return
        snapshot_cache.put(uid, (body.metadata.namespace or "", str(tenant)), SnapshotEntry.from_object(body))
        if str(body.status.get("phase") or "") not in FINAL:
            await _run_logged(body)

    retries: set[asyncio.Task[None]] = set()

    def take_up_unfinished(namespace: str, snapshots: list[SnapshotEntry]) -> None:
        """Run the tenant's unfinished Snapshots that nothing in this process is running or waiting
        for (a failed attempt past its backoff, a window of a tenant this replica just gained)."""
        now = time.monotonic()
        for entry in snapshots:
            if entry.phase in FINAL or entry.uid in ctx.running or now < ctx.quiet_until.get(entry.uid, 0.0):
                continue
            ctx.running.add(entry.uid)  # claimed until the task has read it and runs it (or not)
            task = asyncio.create_task(_retry(namespace, entry), name=f"snapshot {namespace}/{entry.name}")
            retries.add(task)
            task.add_done_callback(retries.discard)

    async def _retry(namespace: str, entry: SnapshotEntry) -> None:
        try:
            body = await read_object(ctx.kube, namespace, "snapshots", entry.name)
        except KubeError as exc:
            log.info("Snapshot %s/%s not read (%s); retried at the next tick", namespace, entry.name, exc)
            return
        finally:
            ctx.running.discard(entry.uid)
        if body is not None and str((body.get("status") or {}).get("phase") or "") not in FINAL:
            await _run_logged(body)

    async def _run_logged(body: Mapping[str, Any]) -> None:
        try:
            await sanitized(_run_owned_handler)(body=body)
        except kopf.TemporaryError as exc:
            uid = str((body.get("metadata") or {}).get("uid") or "")
            delay = _retry_later(uid)
            log.info("Snapshot %s: %s; retried in %.0fs", (body.get("metadata") or {}).get("name"), exc, delay)

    # A failed attempt is retried when its backoff ends (for a Lease held by a dead replica: when
    # the Lease expires), by a timer, not at its tenant's next tick: under load the ticks of a
    # thousand tenants come round minutes apart. One timer per Snapshot at most.
    retry_timers: dict[str, asyncio.TimerHandle] = {}

    def _retry_later(uid: str) -> float:
        """Run the Snapshot again when its backoff (``ctx.quiet_until``, set by ``_run_owned``)
        ends; returns the seconds until then."""
        if (old := retry_timers.pop(uid, None)) is not None:
            old.cancel()
        due = ctx.quiet_until.get(uid)  # None only if it failed before _run_owned got to it
        delay = UNEXPECTED_RETRY_SECONDS if due is None else max(0.0, due - time.monotonic())
        retry_timers[uid] = asyncio.get_running_loop().call_later(delay + RETRY_MARGIN_SECONDS, _retry_due, uid)
        return delay

    def _retry_due(uid: str) -> None:
        retry_timers.pop(uid, None)
        if (found := snapshot_cache.get(uid)) is None:
            return  # deleted meanwhile
        (namespace, tenant), entry = found
        if ctx.owns(namespace, tenant):  # else its new owner took it up on gaining the tenant
            take_up_unfinished(namespace, [entry])

    @kopf.on.cleanup(registry=registry)
    async def stop_retries(**_: Any) -> None:
        for timer in retry_timers.values():
            timer.cancel()
        retry_timers.clear()
        for task in list(retries):
            task.cancel()
        await asyncio.gather(*retries, return_exceptions=True)

    async def _run_owned_handler(body: Mapping[str, Any], **_: Any) -> None:
        await _run_owned(ctx, body)

    return registry


def kopf_session(info: kopf.ConnectionInfo, namespaces: int) -> aiohttp.ClientSession:
    """kopf's own API session, as kopf builds it but with a bounded connection pool.

    kopf's pool is unbounded (``limit=0``): with a thousand tenant timers due at once it opened a
    connection per request, and each TLS connection costs Python a 256 KiB buffer (asyncio's
    sslproto): 275 MiB of the operator's peak at 1,000 tenants (memray). Watches hold a connection
    each (two resources per watched namespace, or per cluster), so they get theirs on top of
    :data:`KOPF_CONNECTIONS` for everything else."""
    watches = 2 * max(1, namespaces) + 2
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=KOPF_CONNECTIONS + watches, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )


async def _run_owned(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    """Run the Snapshot if its tenant is this replica's and this process is not running it already."""
    meta = body.get("metadata") or {}
    tenant = ((body.get("spec") or {}).get("tenantRef") or {}).get("name") or ""
    uid = meta.get("uid") or ""
    if not ctx.owns(meta.get("namespace") or "", tenant) or uid in ctx.running:
        return
    if time.monotonic() < ctx.quiet_until.get(uid, 0.0):
        return  # backing off after a failed attempt, or finished (an event from during the capture)
    ctx.running.add(uid)
    try:
        await run_snapshot(ctx, _plain(body))
    except kopf.TemporaryError as exc:
        _quiet(ctx, uid, exc.delay or UNEXPECTED_RETRY_SECONDS)
        raise
    except BaseException:
        _quiet(ctx, uid, UNEXPECTED_RETRY_SECONDS)
        raise
    else:  # run_snapshot returns once the Snapshot is final (written by us, or seen)
        _quiet(ctx, uid, FINISHED_QUIET_SECONDS)
    finally:
        ctx.running.discard(uid)


def _quiet(ctx: OperatorContext, uid: str, seconds: float) -> None:
    now = time.monotonic()
    ctx.quiet_until.remember(uid, now + seconds, now)


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


def _cached(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a watched object to keep, without its managedFields (most of its bytes, never
    copied: this runs for every event of every tenant in every replica)."""
    kept = {key: copy.deepcopy(value) for key, value in body.items() if key != "metadata"}
    metadata = body.get("metadata") or {}
    kept["metadata"] = {key: copy.deepcopy(value) for key, value in metadata.items() if key != "managedFields"}
    return kept
