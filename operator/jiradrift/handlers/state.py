"""What the operator remembers about one JiraTenant between reconciliations (in memory only).

A restart forgets it all, by design: the next reconciliation re-checks the site (unless the
status shows this generation checked and healthy: then it is due within the recheck interval),
re-creates the window's Snapshots idempotently (409) and posts each transition Event at most once
more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from jiradrift.api.conditions import Problem
from jiradrift.api.windows import EPOCH
from jiradrift.handlers.acceptance import AcceptanceState
from jiradrift.handlers.schedule import Scheduled

# (status, reason) of a condition, as last posted in an Event
Posted = tuple[str, str | None]


@dataclass
class TenantState:
    generation: int = -1  # the spec generation the last check was for
    secret_version: str = ""  # the Secret's resourceVersion the last check read
    checked_at: datetime = EPOCH
    problems: list[Problem] = field(default_factory=list)
    site: dict[str, str] = field(default_factory=dict)  # serverInfo of the last good check
    posted: dict[str, Posted] = field(default_factory=dict)  # condition type -> last posted transition
    scheduled: Scheduled | None = None  # (window, types) whose Snapshots exist (handlers/schedule.py)
    checked: datetime | None = None  # the last incremental window this process ran (handlers/incremental.py)
    pruned_at: datetime = EPOCH
    accepted_at: datetime = EPOCH  # when the accepted baselines were last compared
    acceptance: AcceptanceState = field(default_factory=AcceptanceState)

    def check_due(
        self,
        *,
        generation: int,
        secret_version: str,
        now: datetime,
        recheck_seconds: float,
        error_recheck_seconds: float,
    ) -> bool:
        """Whether the site and credentials need checking again: the spec or the Secret changed, or
        the last check is older than ``recheck_seconds`` (``error_recheck_seconds`` when it failed)."""
        if self.generation != generation or self.secret_version != secret_version:
            return True
        every = error_recheck_seconds if self.problems else recheck_seconds
        return (now - self.checked_at).total_seconds() >= every

    def record_check(
        self, *, generation: int, secret_version: str, now: datetime, problems: list[Problem], site: dict[str, str]
    ) -> None:
        self.generation, self.secret_version, self.checked_at = generation, secret_version, now
        self.problems, self.site = problems, site

    def acceptance_due(self, now: datetime, every_seconds: float) -> bool:
        """True at most once every ``every_seconds`` (and then marks now as the last comparison)."""
        if (now - self.accepted_at).total_seconds() < every_seconds:
            return False
        self.accepted_at = now
        return True

    def snapshot_ended(self) -> None:
        """One of the tenant's Snapshots reached a final phase: compare the accepted baselines at the
        next reconcile, whenever the last comparison was."""
        self.accepted_at = EPOCH

    def prune_due(self, now: datetime, every_seconds: float) -> bool:
        """True at most once every ``every_seconds`` (and then marks now as the last prune)."""
        if (now - self.pruned_at).total_seconds() < every_seconds:
            return False
        self.pruned_at = now
        return True


class QuietTimes(dict[str, float]):
    """Snapshot uid -> the time (``time.monotonic``) before which its events are not acted on.

    Expired entries are swept when the dict has doubled since the last sweep (and is past
    ``floor``), so each entry costs O(1) amortised. Sweeping whenever it held more than ``floor``
    made every event of a flood cost a pass over all of it: 20,000 Snapshots failing at once
    (naming a tenant that does not exist) took 32 s of the event loop.
    """

    def __init__(self, floor: int = 4096) -> None:
        super().__init__()
        self.floor = floor
        self.sweeps = 0
        self._sweep_at = floor

    def remember(self, uid: str, until: float, now: float) -> None:
        self[uid] = until
        if len(self) > self._sweep_at:
            for key in [key for key, at in self.items() if at <= now]:
                del self[key]
            self.sweeps += 1
            self._sweep_at = max(self.floor, 2 * len(self))
