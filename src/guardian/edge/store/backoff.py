"""Retry delays for failed jobs: capped exponential backoff with full jitter (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass

# 2**60 times any sane base is far beyond any cap; stopping here keeps the float finite.
_MAX_EXPONENT = 60


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest delay after the ``attempt``-th failure: ``min(cap, base * 2**(attempt-1))``."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError(f"base and cap must be positive, got base={base} cap={cap}")
    return min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))


def full_jitter(attempt: int, base: float, cap: float, u: float) -> float:
    """Delay for ``u`` uniform in ``[0, 1)``: a point spread over ``[0, ceiling)``.

    Full jitter (rather than a fixed schedule) stops workers that failed together, e.g.
    on a database hiccup, from retrying in lock-step.
    """
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}")
    return ceiling(attempt, base, cap) * u


@dataclass(frozen=True, slots=True)
class Backoff:
    """A retry schedule: the base delay and its cap, in seconds."""

    base: float
    cap: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A jittered delay after the ``attempt``-th failure (uses ``rng`` if given)."""
        u = (rng or random).random()
        return full_jitter(attempt, self.base, self.cap, u)
