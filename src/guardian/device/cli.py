"""``guardian device …``: run the capture client on a Pi, or send one image."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)

KEY_ENV = "GUARDIAN_DEVICE_KEY"

device_app = typer.Typer(
    help="The capture device client (Raspberry Pi): capture, spool, sign, upload.",
    no_args_is_help=True,
    add_completion=False,
)

Edge = Annotated[str, typer.Option("--edge", help="Edge base URL, e.g. http://edge.local:8080")]
DeviceId = Annotated[str, typer.Option("--device-id", help="This device's registered name.")]
Key = Annotated[
    str,
    typer.Option(
        "--key",
        envvar=KEY_ENV,
        show_default=False,
        help=f"Device key (prefer env {KEY_ENV}: command lines are visible in ps).",
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, help="HTTP timeout, seconds.")]


def default_spool_dir(device_id: str) -> Path:
    """``$XDG_DATA_HOME/guardian-device/<device-id>`` (``~/.local/share`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device_id).lstrip(".") or "device"
    return Path(base) / "guardian-device" / safe


def _warn_if_key_on_command_line(ctx: typer.Context) -> None:
    source = ctx.get_parameter_source("key")
    if source is not None and source.name == "COMMANDLINE":
        logger.warning(f"--key on the command line is visible to other users; use {KEY_ENV}")


@device_app.command("run")
def run_command(
    ctx: typer.Context,
    edge: Edge,
    device_id: DeviceId,
    key: Key,
    camera: Annotated[
        str | None,
        typer.Option(
            "--camera",
            help="Camera: an index (0), 'pi' (picamera2), or a video file/URL. "
            "Alone: capture on motion.",
        ),
    ] = None,
    watch: Annotated[
        Path | None,
        typer.Option("--watch", help="Folder a sensor script drops JPEG/PNG files into."),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option("--interval", min=0.01, help="Capture every S seconds (camera 0 by default)."),
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option("--spool", help="Spool folder (default: ~/.local/share/guardian-device/ID)."),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="Watch-folder scan / motion sample period.")
    ] = 1.0,
    motion_threshold: Annotated[
        float, typer.Option("--motion-threshold", min=0.0, max=1.0, help="Changed-pixel share.")
    ] = 0.02,
    min_gap: Annotated[
        float, typer.Option("--min-gap", min=0.0, help="Seconds between motion captures.")
    ] = 2.0,
    jpeg_quality: Annotated[int, typer.Option("--jpeg-quality", min=1, max=100)] = 90,
    timeout: Timeout = 30.0,
    backoff_base: Annotated[
        float, typer.Option("--backoff-base", min=0.0, help="First retry delay, seconds.")
    ] = 1.0,
    backoff_cap: Annotated[
        float, typer.Option("--backoff-cap", min=0.0, help="Longest retry delay, seconds.")
    ] = 60.0,
) -> None:
    """Capture or pick up images, spool them durably, and deliver each exactly once."""
    from guardian.device.runner import DeviceConfig, Source, run_device
    from guardian.device.sources import CameraLoop, WatchDirSource
    from guardian.device.spool import SpoolBusy

    _warn_if_key_on_command_line(ctx)
    if watch is not None and (camera is not None or interval is not None):
        raise typer.BadParameter("--watch cannot be combined with --camera or --interval")
    if watch is None and camera is None and interval is None:
        raise typer.BadParameter("give one of --camera INDEX, --watch DIR or --interval S")
    if watch is not None and not watch.is_dir():
        raise typer.BadParameter(f"{watch} is not a folder", param_hint="--watch")
    source: Source
    if watch is not None:
        source = WatchDirSource(watch, poll=poll)
    else:
        source = CameraLoop(
            camera if camera is not None else "0",
            interval=interval,
            poll=poll,
            motion_threshold=motion_threshold,
            min_gap=min_gap,
            jpeg_quality=jpeg_quality,
        )
    config = DeviceConfig(
        edge_url=edge,
        device_id=device_id,
        key=key,
        spool_dir=spool if spool is not None else default_spool_dir(device_id),
        timeout=timeout,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
    )
    try:
        code = run_device(config, [source])
    except SpoolBusy as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


def _check_captured_at(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter("needs a time zone, e.g. 2024-05-01T12:00:00Z")
    return value


@device_app.command("send")
def send_command(
    ctx: typer.Context,
    image: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JPEG/PNG file.")
    ],
    seq: Annotated[int, typer.Option("--seq", min=0, help="The device_seq to send it under.")],
    edge: Edge,
    device_id: DeviceId,
    key: Key,
    captured_at: Annotated[
        str | None,
        typer.Option(
            "--captured-at", help="RFC 3339 capture time (default: when the edge receives it)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the edge's JSON answer.")] = False,
    timeout: Timeout = 30.0,
) -> None:
    """Send one image once (no spool, no retry); exit 0 when the edge holds it, else 1."""
    from guardian.device.client import EdgeClient

    _warn_if_key_on_command_line(ctx)
    stamp = _check_captured_at(captured_at)
    with EdgeClient(edge, device_id, key, timeout=timeout) as client:
        result = client.upload(image.read_bytes(), seq, stamp, filename=image.name)
    answer = result.body if result.body is not None else {"error": result.error}
    if as_json:
        sys.stdout.write(json.dumps(answer) + "\n")
    elif result.delivered:
        note = " (duplicate of an earlier upload)" if result.duplicate else ""
        sys.stdout.write(f"delivered: capture_id {result.capture_id}{note}\n")
    if not result.delivered:
        status = result.status_code if result.status_code is not None else "no answer"
        sys.stderr.write(f"edge refused the capture (HTTP {status}): {json.dumps(answer)}\n")
        raise typer.Exit(1)


def main() -> None:
    """``python -m guardian.device.cli``: the device commands without the full ``guardian`` CLI."""
    from guardian.common.logging import configure_logging
    from guardian.common.settings import ServiceSettings

    base = ServiceSettings()
    configure_logging(base.log_level, base.log_format)
    device_app(prog_name="guardian device")


if __name__ == "__main__":
    main()
