"""The delivery state machine of one Snapshot's notifications: pure decisions, no I/O.

Each destination's record (``status.notifications[]``, a :class:`NotificationDelivery`) moves

    Pending --claim--> Sending --sent--> Delivered
       ^                  |
       +----retryable-----+--permanent or out of attempts--> Failed

The record lives in the Snapshot's status, written with the object's resourceVersion as a
precondition, so it survives restarts and two replicas never both claim it. Deduplication: a record
that is Delivered for the notice's content digest is never due again. The one window left is a crash
after the receiver accepted a message and before Delivered was written: the claim expires after
:attr:`DeliveryPolicy.claim_seconds` and the message is sent again with the same ``id`` (at least
once, never silently lost; the generic payload's ``id`` lets a receiver drop the repeat).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jiradrift.api.resources import DeliveryState, NotificationDelivery, NotificationDestination
from jiradrift.net.backoff import NO_JITTER, backoff_delay
from jiradrift.notify.message import severity_at_least

MAX_ERROR_CHARS = 1024


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry with exponential backoff: ``base * 2**(attempts-1)``, at most ``cap`` seconds apart.

    Without jitter: the next attempt's time is recorded in status, and the claim already keeps
    two replicas from sending together."""

    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 600.0
    max_attempts: int = 8
    claim_seconds: float = 120.0  # a Sending claim older than this belongs to a dead operator

    def backoff(self, attempts: int) -> float:
        """Delay after the ``attempts``-th failed attempt (1-based)."""
        return backoff_delay(
            attempts - 1, base=self.backoff_base_seconds, cap=self.backoff_cap_seconds, jitter=NO_JITTER
        )


def pending_deliveries(
    destinations: Sequence[NotificationDestination], highest_severity: str | None
) -> list[NotificationDelivery]:
    """The records a drifted Snapshot starts with: one Pending per destination whose
    ``minSeverity`` the drift reaches (none when nothing drifted)."""
    if highest_severity is None:
        return []
    return [
        NotificationDelivery(destination=d.name, type=d.type)
        for d in destinations
        if severity_at_least(highest_severity, d.min_severity.value)
    ]


def is_due(record: NotificationDelivery, now: datetime, digest: str, policy: DeliveryPolicy) -> bool:
    """Whether ``record`` should be attempted now for content ``digest``."""
    if record.state is DeliveryState.DELIVERED:
        return record.digest != digest  # the content changed: that is a new message
    if record.state is DeliveryState.FAILED:
        return False
    if record.state is DeliveryState.SENDING:
        started = record.last_attempt_time
        return started is None or now >= started + timedelta(seconds=policy.claim_seconds)
    return record.next_attempt_time is None or now >= record.next_attempt_time


def is_settled(records: Iterable[NotificationDelivery]) -> bool:
    """True when no record will ever be attempted again (all Delivered or Failed)."""
    return all(r.state in (DeliveryState.DELIVERED, DeliveryState.FAILED) for r in records)


def claim(record: NotificationDelivery, now: datetime, holder: str, digest: str) -> NotificationDelivery:
    return record.model_copy(
        update={
            "state": DeliveryState.SENDING,
            "digest": digest,
            "attempts": record.attempts + 1,
            "last_attempt_time": now,
            "next_attempt_time": None,
            "holder": holder[:253],
        }
    )


def delivered(record: NotificationDelivery, now: datetime) -> NotificationDelivery:
    return record.model_copy(
        update={"state": DeliveryState.DELIVERED, "delivered_at": now, "last_error": None, "holder": None}
    )


def failed(
    record: NotificationDelivery, now: datetime, error: str, *, permanent: bool, policy: DeliveryPolicy
) -> NotificationDelivery:
    """After a failed attempt: Failed when ``permanent`` or out of attempts, else Pending with a backoff."""
    give_up = permanent or record.attempts >= policy.max_attempts
    if give_up and not permanent:
        error = f"{error} (gave up after {record.attempts} attempts)"
    return record.model_copy(
        update={
            "state": DeliveryState.FAILED if give_up else DeliveryState.PENDING,
            "last_error": error[:MAX_ERROR_CHARS],
            "next_attempt_time": None if give_up else now + timedelta(seconds=policy.backoff(record.attempts)),
            "holder": None,
        }
    )
