"""Small statistics for benchmark reports, and the shared goal record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict

import numpy as np


class Goal(TypedDict):
    """One target an issue names: every ``guardian bench`` reports a list of these."""

    name: str
    value: float
    target: float
    better: Literal["lower", "higher"]


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation."""
    if not samples:
        raise ValueError("no samples")
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


def summary(samples: Sequence[float]) -> dict[str, float]:
    """Median, p90, mean, min and max of timing samples (same unit as the input)."""
    arr = np.asarray(samples, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "p90": percentile(samples, 90),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }
