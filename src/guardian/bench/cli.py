"""``guardian bench``: benchmarks that print one JSON object with their goals."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from guardian.edge.config import EdgeSettings
from guardian.edge.detect.errors import DetectError
from guardian.edge.detect.loader import load_detector

bench_app = typer.Typer(help="Run benchmarks (see bench/RESULTS.md).", no_args_is_help=True)


@bench_app.command("detect")
def bench_detect(
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames to time.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Model name.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="Runtime type.")] = None,
    size: Annotated[str, typer.Option("--size", help="Frame size WxH.")] = "1280x720",
) -> None:
    """Median/p90 of raw runtime inference vs the full detect() on the same frames."""
    from guardian.bench.detect import bench_frames, run_detect_bench

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError as exc:
        raise typer.BadParameter(f"--size must look like 1280x720, got {size!r}") from exc
    try:
        detector = load_detector(EdgeSettings().detector, model, runtime)
    except DetectError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(2) from exc
    report = run_detect_bench(detector, bench_frames(frames, width, height))
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    goal = report["goals"][0]
    sys.stdout.write(
        f"{report['model']} on {report['runtime']}/{report['device']}, {frames} frames "
        f"{size}: raw infer median {report['raw_infer_ms_median']:.2f} ms "
        f"(p90 {report['raw_infer_ms_p90']:.2f}), pipeline median "
        f"{report['pipeline_ms_median']:.2f} ms (p90 {report['pipeline_ms_p90']:.2f}); "
        f"pipeline/raw {goal['value']:.3f} (target <= {goal['target']})\n"
    )


@bench_app.command("ingest")
def bench_ingest(
    db: Annotated[str, typer.Option("--db", help="sqlite | postgres")] = "sqlite",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    captures: Annotated[int, typer.Option("--captures", min=1, help="Uploads to time.")] = 400,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Concurrent clients (one per device).")
    ] = 8,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Capture workers.")] = 2,
    pg_url: Annotated[
        str, typer.Option("--pg-url", help="PostgreSQL server for --db postgres.")
    ] = "postgresql://postgres@127.0.0.1:5432/test",
    detector_frames: Annotated[
        int, typer.Option("--detector-frames", min=1, help="Frames for the detector baseline.")
    ] = 200,
) -> None:
    """HTTP ingest vs the fsync-bound baseline; capture workers vs the detector alone."""
    from guardian.bench.ingest import run_ingest_bench
    from guardian.bench.pg import temporary_database

    if db not in ("sqlite", "postgres"):
        raise typer.BadParameter("--db must be sqlite or postgres")

    def run(url: str | None) -> dict[str, object]:
        return run_ingest_bench(
            total=captures,
            concurrency=concurrency,
            workers=workers,
            database_url=url,
            detector_frames=detector_frames,
        )

    if db == "postgres":
        with temporary_database(pg_url) as url:
            report = run(url)
    else:
        report = run(None)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    sys.stdout.write(
        f"ingest {report['ingest_captures_per_s']}/s vs baseline "
        f"{report['baseline_files_per_s']}/s (ratio {report['ingest_baseline_ratio']}, goal "
        f">= 0.5); workers {report['worker_captures_per_s']}/s vs detector "
        f"{report['detector_frames_per_s']}/s (ratio {report['worker_detector_ratio']}, "
        "goal >= 0.9)\n"
    )


@bench_app.command("camera")
def bench_camera(
    cameras: Annotated[
        int, typer.Option("--cameras", min=1, help="Cameras run at once (one shared detector).")
    ] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seconds: Annotated[
        float, typer.Option("--seconds", min=2.0, help="Stream seconds per camera and mode.")
    ] = 20.0,
    model: Annotated[str | None, typer.Option("--model", help="Model name.")] = None,
) -> None:
    """CPU s per camera-minute: pipeline vs PyAV decode; recorder vs remux-only."""
    from guardian.bench.camera import run_camera_bench

    try:
        detector = load_detector(EdgeSettings().detector, model)
    except DetectError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(2) from exc
    report = run_camera_bench(detector, cameras=cameras, seconds=seconds)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    for label in ("720p", "1080p"):
        row = report[label]
        sys.stdout.write(
            f"{label}: pipeline {row['pipeline_cpu_s_per_camera_minute']} CPU s per camera-minute "
            f"(decode alone {row['decode_cpu_s_per_camera_minute']}), "
            f"{row['cameras_at_5fps']} cameras at 5 detect fps on {report['cores']} cores; "
            f"recording {row['record_cpu_s_per_camera_minute']} vs remux "
            f"{row['remux_cpu_s_per_camera_minute']} (x{row['recording_overhead_ratio']})\n"
        )


@bench_app.command("inventory")
def bench_inventory(
    events: Annotated[
        int, typer.Option("--events", min=10, help="Events loaded across 10 tenants.")
    ] = 1_000_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    requests: Annotated[
        int, typer.Option("--requests", min=10, help="Timeline requests to time.")
    ] = 1000,
    ingest_events: Annotated[
        int, typer.Option("--ingest-events", min=500, help="Summaries to ingest (500 a batch).")
    ] = 20_000,
    pg_url: Annotated[
        str, typer.Option("--pg-url", help="PostgreSQL server (a temporary database is used).")
    ] = "postgresql://postgres@127.0.0.1:5432/test",
) -> None:
    """Timeline p50/p99 through the API vs the same SQL via psycopg; ingest events/s."""
    from guardian.bench.inventory import run_inventory_bench
    from guardian.bench.pg import temporary_database

    with temporary_database(pg_url) as url:
        report = run_inventory_bench(
            url, events=events, requests=requests, ingest_events=ingest_events
        )
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    p99, ratio = report["goals"]
    sys.stdout.write(
        f"{report['events']} events, {report['tenants']} tenants: timeline API p50 "
        f"{report['api_ms_p50']} ms p99 {p99['value']} ms (goal < {p99['target']}), direct "
        f"p50 {report['direct_ms_p50']} ms p99 {report['direct_ms_p99']} ms, ratio "
        f"{ratio['value']} (goal <= {ratio['target']}); ingest "
        f"{report['ingest_events_per_s']} events/s\n"
    )


@bench_app.command("link")
def bench_link(
    events: Annotated[
        int, typer.Option("--events", min=100, help="Events for the throughput run.")
    ] = 10_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    steady_seconds: Annotated[
        float, typer.Option("--steady-seconds", min=1.0, help="Seconds at 100 events/s.")
    ] = 10.0,
    pg_url: Annotated[
        str, typer.Option("--pg-url", help="PostgreSQL server (a temporary database is used).")
    ] = "postgresql://postgres@127.0.0.1:5432/test",
) -> None:
    """Edge → relay → control plane events/s and p50/p99 latency vs direct database inserts."""
    from guardian.bench.link import run_link_bench
    from guardian.bench.pg import temporary_database

    with temporary_database(pg_url) as url:
        report = run_link_bench(url, events=events, steady_seconds=steady_seconds)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    rate, p99 = report["goals"]
    sys.stdout.write(
        f"link {rate['value']} events/s (goal >= {rate['target']}) vs direct inserts "
        f"{report['baseline_events_per_s']}/s (ratio {report['link_baseline_ratio']}); at "
        f"{report['steady_rate_per_s']}/s latency p50 {report['latency_ms_p50']} ms, p99 "
        f"{p99['value']} ms (goal < {p99['target']})\n"
    )


@bench_app.command("archive")
def bench_archive(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    megabytes: Annotated[int, typer.Option("--megabytes", min=1, help="Clip size (MiB).")] = 64,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timed rounds.")] = 5,
) -> None:
    """Seal/open MB/s vs raw AES-256-GCM over the same bytes; Argon2id derivation time."""
    from guardian.bench.archive import run_archive_bench

    report = run_archive_bench(megabytes=megabytes, rounds=rounds)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    sys.stdout.write(
        f"{megabytes} MiB in 1 MiB chunks: seal {report['seal_mb_s']} MB/s vs raw AES-GCM "
        f"{report['raw_encrypt_mb_s']} MB/s (ratio {report['seal_ratio']}, goal >= 0.8); "
        f"open {report['open_mb_s']} MB/s vs raw {report['raw_decrypt_mb_s']} MB/s; "
        f"Argon2id {report['argon2id_ms_median']} ms\n"
    )


@bench_app.command("clips")
def bench_clips(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed downloads per path.")] = 7,
    relay_cache: Annotated[
        float,
        typer.Option(
            "--relay-cache", min=0, help="Relay media cache seconds (0: every byte from the edge)."
        ),
    ] = 0.0,
) -> None:
    """A 30 s clip edge → relay → HTTP client vs the same file served from disk."""
    from guardian.bench.clips import run_clips_bench

    report = run_clips_bench(runs=runs, relay_cache_seconds=relay_cache)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    ratio, ttfb = report["goals"]
    sys.stdout.write(
        f"{report['clip_bytes']} B clip: relay {report['relay_mb_per_s']} MB/s vs direct "
        f"{report['direct_mb_per_s']} MB/s (ratio {ratio['value']}, goal >= {ratio['target']}); "
        f"first byte {ttfb['value']} ms (goal < {ttfb['target']}; direct "
        f"{report['direct_ttfb_ms']} ms)\n"
    )
