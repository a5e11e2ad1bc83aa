"""Mapping model class names onto Guardian's labels."""

from __future__ import annotations

import pytest

from guardian.edge.detect.labels import COCO80, GUARDIAN_LABELS, parse_label_file, to_guardian_label


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("Person", "person"),
        ("person", "person"),
        ("Car", "vehicle"),
        ("Vehicle", "vehicle"),
        ("truck", "vehicle"),
        ("bus", "vehicle"),
        ("motorcycle", "vehicle"),
        ("van", "vehicle"),
        ("Bicycle", "bicycle"),
        ("Stationary bicycle", "other"),
        ("Dog", "animal"),
        ("Cattle", "animal"),
        ("horse", "animal"),
        ("Coffee cup", "other"),
        ("???", "other"),
    ],
)
def test_source_labels_map_as_documented(source: str, label: str) -> None:
    assert to_guardian_label(source) == label


def test_every_coco_class_maps_to_a_guardian_label() -> None:
    assert len(COCO80) == 80
    assert {to_guardian_label(c) for c in COCO80} == set(GUARDIAN_LABELS)


def test_label_file_keeps_order_and_skips_blank_lines() -> None:
    assert parse_label_file("???\nPerson\n\nCar\n") == ["???", "Person", "Car"]
