"""The one backoff formula: capped exponential growth, multiplicative jitter, seedable."""

from __future__ import annotations

import random

import pytest

from jiradrift.net.backoff import ATLASSIAN_JITTER, EQUAL_JITTER, NO_JITTER, Backoff, backoff_delay


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 5.0), (1, 10.0), (2, 20.0), (3, 30.0), (10, 30.0), (10_000, 30.0)],
)
def test_steps_double_from_base_up_to_the_cap(attempt: int, expected: float) -> None:
    assert backoff_delay(attempt, base=5.0, cap=30.0, jitter=NO_JITTER) == expected


def test_without_a_cap_the_step_keeps_doubling_and_never_overflows() -> None:
    assert backoff_delay(3, base=0.2, jitter=NO_JITTER) == pytest.approx(1.6)
    assert backoff_delay(5000, base=1.0, jitter=NO_JITTER) == 2.0**64


def test_equal_jitter_is_the_default_and_stays_within_half_to_all_of_the_step() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(2, base=1.0, cap=60.0, rng=rng) for _ in range(500)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 1.0  # it does spread callers apart
    assert EQUAL_JITTER == (0.5, 1.0)


def test_a_seeded_rng_makes_the_jitter_reproducible() -> None:
    first = [backoff_delay(a, base=5.0, cap=30.0, jitter=ATLASSIAN_JITTER, rng=random.Random(3)) for a in range(5)]
    again = [backoff_delay(a, base=5.0, cap=30.0, jitter=ATLASSIAN_JITTER, rng=random.Random(3)) for a in range(5)]
    assert first == again
    assert all(0.7 * s <= d <= 1.3 * s for d, s in zip(first, [5, 10, 20, 30, 30], strict=True))


def test_backoff_value_delegates_to_the_formula() -> None:
    policy = Backoff(base=10.0, cap=60.0, jitter=NO_JITTER)
    assert [policy.delay(a) for a in range(5)] == [10.0, 20.0, 40.0, 60.0, 60.0]


def test_a_negative_attempt_counts_as_the_first() -> None:
    assert backoff_delay(-1, base=3.0, jitter=NO_JITTER) == 3.0
