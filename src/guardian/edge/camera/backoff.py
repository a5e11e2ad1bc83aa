"""Capped exponential backoff with full jitter, for reconnecting to cameras (pure)."""

from __future__ import annotations

import random


class Backoff:
    """Delays before reconnect attempts: uniform in ``[0, min(cap, base * 2**attempts)]``.

    Full jitter spreads the reconnects of many cameras that failed together (a switch
    reboot) instead of having them retry in lockstep.
    """

    def __init__(
        self, base_s: float = 1.0, cap_s: float = 30.0, rng: random.Random | None = None
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}")
        self._base = base_s
        self._cap = cap_s
        self._rng = rng or random.Random()
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """Failures since the last ``reset``."""
        return self._attempts

    def ceiling(self) -> float:
        """The largest delay the next ``next_delay`` may return."""
        # min() before the power would overflow for huge attempt counts; cap the exponent.
        return min(self._cap, self._base * 2.0 ** min(self._attempts, 64))

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; counts one more failure."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self._attempts += 1
        return delay

    def reset(self) -> None:
        """Start over after a successful connection."""
        self._attempts = 0
