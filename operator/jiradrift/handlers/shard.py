"""Sharded replicas: each replica holds a membership Lease, and tenants go to live replicas by hash.

    shard = Shard(kube, "jiradrift-system", ctx.holder, duration_seconds=15)
    await shard.round(tenant_keys)        # renew our Lease, read the others', re-assign
    shard.owns("team-a/acme")             # True on exactly one live replica (once they agree)
    await shard.leave()                   # on shutdown: delete our Lease, the others take over now

Every ``duration / 3`` seconds a replica renews its own Lease and lists the membership Leases (one
LIST); it owns nothing until its second round, so replicas that start together see each other
before any of them claims a tenant. A member whose record has not changed for its duration, as
seen on our clock, is dead; its Lease is deleted after :data:`FORGET_AFTER` durations. Tenants are assigned by
:func:`jiradrift.kube.sharding.assign` over the live members, so a dead replica's tenants move
within about two lease durations (one to notice, plus one round), and a replica that joins takes
about 1/N of them.

While replicas disagree (a member just joined or died, a tenant was just created), two may think
they own a tenant for a round: the snapshot Lease of each window stays the safety net, so a
window is still captured once. A replica that cannot renew its own Lease for a whole duration
owns nothing until it can: the others have taken its tenants by then.

Without a namespace (``--shard-namespace`` unset) sharding is off and this replica owns every
tenant, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection

from jiradrift.api.locks import LABEL_MANAGED_BY, MANAGED_BY, lease_name
from jiradrift.api.resources import GROUP
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.kube.lease import Lease, LeaseError, LeaseRecord, Observation, observe
from jiradrift.kube.sharding import DEFAULT_LOAD_FACTOR, assign, live_members, moves

log = logging.getLogger("jiradrift.shard")

LABEL_MEMBERSHIP = f"{GROUP}/membership"
MEMBERSHIP = "replica"
FORGET_AFTER = 5  # lease durations a dead member's Lease is kept (for people reading `kubectl get leases`)


class Shard:
    """This replica's view of the membership and of which tenants are its own."""

    def __init__(
        self,
        kube: Kube | None,
        namespace: str | None,
        identity: str,
        *,
        duration_seconds: int = 15,
        load_factor: float = DEFAULT_LOAD_FACTOR,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[set[str], set[str], int], None] | None = None,
    ) -> None:
        self.identity = identity
        self.namespace = namespace
        self.enabled = kube is not None and bool(namespace)
        self.duration_seconds = duration_seconds
        self.load_factor = load_factor
        self._kube = kube
        self._clock = clock
        self._on_change = on_change
        self._seen: dict[str, Observation] = {}
        self._owners: dict[str, str] = {}
        self._inputs: tuple[frozenset[str], frozenset[str]] | None = None
        self._created = False
        self._rounds = 0
        self.members: set[str] = set()
        self._lease: Lease | None = None
        if self.enabled:
            assert kube is not None and namespace is not None
            self._lease = Lease(
                kube,
                namespace,
                lease_name(f"replica:{identity}"),
                identity,
                duration_seconds=duration_seconds,
                labels={LABEL_MEMBERSHIP: MEMBERSHIP, LABEL_MANAGED_BY: MANAGED_BY},
                logger=log,
            )

    @property
    def period(self) -> float:
        return self.duration_seconds / 3

    # -- what the handlers ask --

    def owns(self, tenant: str) -> bool:
        """Whether this replica works on ``tenant`` (``namespace/name``) now."""
        if not self.enabled:
            return True
        return self._owners.get(tenant) == self.identity

    def owner_of(self, tenant: str) -> str | None:
        if not self.enabled:
            return self.identity
        return self._owners.get(tenant)

    def owned(self) -> set[str]:
        return {t for t, m in self._owners.items() if m == self.identity}

    # -- one round --

    async def round(self, tenants: Collection[str]) -> None:
        """Renew our membership, observe the others', and re-assign when members or tenants changed."""
        if not self.enabled:
            return
        alive = await self._renew()
        try:
            await self._observe()
        except KubeError as exc:
            log.warning("could not list the membership Leases in %s: %s", self.namespace, exc)
            return  # keep the last assignment: better than guessing
        others = live_members(
            {k: v for k, v in self._seen.items() if v.record.holder != self.identity}, now=self._clock()
        )
        members = (others | {self.identity}) if alive else set()
        self._rounds += 1
        if self._rounds < 2:
            # Our Lease is new: replicas starting with us may not have theirs yet. Owning nothing for
            # one period lets them appear, instead of every starter claiming every tenant at once.
            self.members = members
            return
        inputs = (frozenset(members), frozenset(tenants))
        if inputs == self._inputs:
            return
        owners = assign(members, inputs[1], load_factor=self.load_factor) if members else {}
        gained, lost = moves(self._owners, owners, self.identity)
        moved_in = sum(1 for t in gained if t in self._owners)  # from another replica, not newly seen
        if members != self.members:
            log.info(
                "replicas now %d: %s",
                len(members),
                ", ".join(sorted(members)),
                extra={"replica": self.identity},
            )
        self._owners, self._inputs, self.members = owners, inputs, members
        if gained or lost:
            log.info(
                "owns %d tenant(s): %d gained (%d from another replica), %d lost",
                len(self.owned()),
                len(gained),
                moved_in,
                len(lost),
                extra={"replica": self.identity},
            )
        if self._on_change is not None:
            self._on_change(gained, lost, moved_in)

    async def _renew(self) -> bool:
        assert self._lease is not None
        try:
            held = await self._lease.try_acquire(create_first=not self._created)
        except LeaseError as exc:
            log.warning("could not renew membership Lease: %s", exc)
            return self._lease.is_held()
        self._created = self._created or held
        return held

    async def _observe(self) -> None:
        assert self._kube is not None and self.namespace is not None
        path = resource_path("coordination.k8s.io", "v1", "leases", self.namespace)
        items = await self._kube.list_all(path, labelSelector=f"{LABEL_MEMBERSHIP}={MEMBERSHIP}")
        now = self._clock()
        seen: dict[str, Observation] = {}
        for item in items:
            meta = item.get("metadata") or {}
            name = str(meta.get("name") or "")
            record = LeaseRecord.from_spec(item.get("spec"))
            seen[name] = observe(self._seen.get(name), record, str(meta.get("resourceVersion") or ""), now)
        self._seen = seen
        for name, observation in seen.items():
            if observation.record.holder == self.identity:
                continue
            if now - observation.observed_time > FORGET_AFTER * max(1, observation.record.duration_seconds):
                await self._forget(name, observation)

    async def _forget(self, name: str, observation: Observation) -> None:
        """Delete a long-dead member's Lease, only as we saw it (resourceVersion precondition)."""
        assert self._kube is not None and self.namespace is not None
        path = resource_path("coordination.k8s.io", "v1", "leases", self.namespace, name)
        try:
            if not await self._kube.delete_unchanged(path, observation.resource_version):
                return
        except KubeError as exc:
            log.warning("could not delete the dead replica's Lease %s: %s", name, exc)
            return
        log.info("deleted the Lease of replica %s, dead since long", observation.record.holder)
        self._seen.pop(name, None)

    async def leave(self) -> None:
        """Delete our membership Lease so the others take our tenants at their next round."""
        if self._lease is None or not self._lease.is_held():
            return
        try:
            await self._lease.release(delete=True)
        except LeaseError as exc:
            log.warning("could not delete our membership Lease on the way out (it expires on its own): %s", exc)
        self._owners = {}
        self._inputs = None

    async def run(self, tenants: Callable[[], Collection[str]], stop: asyncio.Event) -> None:
        """A round every :attr:`period` seconds (the first after one period) until ``stop`` is set;
        errors are logged, never fatal."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.period)
            except TimeoutError:
                pass
            else:
                return
            try:
                await self.round(tenants())
            except Exception:
                log.exception("shard round failed; retrying in %.1fs", self.period)
