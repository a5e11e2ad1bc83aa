"""Reconnect backoff: exponential growth, the cap, full-jitter bounds and reset."""

from __future__ import annotations

import random

import pytest

from guardian.edge.camera.backoff import Backoff


class MaxRandom(random.Random):
    """Always picks the top of the range, so delays show the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_delays_double_per_failure_until_the_cap() -> None:
    backoff = Backoff(1.0, 30.0, rng=MaxRandom())
    assert [backoff.next_delay() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.attempts == 7


def test_jittered_delays_stay_within_zero_and_the_ceiling() -> None:
    backoff = Backoff(0.5, 10.0, rng=random.Random(3))
    delays = []
    for attempt in range(200):
        ceiling = min(10.0, 0.5 * 2**attempt)
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling
        delays.append(delay)
    # Full jitter: capped delays spread over the range instead of all being 10 s.
    capped = delays[10:]
    assert min(capped) < 2.0 and max(capped) > 8.0


def test_reset_starts_over_at_the_base() -> None:
    backoff = Backoff(2.0, 60.0, rng=MaxRandom())
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == 2.0


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(1.0, 5.0, rng=MaxRandom())
    for _ in range(5000):
        assert backoff.next_delay() <= 5.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 5.0), (10.0, 5.0)])
def test_rejects_nonsense_settings(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base, cap)
