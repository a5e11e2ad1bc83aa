"""``guardian edge camera …``: add, list, change and remove cameras of the edge."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from guardian.edge.camera.config import describe_problems, validation_problems

if TYPE_CHECKING:
    from guardian.edge.context import EdgeContext

logger = logging.getLogger(__name__)

camera_app = typer.Typer(
    help="Cameras (RTSP streams or video files) the edge watches.", no_args_is_help=True
)

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
Name = Annotated[str, typer.Argument(help="Camera name, e.g. front.")]
Url = Annotated[str | None, typer.Option("--url", help="Main stream: rtsp://… or file:///…")]
DetectUrl = Annotated[
    str | None, typer.Option("--detect-url", help="Lower-resolution stream for detection.")
]
RecordUrl = Annotated[
    str | None, typer.Option("--record-url", help="Stream to record, if not the main one.")
]
DetectFps = Annotated[
    float | None, typer.Option("--detect-fps", help="Frames per second detected (default 5).")
]
Zones = Annotated[
    list[str] | None,
    typer.Option(
        "--zone",
        help='A zone as JSON, e.g. \'{"name":"shelf","polygon":[[0.1,0.5],[0.6,0.5],[0.6,1],'
        '[0.1,1]],"interaction":true,"min_dwell":2}\'; repeat for more.',
    ),
]
Masks = Annotated[
    list[str] | None,
    typer.Option(
        "--mask", help="A polygon to ignore as JSON, e.g. '[[0,0],[0.3,0],[0.3,0.2]]'; repeat."
    ),
]
Record = Annotated[
    bool | None, typer.Option("--record/--no-record", help="Record the stream (default on).")
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="A JSON file with the camera's settings (as in the API)."),
]

BAD_INPUT = 2


def _out(data: object, json_out: bool, text: str) -> None:
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


def _fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _context(data_dir: Path | None, database_url: str | None) -> EdgeContext:
    from guardian.edge.cli import load_settings
    from guardian.edge.context import build_context

    return build_context(load_settings(data_dir, database_url))


def _json(option: str, text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"{option}: not valid JSON ({exc.msg}): {text}", BAD_INPUT) from exc
    if not isinstance(value, kind):
        expected = "object" if kind is dict else "array"
        raise _fail(f"{option}: expected a JSON {expected}: {text}", BAD_INPUT)
    return value


def _config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise _fail(f"--config: cannot read {path}: {exc.strerror}", BAD_INPUT) from exc
    body: dict[str, Any] = _json("--config", text, dict)
    return body


def _flag_settings(
    url: str | None,
    detect_url: str | None,
    record_url: str | None,
    detect_fps: float | None,
    record: bool | None,
) -> dict[str, Any]:
    given = {
        "url": url,
        "detect_url": detect_url,
        "record_url": record_url,
        "detect_fps": detect_fps,
        "record": record,
    }
    return {k: v for k, v in given.items() if v is not None}


def _with_zones(current: list[Any], zones: list[str] | None) -> list[Any]:
    """``current`` zones with those of ``--zone`` added (a zone of the same name replaced)."""
    added = [_json("--zone", z, dict) for z in zones or []]
    names = {z.get("name") for z in added}
    kept = [z for z in current if not (isinstance(z, dict) and z.get("name") in names)]
    return kept + added


def _masks(masks: list[str] | None) -> list[Any]:
    return [_json("--mask", m, list) for m in masks or []]


def _invalid(exc: ValidationError) -> typer.Exit:
    return _fail(f"invalid camera settings: {describe_problems(validation_problems(exc))}", 2)


def _camera_json(camera: Any, status: Any) -> dict[str, Any]:
    from guardian.common.db import utcnow
    from guardian.edge.api.camera_schemas import camera_out

    return camera_out(camera, status, utcnow()).model_dump(mode="json")


@camera_app.command("add")
def camera_add(
    name: Name,
    url: Url = None,
    detect_url: DetectUrl = None,
    record_url: RecordUrl = None,
    detect_fps: DetectFps = None,
    zone: Zones = None,
    mask: Masks = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it stopped.")] = False,
    record: Record = None,
    config: ConfigFile = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Register a camera; a running edge starts it within a few seconds."""
    from guardian.edge.camera.config import CameraConfig
    from guardian.edge.store.cameras import CameraExists, add_camera

    body = _config_file(config)
    if body.get("name", name) != name:
        raise _fail(f"--config names camera {body['name']!r}, not {name!r}", BAD_INPUT)
    body |= {"name": name, **_flag_settings(url, detect_url, record_url, detect_fps, record)}
    if zone:
        body["zones"] = _with_zones(list(body.get("zones") or []), zone)
    if mask:
        body["masks"] = list(body.get("masks") or []) + _masks(mask)
    if disabled:
        body["enabled"] = False
    if "url" not in body:
        raise _fail("--url is required (or a url in --config)", BAD_INPUT)
    try:
        camera_config = CameraConfig.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    ctx = _context(data_dir, database_url)
    try:
        with ctx.sessions.begin() as session:
            camera = add_camera(session, camera_config)
            data = _camera_json(camera, None)
    except CameraExists as exc:
        raise _fail(str(exc)) from exc
    _out(data, json_out, f"camera {name} added")


@camera_app.command("list")
def camera_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, json_out: JsonOut = False
) -> None:
    """List cameras with their settings (passwords hidden) and live status."""
    from guardian.edge.store.cameras import camera_statuses, list_cameras

    ctx = _context(data_dir, database_url)
    with ctx.sessions() as session:
        statuses = camera_statuses(session)
        rows = [_camera_json(c, statuses.get(c.name)) for c in list_cameras(session)]
    text = "\n".join(
        f"{r['name']:<20} {r['status']['state']:<9} {r['detect_fps']:>5g} fps  {r['url']}"
        + (f"  zones: {', '.join(z['name'] for z in r['zones'])}" if r["zones"] else "")
        for r in rows
    )
    _out(rows, json_out, text or "no cameras")


@camera_app.command("set")
def camera_set(
    name: Name,
    url: Url = None,
    detect_url: DetectUrl = None,
    record_url: RecordUrl = None,
    detect_fps: DetectFps = None,
    zone: Zones = None,
    mask: Masks = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Start or stop the camera.")
    ] = None,
    record: Record = None,
    clear_zones: Annotated[
        bool, typer.Option("--clear-zones", help="Remove all zones (before adding --zone).")
    ] = False,
    clear_masks: Annotated[
        bool, typer.Option("--clear-masks", help="Remove all masks (before adding --mask).")
    ] = False,
    config: ConfigFile = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Change some settings of a camera; a running edge restarts it with them."""
    from guardian.edge.store.cameras import (
        CameraNotFound,
        camera_config,
        camera_status,
        get_camera,
        update_camera,
    )

    changes = _config_file(config)
    changes |= _flag_settings(url, detect_url, record_url, detect_fps, record)
    if enable is not None:
        changes["enabled"] = enable
    new_masks = _masks(mask)
    ctx = _context(data_dir, database_url)
    try:
        with ctx.sessions.begin() as session:
            camera = get_camera(session, name)
            before = camera.version
            current = camera_config(camera).model_dump(mode="json")
            if zone or clear_zones:
                base = [] if clear_zones else list(changes.get("zones", current["zones"]))
                changes["zones"] = _with_zones(base, zone)
            if new_masks or clear_masks:
                base = [] if clear_masks else list(changes.get("masks", current["masks"]))
                changes["masks"] = base + new_masks
            camera = update_camera(session, name, changes)
            data = _camera_json(camera, camera_status(session, name))
    except CameraNotFound as exc:
        raise _fail(str(exc)) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc
    except ValueError as exc:
        raise _fail(str(exc), BAD_INPUT) from exc
    what = "updated" if data["version"] != before else "unchanged"
    _out(data, json_out, f"camera {name} {what} (version {data['version']})")


@camera_app.command("remove")
def camera_remove(name: Name, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Remove a camera; its events, clips and recordings stay until retention removes them."""
    from guardian.edge.store.cameras import CameraNotFound, remove_camera

    ctx = _context(data_dir, database_url)
    try:
        with ctx.sessions.begin() as session:
            remove_camera(session, name)
    except CameraNotFound as exc:
        raise _fail(str(exc)) from exc
    sys.stderr.write(f"camera {name} removed\n")


# --- `guardian edge camera discover` (ONVIF) is registered by guardian.edge.camera.onvif_cli ---
try:
    from guardian.edge.camera.onvif_cli import (  # type: ignore[import-not-found,unused-ignore]
        register as _register_onvif,
    )
except ImportError:  # not part of this build (yet)
    logger.debug("ONVIF discovery commands not available")
else:
    _register_onvif(camera_app)
