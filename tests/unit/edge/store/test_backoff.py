"""Retry delays: exponential growth, the cap, full jitter bounds, and bad input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.edge.store.backoff import Backoff, ceiling, full_jitter

bases = st.floats(min_value=0.001, max_value=100.0)
caps = st.floats(min_value=0.001, max_value=10_000.0)
attempts = st.integers(min_value=1, max_value=10_000)
units = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def test_ceiling_doubles_per_attempt_until_the_cap() -> None:
    assert [ceiling(n, 2.0, 300.0) for n in range(1, 10)] == [
        2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0,
    ]  # fmt: skip


def test_huge_attempt_counts_stay_finite_and_capped() -> None:
    assert ceiling(10**9, 2.0, 300.0) == 300.0


@given(attempts, bases, caps, units)
def test_full_jitter_stays_within_zero_and_the_ceiling(
    attempt: int, base: float, cap: float, u: float
) -> None:
    delay = full_jitter(attempt, base, cap, u)
    assert 0.0 <= delay <= ceiling(attempt, base, cap) <= cap


@given(st.integers(min_value=1, max_value=200), bases, caps)
def test_ceiling_never_shrinks_with_more_attempts(attempt: int, base: float, cap: float) -> None:
    assert ceiling(attempt + 1, base, cap) >= ceiling(attempt, base, cap)


def test_jitter_spreads_delays_over_the_whole_range() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    rng = random.Random(7)
    delays = [backoff.delay(4, rng) for _ in range(2000)]
    assert max(delays) <= 8.0
    # Full jitter: both halves of [0, 8) are used, not one fixed value.
    assert min(delays) < 1.0 and max(delays) > 7.0
    assert len(set(delays)) > 1900


def test_seeded_rng_makes_delays_reproducible() -> None:
    backoff = Backoff(base=2.0, cap=300.0)
    first = [backoff.delay(n, random.Random(1)) for n in range(1, 6)]
    again = [backoff.delay(n, random.Random(1)) for n in range(1, 6)]
    assert first == again


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "u"),
    [(0, 1.0, 1.0, 0.5), (1, 0.0, 1.0, 0.5), (1, 1.0, -1.0, 0.5), (1, 1.0, 1.0, 1.0)],
)
def test_bad_input_is_refused(attempt: int, base: float, cap: float, u: float) -> None:
    with pytest.raises(ValueError):
        full_jitter(attempt, base, cap, u)
