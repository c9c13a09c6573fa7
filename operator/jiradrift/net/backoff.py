"""The one retry-delay formula every client uses.

Capped exponential growth with multiplicative jitter::

    delay(attempt) = min(cap, base * 2**attempt) * uniform(low, high)

``attempt`` is 0-based: the delay before the first retry is ``base`` (jittered). The jitter is a
factor drawn uniformly from ``(low, high)``; the default, :data:`EQUAL_JITTER` ``(0.5, 1.0)``,
waits between half and all of the exponential step, so two callers that failed together retry
apart yet never sooner than half the step (AWS's "equal jitter"). A caller with a documented
reason passes another range: :data:`ATLASSIAN_JITTER` for Jira (Atlassian's rate-limit
guidance), :data:`CLIENT_GO_JITTER` for Lease polling (client-go's ``JitterUntil``), and
:data:`NO_JITTER` for schedules stored in status that tests and users read back exactly.

Pass ``rng`` (a seeded :class:`random.Random`) to make the jitter reproducible in tests; without
it the module's own generator is used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

Jitter = tuple[float, float]

EQUAL_JITTER: Jitter = (0.5, 1.0)
"""Half to all of the step: the default."""
ATLASSIAN_JITTER: Jitter = (0.7, 1.3)
"""Atlassian's guidance for Jira's rate limits: x0.7-1.3 around the step."""
CLIENT_GO_JITTER: Jitter = (1.0, 1.2)
"""client-go's ``JitterUntil`` with factor 0.2: never sooner than the period, up to 20 % later."""
NO_JITTER: Jitter = (1.0, 1.0)
"""Exactly the step: for schedules recorded in status (notification retries)."""

_RNG = random.Random()


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float | None = None,
    jitter: Jitter = EQUAL_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): ``min(cap, base * 2**attempt)``
    times a factor drawn uniformly from ``jitter``. ``cap=None`` means no cap."""
    step = base * 2.0 ** min(max(attempt, 0), 64)  # 2**64 already exceeds any cap; avoids overflow
    if cap is not None:
        step = min(step, cap)
    low, high = jitter
    if low == high:
        return float(step * low)
    return float(step * (rng or _RNG).uniform(low, high))


@dataclass(frozen=True)
class Backoff:
    """A backoff schedule as a value: ``base`` doubling up to ``cap``, jittered by ``jitter``."""

    base: float
    cap: float | None = None
    jitter: Jitter = EQUAL_JITTER

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds before retry number ``attempt`` (0-based); see :func:`backoff_delay`."""
        return backoff_delay(attempt, base=self.base, cap=self.cap, jitter=self.jitter, rng=rng)
