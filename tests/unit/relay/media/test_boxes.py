"""Boxes for the snapshot overlay from cached camera and capture events."""

from __future__ import annotations

from guardian.relay.media.boxes import snapshot_boxes


def test_camera_event_gives_its_best_box() -> None:
    payload = {
        "best_score": 0.81,
        "details": {"label": "person", "best_box": [10, 20.5, 110, 220]},
    }
    assert snapshot_boxes(payload) == [
        {"box": [10.0, 20.5, 110.0, 220.0], "label": "person", "score": 0.81, "capture_id": None}
    ]


def test_capture_event_gives_every_box_with_its_capture() -> None:
    payload = {
        "details": {
            "boxes": {
                "c1": [{"score": 0.9, "box": [1, 2, 3, 4]}, {"score": 0.7, "box": [5, 6, 7, 8]}],
                "c2": [{"score": 0.6, "box": "junk"}],
            }
        }
    }
    got = snapshot_boxes(payload)
    assert [(b["capture_id"], b["box"], b["score"]) for b in got] == [
        ("c1", [1.0, 2.0, 3.0, 4.0], 0.9),
        ("c1", [5.0, 6.0, 7.0, 8.0], 0.7),
    ]


def test_events_without_boxes_give_none() -> None:
    assert snapshot_boxes({}) == []
    assert snapshot_boxes({"details": {"best_box": [1, 2, 3]}}) == []
    assert snapshot_boxes({"details": "x"}) == []
