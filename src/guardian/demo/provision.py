"""Setting a deployment up through the real CLIs and the control API, one idempotent step
at a time: tenant, admin, relay (add + assign), site + bootstrap token, edge enrolment,
a capture device and a camera. Each step fills its part of ``DemoState``; a step whose
part is already filled does nothing, so a second run reuses the first one's work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from guardian.demo.layout import Layout, Ports
from guardian.demo.orchestrate import ServiceError, cli_output
from guardian.demo.state import DemoState

TENANT_NAME = "Demo"
RELAY_NAME = "demo-relay"
SITE_NAME = "Demo street"
DEVICE_ID = "demo-pi"
CAMERA_NAME = "street"
# The lower two thirds of vtest's street: people walk through it for several seconds.
STREET_ZONE = {
    "name": "pavement",
    "polygon": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]],
    "interaction": True,
    "min_dwell": 2.0,
}
DETECT_FPS = 3


def _json(text: str) -> Any:
    return json.loads(text)


def control_args(layout: Layout) -> list[str]:
    """The control CLI's options that point it at the demo's store."""
    return ["--data-dir", str(layout.control)]


def create_tenant(layout: Layout, state: DemoState) -> None:
    """The demo tenant (``guardian control tenant create``)."""
    if state.tenant_id is None:
        made = _json(cli_output("control", "tenant", "create", TENANT_NAME,
                                *control_args(layout), "--json"))  # fmt: skip
        state.tenant_id = str(made["tenant_id"])


def create_admin(layout: Layout, state: DemoState) -> None:
    """The demo admin with the state's password (read from stdin, never argv)."""
    if state.admin_created:
        return
    assert state.tenant_id is not None
    cli_output(
        "control", "user", "create", state.email, "--tenant", state.tenant_id,
        "--role", "admin", "--password-stdin", *control_args(layout), "--json",
        stdin=state.password + "\n",
    )  # fmt: skip
    state.admin_created = True


def add_relay(layout: Layout, state: DemoState, ports: Ports) -> None:
    """A relay credential, assigned to the tenant."""
    if state.relay_token is None:
        url = f"https://127.0.0.1:{ports.relay_link}"
        made = _json(cli_output("control", "relay", "add", RELAY_NAME, "--url", url,
                                *control_args(layout), "--json"))  # fmt: skip
        state.relay_id, state.relay_token = str(made["relay_id"]), str(made["token"])
    if not state.relay_assigned:
        assert state.tenant_id is not None
        cli_output("control", "relay", "assign", RELAY_NAME, "--tenant", state.tenant_id,
                   *control_args(layout), "--json")  # fmt: skip
        state.relay_assigned = True
    # Every run: the ports may differ from the last run's. Browsers fetch clips and
    # snapshots from the relay's HTTP port (playback tokens signed by the control plane).
    link_url = f"https://127.0.0.1:{ports.relay_link}"
    cli_output("control", "relay", "set", RELAY_NAME, "--url", link_url,
               "--public-url", relay_public_url(ports), *control_args(layout))  # fmt: skip


def relay_public_url(ports: Ports) -> str:
    """Where the demo's browsers reach the relay's HTTP API."""
    return f"http://127.0.0.1:{ports.relay_http}"


def login(control_url: str, state: DemoState) -> dict[str, str]:
    """Authorization headers of the demo admin (``POST /api/v1/auth/login``)."""
    answer = httpx.post(
        f"{control_url}/api/v1/auth/login",
        json={"email": state.email, "password": state.password},
        timeout=10,
    )
    if answer.status_code != 200:
        raise ServiceError(f"demo admin login failed ({answer.status_code}): {answer.text}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def create_site(control_url: str, state: DemoState) -> None:
    """The demo site and its single-use bootstrap token (``POST /api/v1/sites``)."""
    if state.site_id is not None:
        return
    made = httpx.post(
        f"{control_url}/api/v1/sites",
        json={"name": SITE_NAME},
        headers=login(control_url, state),
        timeout=10,
    )
    if made.status_code != 201:
        raise ServiceError(f"creating the demo site failed ({made.status_code}): {made.text}")
    body = made.json()
    state.site_id, state.bootstrap_token = str(body["site"]["id"]), str(body["bootstrap_token"])


def enroll_edge(layout: Layout, state: DemoState, ports: Ports) -> None:
    """``guardian edge enroll`` at the relay (trust on first use of its CA)."""
    from guardian.edge.link.enroll import is_enrolled

    if state.enrolled and is_enrolled(layout.edge):
        return
    assert state.bootstrap_token is not None
    cli_output(
        "edge", "enroll", "--relay", f"127.0.0.1:{ports.relay_link}",
        "--token", state.bootstrap_token, "--data-dir", str(layout.edge), "--json",
    )  # fmt: skip
    state.enrolled = True
    state.bootstrap_token = None  # single use: spent


def add_device(layout: Layout, state: DemoState) -> None:
    """The simulated Pi's registration; its key is shown once, so the state keeps it."""
    if state.device_key is None:
        made = _json(cli_output("edge", "device", "add", DEVICE_ID,
                                "--data-dir", str(layout.edge), "--json"))  # fmt: skip
        state.device_key = str(made["key"])


def add_camera(layout: Layout, state: DemoState, footage: Path) -> None:
    """The street camera: the footage looped in real time, with an interaction zone."""
    if state.camera_added:
        return
    cli_output(
        "edge", "camera", "add", CAMERA_NAME, "--url", footage.resolve().as_uri(),
        "--detect-fps", str(DETECT_FPS), "--zone", json.dumps(STREET_ZONE),
        "--data-dir", str(layout.edge), "--json",
    )  # fmt: skip
    state.camera_added = True


def site_linked_since(
    control_url: str, site_id: str, headers: dict[str, str], since: float
) -> bool:
    """Whether the control plane heard from the site (edge → relay → control telemetry)
    at or after the epoch time ``since``."""
    import datetime as dt

    try:
        answer = httpx.get(f"{control_url}/api/v1/sites/{site_id}", headers=headers, timeout=5)
    except httpx.TransportError:
        return False
    if answer.status_code != 200:
        return False
    seen = answer.json().get("last_seen_at")
    if not seen:
        return False
    at = dt.datetime.fromisoformat(seen)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.timestamp() >= since
