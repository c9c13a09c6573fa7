"""The operator's named locks on ``coordination.k8s.io/v1`` Leases: names, keys, labels, metrics.

    lock = LeaseLock(kube, "team-a", snapshot_lock_key("team-a/acme", "workflows", window), holder_identity())
    async with lock.held() as hold:    # takes it (or raises LeaseNotAcquired), renews it, releases it
        await capture(...)
        hold.ensure()                  # raises LeaseLost if someone took it over meanwhile

The algorithm is :mod:`jiradrift.kube.lease` (a pure state machine and its async driver); this
module adds what is ours: the Lease name of a key, the snapshot lock key, labels, the holder
identity, and the ``LOCK_RESULTS`` counters the metrics read. Snapshot locks and token-refresh
locks (:mod:`jiradrift.tokens.refresh_lock`) are both a :class:`LeaseLock`.

One Lease per key; its name is a DNS-safe slug plus a hash of the key (:func:`lease_name`), the
exact key is in the ``jiradrift.io/lock-key`` annotation. The rules are client-go's
(``tools/leaderelection``), so a Go controller reading the same Lease agrees with us:

- creation is atomic: of two creators, the second gets 409 AlreadyExists and has lost;
- a Lease held by someone else is taken over only after ``leaseDurationSeconds`` during which the
  record was *not seen to change*, measured on the local monotonic clock. Timestamps written by
  other machines are never compared with ours, so clock skew between pods does not matter;
- takeover, renewal and release are PUTs of the object as read, so its ``resourceVersion`` is the
  precondition: 409 Conflict means someone else wrote first and we have lost, never a blind retry;
- ``leaseTransitions`` goes up by one whenever the holder changes; a release writes an empty
  ``holderIdentity`` and ``leaseDurationSeconds: 1`` and only ever touches a Lease we still hold.
  Snapshot and token-refresh locks release by deleting the Lease instead (same precondition): their
  keys are used once or rarely, so the next holder creates it in one call and none piles up.

It is not fencing: a paused holder can overlap briefly with its successor, so the protected work
must be idempotent (the Snapshot handler records holder and transitions in its status).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from jiradrift.api.resources import GROUP, LABEL_TENANT, LABEL_TYPE
from jiradrift.kube.client import Kube
from jiradrift.kube.lease import (
    Lease,
    LeaseError,
    LeaseLost,
    LeaseNotAcquired,
    LeaseRecord,
    LockHold,
    format_microtime,
)
from jiradrift.kube.names import label_value

__all__ = [
    "ANNOTATION_LOCK_KEY",
    "DEFAULT_DURATION_SECONDS",
    "LABEL_MANAGED_BY",
    "LOCK_RESULTS",
    "MANAGED_BY",
    "LeaseError",
    "LeaseLock",
    "LeaseLost",
    "LeaseNotAcquired",
    "LeaseRecord",
    "LockHold",
    "format_microtime",
    "holder_identity",
    "label_value",
    "lease_name",
    "snapshot_lock_key",
    "snapshot_lock_labels",
]

ANNOTATION_LOCK_KEY = f"{GROUP}/lock-key"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "jira-drift-operator"
DEFAULT_DURATION_SECONDS = 90

#: Lock results in this process, by outcome: ``acquired`` (a lock taken, by create or takeover),
#: ``denied`` (someone else holds it, or won the race), ``lost`` (a renewal found it taken over),
#: ``released``, ``error`` (the API server could not be asked). The metrics layer reads it;
#: contention is ``denied / (acquired + denied)``. Renewals are not counted.
LOCK_RESULTS: Counter[str] = Counter()

_log = logging.getLogger(__name__)
_SLUG = re.compile(r"[^a-z0-9]+")


# --- names ------------------------------------------------------------------------------------


def lease_name(key: str, max_len: int = 63) -> str:
    """A valid Lease name for ``key``: a lowercase slug of it plus 12 hex of its sha256.

    The slug is for people reading ``kubectl get leases``; the hash makes the name unique, because
    slugging is lossy (``Acme Corp`` and ``acme-corp`` slug alike). 63 characters keeps it a single
    DNS label (so also a valid label value).
    """
    if max_len < 20:
        raise ValueError(f"lease_name max_len={max_len} is too short; use at least 20 (12 go to the hash)")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    slug = _SLUG.sub("-", key.lower()).strip("-")
    slug = slug[: max_len - len(digest) - 1].rstrip("-")
    return f"{slug}-{digest}" if slug else f"lock-{digest}"


def _window_iso(window_start: datetime) -> str:
    if window_start.tzinfo is None:
        raise ValueError(
            f"window start {window_start.isoformat()} has no timezone; pass an aware datetime in UTC "
            f"(e.g. datetime(..., tzinfo=UTC)) so every replica derives the same lock key"
        )
    return window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_lock_key(tenant: str, snapshot_type: str, window_start: datetime) -> str:
    """``snapshot_lock:{namespace/name}:{type}:{windowStart}``, the window in UTC to the second.

    >>> snapshot_lock_key("team-a/acme", "workflows", datetime(2026, 1, 2, 3, 0, tzinfo=UTC))
    'snapshot_lock:team-a/acme:workflows:2026-01-02T03:00:00Z'
    """
    return f"snapshot_lock:{tenant}:{snapshot_type}:{_window_iso(window_start)}"


def snapshot_lock_labels(tenant: str, snapshot_type: str) -> dict[str, str]:
    """The labels of a snapshot lock's Lease, for ``kubectl get leases -l jiradrift.io/tenant=...``."""
    return {LABEL_TENANT: label_value(tenant), LABEL_TYPE: label_value(snapshot_type)}


def holder_identity(pod_name: str | None = None) -> str:
    """``<pod name>_<random hex>``: unique per process even when a pod restarts under its old name.

    The pod name comes from the argument, else ``POD_NAME`` (set it with the downward API), else
    ``HOSTNAME``, else the host name.
    """
    pod = pod_name or os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{pod}_{secrets.token_hex(5)}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- the lock ---------------------------------------------------------------------------------


class LeaseLock(Lease):
    """The :class:`~jiradrift.kube.lease.Lease` named :func:`lease_name` of ``key`` in ``namespace``.

    Adds the lock-key annotation and managed-by label, counts results in :data:`LOCK_RESULTS` and
    logs them. Keep one object per key for as long as you contend for it: expiry is judged from
    how long *this object* has seen the Lease unchanged.
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        key: str,
        holder: str,
        *,
        duration_seconds: int = DEFAULT_DURATION_SECONDS,
        labels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] = _log,
    ) -> None:
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        super().__init__(
            kube,
            namespace,
            lease_name(key),
            holder,
            duration_seconds=duration_seconds,
            key=key,
            labels={LABEL_MANAGED_BY: MANAGED_BY, **(labels or {})},
            annotations={ANNOTATION_LOCK_KEY: key},
            clock=clock,
            wall_clock=wall_clock,
            logger=logger,
            **extra,
        )

    def _note(self, result: str) -> None:
        LOCK_RESULTS[result] += 1
        super()._note(result)
