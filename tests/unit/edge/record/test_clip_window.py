"""Which packets a clip of [start, end) takes: keyframe start, B-frame-aware end."""

from __future__ import annotations

from dataclasses import dataclass

from guardian.edge.record.clips import HOLDBACK, clip_window


@dataclass(frozen=True)
class P:
    ts: float
    keyframe: bool = False


def stream(n: int, gop: int, fps: float = 10.0, t0: float = 100.0) -> list[P]:
    return [P(t0 + i / fps, i % gop == 0) for i in range(n)]


def ts(packets: list[P]) -> list[float]:
    return [round(p.ts, 3) for p in packets]


def test_starts_at_the_last_keyframe_at_or_before_start() -> None:
    packets = stream(50, gop=10)  # keyframes at 100, 101, 102, ...
    got = list(clip_window(packets, 101.55, 102.25))
    assert got[0] == P(101.0, True)
    assert ts(got) == [round(101.0 + i / 10, 3) for i in range(13)]  # 101.0 .. 102.2


def test_a_keyframe_exactly_at_start_is_used() -> None:
    got = list(clip_window(stream(50, gop=10), 102.0, 102.5))
    assert ts(got) == [102.0, 102.1, 102.2, 102.3, 102.4]


def test_without_an_earlier_keyframe_starts_at_the_first_one_after() -> None:
    packets = [P(100.0), P(100.1), P(100.2, True), P(100.3), P(100.4)]
    assert ts(list(clip_window(packets, 99.0, 100.35))) == [100.2, 100.3]


def test_a_gap_in_the_packets_stays_in_the_clip() -> None:
    gap = [P(100.0, True), P(100.1), P(105.0, True), P(105.1), P(106.2)]
    assert ts(list(clip_window(gap, 100.05, 106.0))) == [100.0, 100.1, 105.0, 105.1]


def test_nothing_when_the_first_keyframe_is_past_the_end() -> None:
    packets = [P(100.0), P(100.5), P(103.0, True), P(103.1)]
    assert list(clip_window(packets, 100.2, 102.0)) == []
    assert list(clip_window([P(100.0), P(100.1)], 99.0, 101.0)) == []


def test_b_frames_before_the_end_pull_in_the_reference_after_it() -> None:
    # decode order I P B B with pts 0, 0.3, 0.1, 0.2: P is past the end, its B-frames are not
    packets = [P(100.0, True), P(100.3), P(100.1), P(100.2), P(100.6), P(100.4), P(100.5)]
    assert ts(list(clip_window(packets, 100.0, 100.25))) == [100.0, 100.3, 100.1, 100.2]


def test_stops_at_a_keyframe_past_the_end_and_drops_trailing_late_packets() -> None:
    packets = [*stream(20, gop=10), P(102.5), P(102.6)]
    got = list(clip_window(packets, 100.0, 100.95))
    assert ts(got)[-1] == 100.9 and len(got) == 10


def test_holdback_is_bounded() -> None:
    late = [P(200.0 + i) for i in range(HOLDBACK + 5)]
    packets = [P(100.0, True), *late, P(100.5)]
    assert ts(list(clip_window(packets, 100.0, 150.0))) == [100.0]
