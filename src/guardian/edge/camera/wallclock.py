"""Packet timestamps to wall-clock time (pure): anchoring, drift re-anchoring, file loops."""

from __future__ import annotations

DRIFT_S = 5.0  # re-anchor a live stream's clock when its pts drift this far from the wall


class WallClock:
    """Maps packet pts (in seconds) to wall-clock Unix seconds (pure).

    The first pts is anchored at ``now``; later ones keep their pts spacing. A live
    stream is re-anchored when that drifts more than ``drift_s`` from ``now`` (camera
    restart, pts wrap). ``restart`` makes the next pts continue right after the latest
    packet end (a file looping back to its start).
    """

    def __init__(self, *, live: bool, drift_s: float = DRIFT_S) -> None:
        self._live = live
        self._drift = drift_s
        self._offset: float | None = None  # ts = pts + offset
        self._last_end: float | None = None  # previous packet's ts + duration
        self._max_end: float | None = None  # latest packet end seen (decode order differs)

    def map(self, pts_s: float | None, duration_s: float, now: float) -> float:
        """The wall-clock time of a packet with this pts (``None``: right after the last)."""
        if pts_s is None:
            ts = now if self._last_end is None else self._last_end
        else:
            if self._offset is None:
                self._offset = (now if self._max_end is None else self._max_end) - pts_s
            ts = pts_s + self._offset
            if self._live and abs(ts - now) > self._drift:
                self._offset = now - pts_s
                ts = now
        self._last_end = ts + duration_s
        if self._max_end is None or self._last_end > self._max_end:
            self._max_end = self._last_end
        return ts

    def restart(self) -> None:
        """The pts start over; continue the wall clock after the latest packet."""
        self._offset = None
