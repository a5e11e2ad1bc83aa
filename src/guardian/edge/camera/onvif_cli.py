"""``guardian edge camera discover`` and ``add-onvif``: find ONVIF cameras and register one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from guardian.edge.camera.config import NAME_PATTERN, redact_url

if TYPE_CHECKING:
    from guardian.edge.camera.config import CameraConfig
    from guardian.edge.camera.onvif import DiscoveredDevice, MediaProfile, OnvifDevice

# The same options as ``guardian edge …`` (not imported: guardian.edge.cli imports this module).
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Edge data folder (env GUARDIAN_EDGE_DATA_DIR)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Edge database (env GUARDIAN_EDGE_DATABASE_URL)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Username = Annotated[str | None, typer.Option("--username", help="ONVIF user of the camera.")]
Password = Annotated[
    str | None,
    typer.Option(
        "--password", envvar="GUARDIAN_ONVIF_PASSWORD", help="Its password (or set the env var)."
    ),
]

BAD_INPUT = 2


def register(camera_app: typer.Typer) -> None:
    """Add the ``discover`` and ``add-onvif`` commands to ``guardian edge camera``."""
    camera_app.command("discover")(discover_command)
    camera_app.command("add-onvif")(add_onvif_command)


def _fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def discover_command(
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for answers.")
    ] = 3.0,
    interface: Annotated[
        str | None,
        typer.Option("--interface", help="Probe on this interface (name or IPv4 address)."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Probe this host directly, where multicast cannot reach."),
    ] = None,
    username: Username = None,
    password: Password = None,
    json_out: JsonOut = False,
) -> None:
    """Find ONVIF cameras on the LAN; with credentials, also read their profiles and streams.

    Exits 1 when a camera's profiles could not be read (wrong password, unreachable, …).
    """
    from guardian.edge.camera.onvif import discover

    try:
        devices = discover(timeout, interface=interface, address=address)
    except ValueError as exc:
        raise _fail(str(exc), BAD_INPUT) from exc
    except OSError as exc:
        raise _fail(f"discovery failed: {exc}") from exc
    rows = [_device_row(d) for d in devices]
    if username is not None:
        reads = asyncio.run(_read_all(devices, username, password or ""))
        for row, read in zip(rows, reads, strict=True):
            row.update(read)
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
    elif rows:
        sys.stdout.write("\n".join(_device_text(r) for r in rows) + "\n")
    else:
        sys.stderr.write("no ONVIF cameras answered\n")
    if any("error" in r for r in rows):
        raise typer.Exit(1)


def add_onvif_command(
    name: Annotated[str, typer.Argument(help="Camera name, e.g. front.")],
    host: Annotated[str, typer.Option("--host", help="The camera's address.")],
    port: Annotated[int, typer.Option("--port", help="Its ONVIF (HTTP) port.")] = 80,
    username: Username = None,
    password: Password = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Main profile (token or name); default: the largest."),
    ] = None,
    detect_profile: Annotated[
        str | None,
        typer.Option(
            "--detect-profile",
            help="Profile for detection (token or name); default: the smallest lower one.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds allowed to read the camera.")
    ] = 10.0,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Register an ONVIF camera: its largest stream as url, a smaller one as detect_url."""
    from pydantic import ValidationError

    from guardian.edge.camera.config import CameraConfig
    from guardian.edge.camera.onvif import (
        OnvifError,
        pick_profiles,
        read_device,
        stream_url_with_credentials,
    )

    if not re.fullmatch(NAME_PATTERN, name):
        raise _fail(f"invalid camera name {name!r}: use letters, digits, - and _", BAD_INPUT)
    if username is None:
        raise _fail("--username is required", BAD_INPUT)
    secret = password or ""
    try:
        device = asyncio.run(read_device(host, port, username, secret, timeout_s=timeout))
        main, detect = pick_profiles(device.profiles, profile, detect_profile)
    except OnvifError as exc:
        raise _fail(str(exc)) from exc
    if main.stream_uri is None:  # pick_profiles only picks profiles with a stream
        raise _fail(f"profile {main.name} has no stream URI")
    try:
        config = CameraConfig(
            name=name,
            url=stream_url_with_credentials(main.stream_uri, username, secret),
            detect_url=(
                stream_url_with_credentials(detect.stream_uri, username, secret)
                if detect is not None and detect.stream_uri
                else None
            ),
        )
    except ValidationError as exc:
        raise _fail(f"the camera's stream URI is not usable: {exc}") from exc
    _add(config, data_dir, database_url)
    data = {
        "name": name,
        "url": redact_url(config.url),
        "detect_url": redact_url(config.detect_url) if config.detect_url else None,
        "profile": _profile_row(main),
        "detect_profile": _profile_row(detect) if detect is not None else None,
        "device": _info_row(device),
    }
    detect_text = f", detection on {detect.name} ({_size(detect)})" if detect else ""
    text = f"camera {name} added: {main.name} ({_size(main)}){detect_text}"
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


def _add(config: CameraConfig, data_dir: Path | None, database_url: str | None) -> None:
    from guardian.edge.cli import load_settings
    from guardian.edge.context import build_context
    from guardian.edge.store.cameras import CameraExists, add_camera

    ctx = build_context(load_settings(data_dir, database_url))
    try:
        with ctx.sessions.begin() as session:
            add_camera(session, config)
    except CameraExists as exc:
        raise _fail(str(exc)) from exc
    finally:
        ctx.engine.dispose()


async def _read_all(
    devices: list[DiscoveredDevice], username: str, password: str
) -> list[dict[str, Any]]:
    from guardian.edge.camera.onvif import OnvifError, read_device

    async def read(device: DiscoveredDevice) -> dict[str, Any]:
        host, port = device.device_service()
        try:
            found = await read_device(host, port, username, password)
        except OnvifError as exc:
            return {"error": str(exc), "error_kind": exc.kind}
        return {"device": _info_row(found)}

    return list(await asyncio.gather(*(read(d) for d in devices)))


def _device_row(device: DiscoveredDevice) -> dict[str, Any]:
    host, port = device.device_service()
    return {**dataclasses.asdict(device), "host": host, "port": port}


def _info_row(device: OnvifDevice) -> dict[str, Any]:
    return {
        "host": device.host,
        "port": device.port,
        **dataclasses.asdict(device.info),
        "capabilities": dataclasses.asdict(device.capabilities),
        "profiles": [_profile_row(p) for p in device.profiles],
    }


def _profile_row(profile: MediaProfile) -> dict[str, Any]:
    row = dataclasses.asdict(profile)
    if profile.stream_uri:
        row["stream_uri"] = redact_url(profile.stream_uri)
    return row


def _size(profile: MediaProfile) -> str:
    fps = f" @ {profile.fps:g} fps" if profile.fps else ""
    return f"{profile.width}x{profile.height}{fps}"


def _device_text(row: dict[str, Any]) -> str:
    title = row["name"] or row["endpoint"]
    line = f"{title:<24} {row['hardware'] or '-':<16} {row['host']}:{row['port']}"
    if "error" in row:
        return f"{line}\n  error: {row['error']}"
    if "device" not in row:
        return line
    info = row["device"]
    lines = [f"{line}  {info['manufacturer'] or ''} {info['model'] or ''}".rstrip()]
    for p in info["profiles"]:
        size = f"{p['width']}x{p['height']}" if p["width"] else "-"
        lines.append(f"  {p['token']:<16} {p['name']:<16} {p['encoding'] or '-':<6} {size:<10} ")
        lines[-1] += p["stream_uri"] or "(no stream)"
    return "\n".join(lines)
