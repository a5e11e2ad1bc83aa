"""Source label sets and their mapping onto Guardian's labels."""

from __future__ import annotations

from typing import Final, Literal

GuardianLabel = Literal["person", "vehicle", "bicycle", "animal", "other"]
GUARDIAN_LABELS: Final[tuple[GuardianLabel, ...]] = (
    "person",
    "vehicle",
    "bicycle",
    "animal",
    "other",
)

COCO80: Final[tuple[str, ...]] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip

_PERSON = {"person", "man", "woman", "boy", "girl", "human", "pedestrian"}
_VEHICLE = {
    "car", "van", "truck", "bus", "motorcycle", "motorbike", "vehicle", "land vehicle",
    "taxi", "ambulance", "limousine",
}  # fmt: skip
_BICYCLE = {"bicycle", "bike"}
_ANIMAL = {
    "animal", "bird", "cat", "dog", "horse", "sheep", "cow", "cattle", "elephant", "bear",
    "zebra", "giraffe", "deer", "fox", "raccoon", "squirrel", "rabbit", "goat", "pig",
}  # fmt: skip


def to_guardian_label(source_label: str) -> GuardianLabel:
    """Map a model's own class name onto one of Guardian's five labels."""
    name = source_label.strip().lower()
    if name in _PERSON:
        return "person"
    if name in _VEHICLE:
        return "vehicle"
    if name in _BICYCLE:
        return "bicycle"
    if name in _ANIMAL:
        return "animal"
    return "other"


def parse_label_file(text: str) -> list[str]:
    """One label per line; keeps blank-free lines in order (index = class id)."""
    return [line.strip() for line in text.splitlines() if line.strip()]
