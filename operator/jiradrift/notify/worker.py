"""The notifier: a background task that delivers pending notifications, resumable after a restart.

A capture only marks a drifted Snapshot (``status.notifications`` Pending records and the label
``jiradrift.io/notify=pending``); this task, started with the operator and independent of every
kopf handler, lists the marked Snapshots every ``poll_seconds`` and moves their records through the
state machine of :mod:`jiradrift.notify.delivery`. A receiver that hangs or fails costs this task
time (bounded by :class:`SendLimits`), never a capture; a notification never changes a Snapshot's
phase. The label is removed once every record is settled, so the listing stays small.
SiteComparisons with records to deliver come from the operator's watch of them (no LIST per round).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx

from jiradrift.api.objects import InvalidObject, involved, read_object
from jiradrift.api.resources import (
    GROUP,
    LABEL_NOTIFY,
    VERSION,
    DeliveryState,
    JiraTenant,
    JiraTenantSpec,
    NotificationDelivery,
    SiteComparison,
    Snapshot,
)
from jiradrift.kube import events
from jiradrift.kube.client import Kube, KubeError, resource_path, retry_on_conflict
from jiradrift.net.hosts import HostAllowlist
from jiradrift.notify import delivery
from jiradrift.notify.comparison import ComparisonNotice, comparison_payload_for
from jiradrift.notify.delivery import DeliveryPolicy
from jiradrift.notify.destination import DEFAULT_NOTIFICATION_HOSTS, DestinationProblem, webhook_url
from jiradrift.notify.message import ID_HEADER, DriftNotice, payload_for
from jiradrift.notify.sender import SendLimits, SendResult, new_client, post_json
from jiradrift.redact import redact, redact_strings

log = logging.getLogger("jiradrift.notify")

ResultHook = Callable[[str, str, str, str], None]
"""Called with (namespace, tenant, destination, result) after each attempt: delivered, retrying, failed."""

WRITE_RETRIES = 5
FINAL_PHASES = ("Completed", "Incomplete", "Failed")
SNAPSHOTS, COMPARISONS = "snapshots", "sitecomparisons"
Notice = DriftNotice | ComparisonNotice
Announced = Snapshot | SiteComparison
"""An object whose changes are announced."""
MODELS: dict[str, type[Announced]] = {SNAPSHOTS: Snapshot, COMPARISONS: SiteComparison}


def _plural(obj: Announced) -> str:
    return COMPARISONS if isinstance(obj, SiteComparison) else SNAPSHOTS


def _tenant(obj: Announced) -> str:
    """The JiraTenant whose destinations are used: a Snapshot's, or a comparison's left tenant."""
    return obj.spec.left.name if isinstance(obj, SiteComparison) else obj.spec.tenant_ref.name


def _payload(kind: str, notice: Notice) -> dict[str, Any]:
    if isinstance(notice, ComparisonNotice):
        return comparison_payload_for(kind, notice)
    return payload_for(kind, notice)


@dataclass(frozen=True)
class NotifySettings:
    hosts: HostAllowlist = field(default_factory=lambda: HostAllowlist(DEFAULT_NOTIFICATION_HOSTS))
    poll_seconds: float = 10.0
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    limits: SendLimits = field(default_factory=SendLimits)
    concurrency: int = 4  # Snapshots handled at once
    stop_grace_seconds: float = 15.0  # on shutdown, how long deliveries in flight may take to finish


def records_of(obj: Announced) -> list[NotificationDelivery]:
    return list(obj.status.notifications or []) if obj.status else []


def _read_announced(plural: str, body: Mapping[str, Any]) -> Announced | None:
    """The object as its model; one whose spec the model refuses is left out, with a warning naming it."""
    try:
        return read_object(MODELS[plural], body)
    except InvalidObject as exc:
        log.warning("notifications of %s %s: %s", exc.kind, exc.key, exc.message)
        return None


def records_json(records: Sequence[NotificationDelivery]) -> list[dict[str, Any]]:
    """The records as status JSON, redacted (``lastError`` quotes a receiver)."""
    return cast(
        list[dict[str, Any]],
        redact_strings([r.model_dump(by_alias=True, mode="json", exclude_none=True) for r in records]),
    )


class Notifier:
    def __init__(
        self,
        kube: Kube,
        settings: NotifySettings,
        holder: str,
        namespaces: Sequence[str],
        clock: Callable[[], datetime],
        on_result: ResultHook = lambda *_: None,
        owns: Callable[[str, str], bool] = lambda namespace, tenant: True,
        comparisons: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.kube = kube
        # the SiteComparisons a watch keeps (the operator's); None: LIST them every round
        self.watched_comparisons = comparisons
        self.owns = owns  # sharded replicas: deliver only for this replica's tenants
        self.settings = settings
        self.holder = holder
        self.namespaces = list(namespaces)
        self.clock = clock
        self.on_result = on_result
        self._gate = asyncio.Semaphore(settings.concurrency)
        # one task per Snapshot being delivered, so a hanging receiver holds up only its own Snapshot
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Deliver until :meth:`stop`; an error in one round is logged and the next round runs."""
        async with new_client() as client:
            while not self._stopping.is_set():
                try:
                    await self.round(client)
                except KubeError as exc:  # the API server slow or away: a line, not a traceback
                    log.warning("notification round failed: %s; retrying in %g s", exc, self.settings.poll_seconds)
                except Exception:
                    log.exception("notification round failed; retrying in %g s", self.settings.poll_seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.poll_seconds)
            # Deliveries in flight may finish (each POST has its deadline), so a rolling update does
            # not leave claims behind to expire and be sent a second time.
            tasks = list(self._inflight.values())
            if tasks:
                log.info(
                    "notifier stopping: waiting up to %g s for %d delivery task(s) in flight",
                    self.settings.stop_grace_seconds,
                    len(tasks),
                )
                _, late = await asyncio.wait(tasks, timeout=self.settings.stop_grace_seconds)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    def stop(self) -> None:
        """Start no more deliveries; :meth:`run` returns once those in flight are done (or given up)."""
        self._stopping.set()

    async def round(self, client: httpx.AsyncClient) -> int:
        """Start delivering each marked Snapshot not already in flight; returns how many are marked."""
        found = await self._marked() + await self._comparisons()
        for obj in found:
            key = obj.metadata.uid
            if not self.owns(obj.metadata.namespace, _tenant(obj)):
                continue  # another replica's tenant (its claims would keep us out anyway)
            if key not in self._inflight:
                task = asyncio.create_task(self._guarded(client, obj), name=f"notify {_name(obj)}")
                self._inflight[key] = task
                task.add_done_callback(functools.partial(self._done, key))
        return len(found)

    def _done(self, key: str, _: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)

    async def _guarded(self, client: httpx.AsyncClient, obj: Announced) -> None:
        async with self._gate:
            if self._stopping.is_set():
                return
            try:
                await self.deliver(client, obj)
            except KubeError as exc:
                log.warning("notifications of %s: API error %s", _name(obj), exc.status)
            except Exception:
                log.exception("notifications of %s failed", _name(obj))

    async def _marked(self) -> list[Announced]:
        selector = f"{LABEL_NOTIFY}=pending"
        bodies: list[dict[str, Any]] = []
        if not self.namespaces:
            bodies = await self.kube.list_all(resource_path(GROUP, VERSION, "snapshots"), labelSelector=selector)
        for ns in self.namespaces:
            bodies.extend(
                await self.kube.list_all(resource_path(GROUP, VERSION, "snapshots", ns), labelSelector=selector)
            )
        return [obj for obj in (_read_announced(SNAPSHOTS, b) for b in bodies) if obj is not None]

    async def _comparisons(self) -> list[Announced]:
        """SiteComparisons with an InSync change to deliver: from the watch's copies when there is a
        watch (no request), else listed (no label to select them by)."""
        found: list[dict[str, Any]] = []
        if self.watched_comparisons is not None:
            found = self.watched_comparisons()
        else:
            scopes: list[str | None] = [*self.namespaces] or [None]
            for ns in scopes:
                found.extend(await self.kube.list_all(resource_path(GROUP, VERSION, COMPARISONS, ns)))
        read = (_read_announced(COMPARISONS, b) for b in found)
        return [obj for obj in read if obj is not None and not delivery.is_settled(records_of(obj))]

    async def deliver(self, client: httpx.AsyncClient, obj: Announced) -> None:
        """Attempt every due record of one Snapshot or SiteComparison: claim, send, record."""
        namespace, name, plural = obj.metadata.namespace, obj.metadata.name, _plural(obj)
        tenant_name = _tenant(obj)
        if isinstance(obj, Snapshot) and (obj.status is None or obj.status.phase not in FINAL_PHASES):
            return  # labelled just before the capture writes its result
        records = records_of(obj)
        if delivery.is_settled(records):
            if plural == SNAPSHOTS:
                await self._unmark(namespace, name)
            return
        if not any(delivery.is_due(r, self.clock(), r.digest, self.settings.policy) for r in records):
            return  # all waiting for their backoff or in flight: no reads
        tenant = await self._read(namespace, "jiratenants", tenant_name)
        spec = read_object(JiraTenant, tenant).spec if tenant else None
        site = spec.site if spec else ""
        notice: Notice = (
            ComparisonNotice.from_comparison(obj, site)
            if isinstance(obj, SiteComparison)
            else DriftNotice.from_snapshot(obj, site=site)
        )
        digest, now = notice.digest, self.clock()
        due = {r.destination for r in records if delivery.is_due(r, now, digest, self.settings.policy)}
        if not due:
            return
        claimed = [delivery.claim(r, now, self.holder, digest) if r.destination in due else r for r in records]
        if not await self._write(plural, namespace, name, obj.metadata.resource_version or "", claimed):
            return  # another replica claimed first, or the Snapshot changed: look again next round
        outcomes = await asyncio.gather(
            *(self._attempt(client, obj, tenant_name, spec, notice, r) for r in claimed if r.destination in due)
        )
        await self._record(plural, namespace, name, dict(outcomes))

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        announced: Announced,
        tenant: str,
        spec: JiraTenantSpec | None,
        notice: Notice,
        record: NotificationDelivery,
    ) -> tuple[str, NotificationDelivery]:
        policy, now = self.settings.policy, self.clock
        namespace = notice.namespace
        where = f"notification of {announced.kind} {_name(announced)} to {record.destination!r}"
        destination = next((d for d in spec.notifications if d.name == record.destination), None) if spec else None
        if destination is None:
            gone = (
                "no longer exists" if spec is None else f"no longer names {record.destination!r} in spec.notifications"
            )
            result = SendResult(False, False, error=f"JiraTenant {namespace}/{tenant} {gone}; not sent")
        else:
            try:
                url = await webhook_url(self.kube, namespace, tenant, destination, self.settings.hosts)
            except DestinationProblem as exc:
                # retryable: the fix (a Secret, an annotation, the allowlist) needs no change to the tenant
                result = SendResult(False, True, error=f"{exc.reason}: {exc.message}")
            else:
                result = await post_json(
                    client,
                    url,
                    _payload(record.type.value, notice),
                    headers={ID_HEADER: notice.digest},
                    limits=self.settings.limits,
                )
        if result.ok:
            outcome, verdict = delivery.delivered(record, now()), "delivered"
            log.info("%s delivered (attempt %d)", where, record.attempts)
        else:
            outcome = delivery.failed(record, now(), result.error, permanent=not result.retryable, policy=policy)
            verdict = "failed" if outcome.state is DeliveryState.FAILED else "retrying"
            log.warning("%s %s (attempt %d): %s", where, verdict, record.attempts, redact(result.error))
            if outcome.state is DeliveryState.FAILED:
                message = f"{where} failed for good after {record.attempts} attempt(s): {outcome.last_error}"
                await events.post(self.kube, involved(announced), "Warning", "NotificationFailed", message)
        self.on_result(namespace, tenant, record.destination, verdict)
        return record.destination, outcome

    async def _record(self, plural: str, namespace: str, name: str, outcomes: dict[str, NotificationDelivery]) -> None:
        """Write the outcomes over the records this operator still holds (re-read on a conflict)."""

        async def attempt() -> None:
            body = await self._read(namespace, plural, name)
            latest = read_object(MODELS[plural], body) if body is not None else None
            if latest is None:
                return
            merged = [
                outcomes[r.destination]
                if r.destination in outcomes and r.state is DeliveryState.SENDING and r.holder == self.holder
                else r
                for r in records_of(latest)
            ]
            patch = {
                "metadata": {"resourceVersion": latest.metadata.resource_version},
                "status": {"notifications": records_json(merged)},
            }
            try:
                await self.kube.merge_patch(resource_path(GROUP, VERSION, plural, namespace, name) + "/status", patch)
            except KubeError as exc:
                if exc.not_found:
                    return
                raise  # a 409: retry_on_conflict reads again
            if delivery.is_settled(merged) and plural == SNAPSHOTS:
                await self._unmark(namespace, name)

        try:
            await retry_on_conflict(attempt, attempts=WRITE_RETRIES)
        except KubeError as exc:
            if not exc.conflict:
                raise
            log.warning(
                "notifications of %s/%s: could not record the outcome after %d conflicts",
                namespace,
                name,
                WRITE_RETRIES,
            )

    async def _write(
        self, plural: str, namespace: str, name: str, resource_version: str, records: list[NotificationDelivery]
    ) -> bool:
        """Replace ``status.notifications`` if the object is still at ``resource_version``."""
        patch = {"metadata": {"resourceVersion": resource_version}, "status": {"notifications": records_json(records)}}
        try:
            await self.kube.merge_patch(resource_path(GROUP, VERSION, plural, namespace, name) + "/status", patch)
        except KubeError as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    async def _unmark(self, namespace: str, name: str) -> None:
        try:
            await self.kube.merge_patch(
                resource_path(GROUP, VERSION, "snapshots", namespace, name),
                {"metadata": {"labels": {LABEL_NOTIFY: None}}},
            )
        except KubeError as exc:
            if not exc.not_found:
                raise

    async def _read(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        return await self.kube.get_or_none(resource_path(GROUP, VERSION, plural, namespace, name))


def _name(obj: Announced) -> str:
    return obj.metadata.key
