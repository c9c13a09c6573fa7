"""Operator settings (one typed object) and the shared context the handlers receive through kopf's memo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jiradrift.api.locks import LeaseLock
from jiradrift.handlers.keyed import KeyedWorkers
from jiradrift.handlers.shard import Shard
from jiradrift.handlers.slots import PrioritySlots
from jiradrift.handlers.state import QuietTimes, TenantState
from jiradrift.history.settings import HistorySettings
from jiradrift.jira.budget import ByteBudget, ItemBudget
from jiradrift.jira.limits import CAPTURE_SLOTS, ResponseLimits
from jiradrift.jira.users import UserDirectory
from jiradrift.kube.client import Kube
from jiradrift.model.store import SnapshotStore
from jiradrift.net.hosts import HostAllowlist
from jiradrift.notify import NotifySettings
from jiradrift.store.configmap import ConfigMapStore, SecretStore
from jiradrift.store.filesystem import FilesystemStore
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config


@dataclass
class OperatorSettings:
    """Everything the operator can be tuned with; ``jiradrift run`` fills it from flags."""

    namespaces: list[str] = field(default_factory=list)  # empty = all namespaces
    standalone: bool = True
    store: str = "secret"  # secret (Secrets a namespace `view` binding cannot read) | configmap | filesystem | s3
    store_path: Path = Path("/data")
    s3: S3Config | None = None  # with store="s3": bucket, endpoint, region, prefix (credentials from env)
    lease_duration_seconds: int = 90
    tenant_timer_seconds: float = 30.0  # how often each JiraTenant is reconciled
    recheck_seconds: float = 600.0  # how often a healthy tenant's site/credentials are re-checked
    error_recheck_seconds: float = 60.0  # ...and an unhealthy one's (no hot loop)
    token_window_seconds: float = 300.0  # refresh an OAuth token that expires within this window before capturing
    capture_timeout_seconds: float = 3600.0
    max_changes_in_status: int = 10
    # A site is untrusted: what one response, listing or wait may cost (see ResponseLimits), and an
    # overall deadline on the tenant's health check and on the audit-log attribution of drift.
    limits: ResponseLimits = field(default_factory=ResponseLimits)
    probe_timeout_seconds: float = 60.0
    audit_timeout_seconds: float = 60.0
    # where tenants' credentials may go: set by the cluster admin (--allowed-hosts), never by a tenant
    allowed_hosts: HostAllowlist = field(default_factory=HostAllowlist)
    # drift notifications: where they may go (--notification-hosts), how often and how hard to retry
    notify: NotifySettings = field(default_factory=NotifySettings)
    # the git history sink (spec.history): allowed hosts (--history-hosts), local mirrors, deadline
    history: HistorySettings = field(default_factory=HistorySettings)
    # cluster-wide cap on one tenant's stored snapshot bytes (chart: store.maxBytesPerTenant); None: no cap
    store_max_bytes: int | None = None
    # sharded replicas (handlers/shard.py): the namespace of the membership Leases (None: off, this
    # replica owns every tenant) and their duration
    shard_namespace: str | None = None
    shard_lease_seconds: int = 15
    # captures running at once in this process; the rest wait Pending (bounds memory and API bursts
    # when a thousand tenants' windows open together)
    max_concurrent_captures: int = int(CAPTURE_SLOTS.default)
    # the readiness endpoint (handlers/readiness.py), http://host:port/path; None: not served
    readiness_endpoint: str | None = None


@dataclass
class OperatorContext:
    """What every handler needs, passed in rather than global, so tests can build their own."""

    kube: Kube  # the one Kubernetes client of the handlers
    settings: OperatorSettings
    holder: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # per-tenant in-memory state keyed by uid: when the site was last checked, and the result
    tenants: dict[str, TenantState] = field(default_factory=dict)
    # one store per tenant, so its caches (newest manifests, body index) survive between captures
    stores: dict[tuple[str, str], SnapshotStore] = field(default_factory=dict)
    # Lease locks live across handler retries: expiry is judged from how long *this process* has
    # seen a Lease unchanged (client-go's observedTime), which a fresh lock object would forget.
    locks: dict[str, LeaseLock] = field(default_factory=dict)
    # Called with the name of each write after a Snapshot's capture, before it (FAULT_POINTS in
    # handlers/snapshot.py): a test injects a fault there to prove each later step idempotent.
    # None in production.
    before_step: Callable[[str], None] | None = None
    # the S3 client of --store s3 (one connection pool; each namespace's store is scoped under it)
    s3: S3Client | None = None
    # which tenants are this replica's (everything, unless sharding is on: see handlers/shard.py)
    shard: Shard | None = None
    # Snapshots being run by this process (uids): a timer never starts a second run of one
    running: set[str] = field(default_factory=set)
    # Snapshots (uids) not to run before a time (time.monotonic): after a temporary failure, the
    # retry's backoff; after a run that finished the Snapshot, a while in which events queued during
    # the capture (still showing it unfinished) are ignored rather than taking its Lease again
    quiet_until: QuietTimes = field(default_factory=QuietTimes)
    # JiraTenant "namespace/name" -> its body as the operator's watch last delivered it (None: not
    # seen); set by the registry, so a capture reads its tenant without a GET
    watched_tenant: Callable[[str], dict[str, Any] | None] = field(default=lambda _key: None)
    # who the audit log's account ids are (display names), per site, bounded and expiring: asked
    # from Jira once, not once per Snapshot or window
    users: UserDirectory = field(default_factory=UserDirectory)
    _capture_slots: PrioritySlots | None = None
    _history_pushes: KeyedWorkers[Any] | None = None
    _response_budget: ByteBudget | None = None
    _item_budget: ItemBudget | None = None

    @property
    def capture_slots(self) -> PrioritySlots:
        """At most ``settings.max_concurrent_captures`` captures at once, the oldest window first."""
        if self._capture_slots is None:
            self._capture_slots = PrioritySlots(self.settings.max_concurrent_captures)
        return self._capture_slots

    @property
    def history_pushes(self) -> KeyedWorkers[Any]:
        """The git pushes of spec.history (handlers/history.py), outside the capture slots: one per
        tenant at a time, in order, at most ``settings.history.max_concurrent_pushes`` at once."""
        if self._history_pushes is None:
            history = self.settings.history
            self._history_pushes = KeyedWorkers(
                "history push", limit=history.max_concurrent_pushes, max_keys=history.max_waiting_tenants
            )
        return self._history_pushes

    @property
    def response_budget(self) -> ByteBudget:
        """The one memory budget of every Jira response in flight in this process (every tenant's
        client takes from it): ``settings.limits.max_inflight_bytes``."""
        if self._response_budget is None:
            self._response_budget = ByteBudget(self.settings.limits.max_inflight_bytes)
        return self._response_budget

    @property
    def item_budget(self) -> ItemBudget:
        """The one budget of manifest items of every capture in this process: ``settings.limits.max_process_items``."""
        if self._item_budget is None:
            self._item_budget = ItemBudget(self.settings.limits.max_process_items)
        return self._item_budget

    def owns(self, namespace: str, tenant: str) -> bool:
        """Whether this replica works on JiraTenant ``namespace/tenant`` now."""
        return self.shard is None or self.shard.owns(f"{namespace}/{tenant}")

    def budget(self, tenant_max_bytes: int | None) -> int | None:
        """A tenant's byte budget: its own, within the cluster-wide cap."""
        caps = [b for b in (tenant_max_bytes, self.settings.store_max_bytes) if b is not None]
        return min(caps) if caps else None

    async def store_for(
        self,
        namespace: str,
        tenant: str,
        owner: dict[str, Any] | None = None,
        budget_bytes: int | None = None,
        parts_owner: dict[str, Any] | None = None,
    ) -> SnapshotStore:
        """The payload store of one tenant (``namespace/name``); with ``owner``, a store object for
        one capture of that Snapshot, enforcing ``budget_bytes`` (capped cluster-wide) while writing;
        the payload parts it writes are owned by ``parts_owner`` (the JiraTenant).

        Every backend keeps each namespace apart and serves this tenant only: reading another
        tenant's snapshot raises :class:`~jiradrift.model.store_errors.SnapshotOfAnotherTenant`."""
        budget = self.budget(budget_bytes)
        if self.settings.store == "filesystem":
            return FilesystemStore.for_namespace(
                self.settings.store_path, namespace, tenant=tenant, budget_bytes=budget
            )
        if self.settings.store == "s3" and self.settings.s3 is not None:
            if self.s3 is None:
                self.s3 = S3Client.connect(self.settings.s3)
            return S3Store.for_namespace(self.s3, namespace, tenant=tenant, budget_bytes=budget)
        kube = self.kube
        store = self.stores.get((namespace, tenant))
        if store is None:
            kind = SecretStore if self.settings.store == "secret" else ConfigMapStore
            store = self.stores[(namespace, tenant)] = kind(kube, namespace, tenant)
        assert isinstance(store, ConfigMapStore)
        if owner is None:
            return store
        return store.for_owner(owner, budget_bytes=budget, parts_owner=parts_owner)
