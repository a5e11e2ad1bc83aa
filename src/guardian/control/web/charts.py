"""Small inline SVG bar charts: day series and bar geometry (pure; the template draws them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WIDTH, HEIGHT = 320, 120
LABEL_SPACE = 18  # below the bars, for the day labels
GAP = 0.25  # share of each slot left empty between bars


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its slot's label, value and geometry in the chart's viewBox."""

    label: str
    day: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - LABEL_SPACE

    @property
    def peak(self) -> int:
        return max((b.value for b in self.bars), default=0)

    @property
    def total(self) -> int:
        return sum(b.value for b in self.bars)


def daily_series(counts: Mapping[str, int], last_day: dt.date, days: int) -> list[tuple[str, int]]:
    """``days`` consecutive days ending with ``last_day`` (ISO text) and their counts (0 when
    absent)."""
    first = last_day - dt.timedelta(days=days - 1)
    series = []
    for offset in range(days):
        day = (first + dt.timedelta(days=offset)).isoformat()
        series.append((day, int(counts.get(day, 0))))
    return series


def bar_chart(series: Iterable[tuple[str, int]]) -> BarChart:
    """Bars scaled so the largest value fills the plot height (all zero: flat bars)."""
    points = list(series)
    if not points:
        return BarChart([])
    plot = HEIGHT - LABEL_SPACE - 4
    peak = max(value for _, value in points) or 1
    slot = WIDTH / len(points)
    bars = []
    for index, (day, value) in enumerate(points):
        height = max(1.0, plot * value / peak) if value else 1.0
        label = dt.date.fromisoformat(day).strftime("%a") if len(points) <= 7 else day[8:10]
        bars.append(
            Bar(
                label=label,
                day=day,
                value=value,
                x=round(index * slot + slot * GAP / 2, 2),
                y=round(HEIGHT - LABEL_SPACE - height, 2),
                width=round(slot * (1 - GAP), 2),
                height=round(height, 2),
            )
        )
    return BarChart(bars)
