"""``guardian bench ingest``: HTTP capture ingest vs an fsync-bound baseline, and the
capture worker vs the detector's own throughput — each pair measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from guardian.bench.stats import Goal
from guardian.edge.capture.staging import capture_path, write_durably
from guardian.edge.config import EdgeSettings
from guardian.edge.context import build_context
from guardian.edge.launch import edge_process

INGEST_TARGET = 0.5
WORKER_TARGET = 0.9


def make_payloads(count: int = 8, size: tuple[int, int] = (1280, 720)) -> list[bytes]:
    """Camera-sized JPEGs (quality 85) cut from the installed sample photos."""
    from PIL import Image

    from guardian.bench.detect import bench_frames

    frames = bench_frames(count, *size)
    out: list[bytes] = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_parallel(concurrency: int, total: int, task: Callable[[int, int], None]) -> float:
    """Run ``task(client_index, count)`` on ``concurrency`` threads; seconds elapsed."""
    counts = _split(total, concurrency)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for fut in [pool.submit(task, i, n) for i, n in enumerate(counts)]:
            fut.result()
    return time.perf_counter() - start


def baseline_files_per_s(root: Path, payloads: list[bytes], total: int, concurrency: int) -> float:
    """The same files written with the same durability discipline, no HTTP, no database."""

    def task(client: int, count: int) -> None:
        device = f"bench-{client}"
        for i in range(count):
            now = dt.datetime.now(dt.UTC)
            path = capture_path(root, device, now, str(uuid.uuid4()), "jpg")
            write_durably(path, payloads[i % len(payloads)])

    return total / run_parallel(concurrency, total, task)


def http_ingest_per_s(
    url: str, keys: dict[str, str], payloads: list[bytes], total: int
) -> tuple[float, dict[int, int]]:
    """Uploads by the real device client, one thread per device; accepted/s and statuses."""
    from guardian.device.client import EdgeClient

    devices = list(keys)
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def task(client: int, count: int) -> None:
        device = devices[client]
        with EdgeClient(url, device, keys[device], timeout=60) as edge:
            for seq in range(count):
                status = edge.upload(payloads[seq % len(payloads)], seq).status_code or 0
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

    elapsed = run_parallel(len(devices), total, task)
    return statuses.get(201, 0) / elapsed, statuses


def detector_frames_per_s(detector: Any, payloads: list[bytes], frames: int) -> float:
    """The detector's own throughput: sequential ``detect()`` on already-decoded frames."""
    from PIL import Image

    decoded = [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for p in payloads]
    for f in decoded:
        detector.detect(f)
    start = time.perf_counter()
    for i in range(frames):
        detector.detect(decoded[i % len(decoded)])
    return frames / (time.perf_counter() - start)


def worker_captures_per_s(settings: EdgeSettings, workers: int, expected: int) -> float:
    """Drain the queued detection jobs with ``workers`` in-process capture workers."""
    from guardian.edge.capture.worker import CaptureWorker
    from guardian.edge.detect.loader import load_detector
    from guardian.edge.store.queue import depth

    ctx = build_context(settings)
    detector = load_detector(settings.detector)
    stop = threading.Event()
    threads = [CaptureWorker(ctx, detector, stop, f"bench:{i}") for i in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    try:
        while True:
            with ctx.sessions() as session:
                counts = depth(session)
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        ctx.engine.dispose()
    done = counts.get("done", 0)
    if done != expected:
        raise RuntimeError(f"workers finished {done} jobs, expected {expected}: {counts}")
    return done / elapsed


def run_ingest_bench(
    *,
    total: int,
    concurrency: int,
    workers: int,
    database_url: str | None,
    detector_frames: int,
) -> dict[str, Any]:
    """Both comparisons in one run; returns the JSON report with its two goals."""
    from guardian.edge.detect.loader import load_detector
    from guardian.edge.store.devices import add_device

    payloads = make_payloads()
    with tempfile.TemporaryDirectory(prefix="guardian-bench-") as tmp:
        root = Path(tmp)
        baseline = baseline_files_per_s(root / "baseline", payloads, total, concurrency)
        shutil.rmtree(root / "baseline")
        settings = EdgeSettings(data_dir=root / "edge", database_url=database_url)
        ctx = build_context(settings)
        keys: dict[str, str] = {}
        with ctx.sessions.begin() as session:
            for i in range(concurrency):
                keys[f"bench-{i}"] = add_device(session, ctx.sealer, f"bench-{i}")
        ctx.engine.dispose()
        env = {
            "GUARDIAN_EDGE_QUEUE__WORKERS": "0",
            "GUARDIAN_EDGE_CAPTURE__RATE_PER_SECOND": "1000000",
            "GUARDIAN_EDGE_CAPTURE__RATE_BURST": "1000000",
            "GUARDIAN_EDGE_CAPTURE__MIN_FREE_BYTES": "0",
            "GUARDIAN_EDGE_RETENTION__INTERVAL_SECONDS": "0",
            "GUARDIAN_LOG_LEVEL": "WARNING",
            "GUARDIAN_EDGE_LOG_LEVEL": "WARNING",
        }
        with edge_process(settings.data_dir, database_url=database_url, env=env) as url:
            ingest, statuses = http_ingest_per_s(url, keys, payloads, total)
        accepted = statuses.get(201, 0)
        detector_fps = detector_frames_per_s(
            load_detector(settings.detector), payloads, detector_frames
        )
        worker_cps = worker_captures_per_s(settings, workers, accepted)
    ingest_ratio = ingest / baseline
    worker_ratio = worker_cps / detector_fps
    goals: list[Goal] = [
        {"name": "ingest_baseline_ratio", "value": round(ingest_ratio, 4),
         "target": INGEST_TARGET, "better": "higher"},
        {"name": "worker_detector_ratio", "value": round(worker_ratio, 4),
         "target": WORKER_TARGET, "better": "higher"},
    ]  # fmt: skip
    return {
        "bench": "ingest",
        "db": "postgres" if database_url else "sqlite",
        "captures": total,
        "accepted": accepted,
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "concurrency": concurrency,
        "payload_bytes_mean": sum(map(len, payloads)) // len(payloads),
        "baseline_files_per_s": round(baseline, 2),
        "ingest_captures_per_s": round(ingest, 2),
        "ingest_baseline_ratio": round(ingest_ratio, 4),
        "workers": workers,
        "detector_frames_per_s": round(detector_fps, 2),
        "worker_captures_per_s": round(worker_cps, 2),
        "worker_detector_ratio": round(worker_ratio, 4),
        "goals": goals,
    }
