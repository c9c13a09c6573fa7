"""The tenant's token refresh Lease: a :class:`~jiradrift.api.locks.LeaseLock` on ``token_refresh:{ns}/{name}``.

    lease = refresh_lease(kube, "team-a", "acme", holder_identity(), duration_seconds=60)
    if await lease.acquire(timeout=30, create_first=True):
        async with lease.held():  # renews while the refresh runs, releases afterwards
            ...

The algorithm is the one of every lock (:mod:`jiradrift.kube.lease`): client-go's leader election,
so the operator, the CronJob, another refresher or a Go controller agree. ``acquire`` gives up after
its timeout only while the holder is seen renewing; a Lease left by a dead holder (killed
mid-refresh by a Job deadline, OOM or a node drain) is waited out and taken over within one lease
duration.
"""

from __future__ import annotations

from jiradrift.api.locks import LeaseLock
from jiradrift.api.resources import LABEL_TENANT
from jiradrift.kube.client import Kube
from jiradrift.kube.names import label_value


def lease_key(namespace: str, name: str) -> str:
    return f"token_refresh:{namespace}/{name}"


def refresh_lease(kube: Kube, namespace: str, name: str, holder: str, *, duration_seconds: int) -> LeaseLock:
    """The refresh Lease of JiraTenant ``namespace/name``, for ``holder``."""
    return LeaseLock(
        kube,
        namespace,
        lease_key(namespace, name),
        holder,
        duration_seconds=duration_seconds,
        labels={LABEL_TENANT: label_value(f"{namespace}/{name}")},
    )
