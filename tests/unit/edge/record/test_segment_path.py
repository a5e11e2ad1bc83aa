"""Segment file layout: root/<camera>/<YYYY>/<MM>/<DD>/<HH>-<MM>-<SS>.<mmm>.mp4 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from guardian.edge.record.segments import part_path, segment_path


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def test_dated_layout_in_utc_with_milliseconds() -> None:
    start = utc(2024, 3, 9, 7, 5, 2) + 0.25
    assert segment_path(Path("/rec"), "front", start) == Path(
        "/rec/front/2024/03/09/07-05-02.250.mp4"
    )


def test_milliseconds_round_without_producing_second_1000() -> None:
    start = utc(2024, 12, 31, 23, 59, 59) + 0.9996
    assert segment_path(Path("/r"), "c", start) == Path("/r/c/2025/01/01/00-00-00.000.mp4")


def test_names_sort_in_time_order() -> None:
    starts = [utc(2024, 1, 1, 0, 0, 0) + i * 0.37 for i in range(50)]
    names = [segment_path(Path("/r"), "c", s).name for s in starts]
    assert names == sorted(names)
    assert len(set(names)) == len(names)


def test_part_path_is_beside_the_final_file() -> None:
    final = Path("/r/c/2024/01/01/00-00-00.000.mp4")
    assert part_path(final) == Path("/r/c/2024/01/01/00-00-00.000.mp4.part")
