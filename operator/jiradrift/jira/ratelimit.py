"""Rate-limit decisions (pure) and the pacing primitives the client uses.

Atlassian's guidance: honour ``Retry-After`` (falling back to ``Beta-Retry-After``); otherwise back
off exponentially from 5 s, doubling, capped at 30 s, with x0.7-1.3 jitter, at most 4 retries. A
``RateLimit-Reason`` naming a quota means the whole tenant is out of budget until the reset: pause
every request of the tenant instead of hammering. 5xx are retried only when they carry Retry-After.

A site is untrusted: a wait longer than ``max_wait`` (``Retry-After: inf``, a huge number, a date
next year, a quota reset hours away) is not honoured -- the decision is to give up, so no request
waits forever. Unparseable values (``nan``, negative numbers) are ignored like a missing header.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from jiradrift.clock import Clock
from jiradrift.jira.limits import DEFAULT_LIMITS
from jiradrift.net.backoff import ATLASSIAN_JITTER, Jitter, backoff_delay


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    initial_delay: float = 5.0
    max_delay: float = 30.0
    jitter: Jitter = ATLASSIAN_JITTER

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (0-based): 5, 10, 20, 30, 30 ... seconds, jittered."""
        return backoff_delay(attempt, base=self.initial_delay, cap=self.max_delay, jitter=self.jitter, rng=rng)


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float = 0.0
    pause_tenant: bool = False  # a quota limit: every request of this tenant waits ``delay``
    reason: str = ""
    too_long: bool = False  # the site asked for a wait longer than max_wait: give up instead
    asked: str = ""  # what it asked for, for the error message


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP date), else ``Beta-Retry-After``; None if absent."""
    for name in ("Retry-After", "Beta-Retry-After"):
        raw = _header(headers, name)
        if raw is None or not raw.strip():
            continue
        raw = raw.strip()
        try:
            seconds = float(raw)
        except ValueError:
            pass
        else:
            if math.isnan(seconds) or seconds < 0:
                continue  # not a delay: ignore it, as if absent
            return seconds  # may be inf: the caller refuses waits beyond its cap
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, OverflowError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


def is_quota_limit(headers: Mapping[str, str]) -> bool:
    reason = _header(headers, "RateLimit-Reason") or ""
    return "quota" in reason.lower()


def seconds_until_reset(headers: Mapping[str, str], now: datetime) -> float:
    """For a quota limit without Retry-After: ``X-RateLimit-Reset`` if parseable, else the next UTC hour."""
    raw = _header(headers, "X-RateLimit-Reset")
    if raw:
        try:
            when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds())
        except ValueError:
            pass
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return (next_hour - now).total_seconds()


def decide(
    status: int,
    headers: Mapping[str, str],
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
    max_wait: float = DEFAULT_LIMITS.max_wait,
) -> Decision:
    """What to do after a response with ``status``, on retry ``attempt`` (0-based); a wait longer
    than ``max_wait`` seconds is a ``too_long`` refusal instead."""
    if status != 429 and status < 500:
        return Decision(retry=False)
    if attempt >= policy.max_retries:
        return Decision(retry=False, reason="retries exhausted")
    retry_after = retry_after_seconds(headers, now)
    if status == 429:
        if is_quota_limit(headers):
            wait = retry_after if retry_after is not None else seconds_until_reset(headers, now)
            return _capped(Decision(True, wait, pause_tenant=True, reason="quota"), headers, max_wait)
        if retry_after is not None:
            return _capped(Decision(True, retry_after, reason="retry-after"), headers, max_wait)
        return Decision(True, policy.backoff(attempt, rng), reason="backoff")
    if retry_after is not None:  # 5xx: retried only when Jira says when
        return _capped(Decision(True, retry_after, reason="5xx retry-after"), headers, max_wait)
    return Decision(retry=False, reason="5xx without Retry-After")


def _capped(decision: Decision, headers: Mapping[str, str], max_wait: float) -> Decision:
    if decision.delay <= max_wait:
        return decision
    sent = [
        f"{n}: {v.strip()[:60]}"
        for n in ("Retry-After", "Beta-Retry-After", "X-RateLimit-Reset")
        if (v := _header(headers, n))
    ]
    asked = "forever" if math.isinf(decision.delay) else f"{decision.delay:.0f} s"
    return Decision(
        retry=False,
        delay=decision.delay,
        reason=f"{decision.reason}: wait too long",
        too_long=True,
        asked=f"{asked} ({'; '.join(sent) or 'quota reset'})",
    )


class TokenBucket:
    """Requests-per-second cap: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._clock = clock
        self._updated = clock.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                await self._clock.sleep(wait)
                waited += wait
                self._refill()
            self._tokens -= 1.0
        return waited
