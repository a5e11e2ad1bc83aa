"""``guardian demo``: control plane, relay, edge and a simulated Pi on this machine.

Order: footage and model ready → control plane set up (tenant, admin, relay) and started →
site + bootstrap token → relay started → edge enrolled, device and camera registered →
edge and device started → ready once every ``/healthz`` answers and the control plane has
heard from the site since this run began. Then the login is printed (and written to the
status file) and the demo runs until SIGINT/SIGTERM, when the children are stopped in
reverse order (SIGTERM, wait, SIGKILL after a timeout).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import typer

from guardian.demo import provision
from guardian.demo.footage import VTEST_FRAMES, FootageMissing, demo_footage
from guardian.demo.layout import Layout, Ports, choose_ports
from guardian.demo.orchestrate import ServiceError, ServiceProcess, guardian_command, wait_until
from guardian.demo.state import DemoState, load_state, save_state, write_private_json

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
# What ends a demo run with an error message (exit 1) instead of a traceback.
_FAILURES = (ServiceError, FootageMissing, ValueError, OSError, subprocess.SubprocessError)
DEVICE_INTERVAL_S = 3.0
# Quicker telemetry than production so "linked" shows within seconds of the edge starting.
EDGE_ENV = {"GUARDIAN_EDGE_LINK__TELEMETRY_SECONDS": "5", "GUARDIAN_EDGE_QUEUE__WORKERS": "1"}


@dataclass
class DemoOptions:
    """What ``guardian demo`` was asked for."""

    data_dir: Path
    port: int
    status_file: Path | None = None
    reset: bool = False


@dataclass
class Demo:
    """The running demo: its layout, ports, state and child processes (start order)."""

    layout: Layout
    ports: Ports
    state: DemoState
    services: list[ServiceProcess] = field(default_factory=list)

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.control}"

    def save(self) -> None:
        """Persist the state (after every step: an interrupted run resumes there)."""
        save_state(self.layout.root, self.state)

    def add(self, service: ServiceProcess) -> ServiceProcess:
        """Track ``service`` so that it is stopped with the demo."""
        self.services.append(service)
        return service

    def stop(self) -> None:
        """Stop every child, newest first (device, edge, relay, control plane)."""
        for service in reversed(self.services):
            code = service.stop()
            logger.debug("demo service stopped", extra={"service": service.name, "code": code})

    def check_children(self) -> None:
        """``ServiceError`` when a child has exited."""
        for service in self.services:
            service.ensure_running()


class _Steps:
    """A progress bar over the setup steps, labelled with the current one."""

    def __init__(self, total: int) -> None:
        self._bar = typer.progressbar(
            length=total, label="Starting the demo", show_eta=False, show_pos=True
        )
        self._current = ""

    def __enter__(self) -> _Steps:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def step(self, label: str) -> None:
        """Mark the previous step done and show ``label`` as the current one."""
        if self._current:
            self._bar.update(1)
        self._current = label
        self._bar.label = f"Starting the demo: {label:<28}"
        self._bar.render_progress()

    def finish(self) -> None:
        """Mark the last step done."""
        self._bar.update(1)


def _ensure_model() -> None:
    """Fetch the default detector model when it is not there yet (it prints its progress)."""
    from guardian.edge.detect.models.catalog import DEFAULT_MODEL
    from guardian.edge.detect.models.store import ModelStore, default_models_dir

    if DEFAULT_MODEL in ModelStore(default_models_dir()).names():
        return
    typer.echo(f"Fetching the detector model {DEFAULT_MODEL} (once) …")
    # Its progress lines go straight to the terminal.
    done = subprocess.run(guardian_command("models", "fetch"), check=False, timeout=1800)
    if done.returncode != 0:
        raise ServiceError(f"guardian models fetch failed with exit code {done.returncode}")


def _prepare_footage() -> Path:
    with typer.progressbar(length=VTEST_FRAMES, label="Preparing the street footage") as bar:
        return demo_footage(progress=bar.update)


def _control(demo: Demo) -> ServiceProcess:
    layout, ports = demo.layout, demo.ports
    return ServiceProcess(
        "control",
        guardian_command(
            "control", "run", "--data-dir", str(layout.control), "--port", str(ports.control)
        ),
        layout.logs / "control.log",
        f"{demo.control_url}/healthz",
        {"GUARDIAN_CONTROL_GRPC_PORT": str(ports.control_grpc)},
    )


def _relay(demo: Demo) -> ServiceProcess:
    layout, ports = demo.layout, demo.ports
    assert demo.state.relay_token is not None
    return ServiceProcess(
        "relay",
        guardian_command("relay", "run", "--data-dir", str(layout.relay), "--http-port",
                         str(ports.relay_http), "--link-port", str(ports.relay_link)),
        layout.logs / "relay.log",
        f"http://127.0.0.1:{ports.relay_http}/healthz",
        {
            # The control plane's gRPC link (plaintext is allowed to loopback only).
            "GUARDIAN_RELAY_CONTROL_URL": f"http://127.0.0.1:{ports.control_grpc}",
            "GUARDIAN_RELAY_CONTROL_TOKEN": demo.state.relay_token,
            "GUARDIAN_RELAY_LINK_DIRECT_PORT": str(ports.relay_link_direct),
            # Playback: the relay checks the control plane's playback tokens by its JWKS.
            "GUARDIAN_RELAY_MEDIA__JWKS_URL": f"{demo.control_url}/.well-known/jwks.json",
        },
    )  # fmt: skip


def _edge(demo: Demo) -> ServiceProcess:
    layout, ports = demo.layout, demo.ports
    return ServiceProcess(
        "edge",
        guardian_command("edge", "run", "--data-dir", str(layout.edge), "--port", str(ports.edge)),
        layout.logs / "edge.log",
        f"http://127.0.0.1:{ports.edge}/healthz",
        # The relay may listen on another port than at enrolment (--port changed, or the
        # derived one was taken): the address is given each run.
        {**EDGE_ENV, "GUARDIAN_EDGE_LINK__RELAY": f"127.0.0.1:{ports.relay_link}"},
    )


def _device(demo: Demo, footage: Path) -> ServiceProcess:
    layout, ports = demo.layout, demo.ports
    assert demo.state.device_key is not None
    return ServiceProcess(
        "device",
        guardian_command("device", "run", "--edge", f"http://127.0.0.1:{ports.edge}",
                         "--device-id", provision.DEVICE_ID, "--camera", str(footage),
                         "--interval", str(DEVICE_INTERVAL_S), "--spool", str(layout.spool)),
        layout.logs / "device.log",
        None,
        {"GUARDIAN_DEVICE_KEY": demo.state.device_key},  # env, not argv: ps shows argv
    )  # fmt: skip


STEPS = 9


def start(demo: Demo, footage: Path, steps: _Steps, started_at: float) -> None:
    """Set up what is missing and start every service; returns once all are ready."""
    layout, state, ports = demo.layout, demo.state, demo.ports
    poll = demo.check_children
    steps.step("tenant and admin")
    provision.create_tenant(layout, state)
    demo.save()
    provision.create_admin(layout, state)
    demo.save()
    steps.step("relay credential")
    provision.add_relay(layout, state, ports)
    demo.save()
    steps.step("control plane")
    control = demo.add(_control(demo))
    control.start()
    control.wait_healthy(on_poll=poll)
    steps.step("site")
    provision.create_site(demo.control_url, state)
    demo.save()
    steps.step("relay")
    relay = demo.add(_relay(demo))
    relay.start()
    relay.wait_healthy(on_poll=poll)
    steps.step("edge enrolment")
    provision.enroll_edge(layout, state, ports)
    demo.save()
    steps.step("device and camera")
    provision.add_device(layout, state)
    demo.save()
    provision.add_camera(layout, state, footage)
    demo.save()
    steps.step("edge and device")
    edge = demo.add(_edge(demo))
    edge.start()
    edge.wait_healthy(on_poll=poll)
    demo.add(_device(demo, footage)).start()
    steps.step("edge link")
    headers = provision.login(demo.control_url, state)
    assert state.site_id is not None
    site_id = state.site_id
    wait_until(
        lambda: provision.site_linked_since(demo.control_url, site_id, headers, started_at - 1),
        READY_TIMEOUT_S,
        "the edge to link up through the relay",
        poll=0.5,
        on_poll=poll,
    )
    wait_until(lambda: all(s.healthy() for s in demo.services), READY_TIMEOUT_S, "every /healthz")
    steps.finish()


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM stop the demo (a KeyboardInterrupt in the main thread), even when
    it was started with SIGINT ignored (a background job of a non-interactive shell)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# Settings that would point a demo service at another store, folder, address or peer; the
# demo decides these itself (embedded SQLite under its data dir, loopback ports). Other
# settings (detector model, MQTT, log level …) pass through to the children.
_PLACEMENT = re.compile(
    r"^GUARDIAN_(CONTROL|RELAY|EDGE)_(DATABASE_URL|DATA_DIR|HOST|PORT|GRPC_PORT|HTTP_PORT"
    r"|LINK_PORT|CONTROL_URL|CONTROL_TOKEN|LINK__RELAY)$"
)


def _isolate_environment() -> list[str]:
    """Drop placement settings from this process's environment (children inherit it)."""
    dropped = sorted(k for k in os.environ if _PLACEMENT.match(k))
    for key in dropped:
        del os.environ[key]
    return dropped


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C must not cut the orderly shutdown short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce(demo: Demo, first_run: bool, status_file: Path | None) -> None:
    state = demo.state
    url = demo.control_url + "/"
    if status_file is not None:
        write_private_json(
            status_file, {"url": url, "email": state.email, "password": state.password}
        )
    password = state.password if first_run else f"(unchanged; kept in {demo.layout.state_file})"
    typer.echo(
        f"\nGuardian demo is running.\n"
        f"  open      {url}\n"
        f"  email     {state.email}\n"
        f"  password  {password}\n"
        f"  logs      {demo.layout.logs}\n"
        "Events from the street camera and the simulated Pi appear within about 30 s.\n"
        "Press Ctrl-C to stop."
    )


def run_demo(options: DemoOptions, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Run the demo until interrupted; the exit code (0 after Ctrl-C, 1 on a failure)."""
    layout = Layout(options.data_dir.resolve())
    demo: Demo | None = None
    # Readiness polling would log every request; the services keep their own logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with _signals_interrupt():
        try:
            # A status file from an earlier run must not make a script think this one is ready.
            if options.status_file is not None:
                options.status_file.unlink(missing_ok=True)
            for key in _isolate_environment():
                typer.echo(f"note: ignoring {key} (the demo runs on its own embedded stores)")
            if options.reset:
                layout.reset()
            first_run = not layout.state_file.exists()
            ports = choose_ports(options.port)
            _ensure_model()
            footage = _prepare_footage()
            layout.root.mkdir(parents=True, exist_ok=True)
            state = load_state(layout.root)
            demo = Demo(layout, ports, state)
            demo.save()
            started_at = time.time()
            with _Steps(STEPS) as steps:
                start(demo, footage, steps, started_at)
            _announce(demo, first_run, options.status_file)
            while True:
                demo.check_children()
                sleep(0.5)
        except KeyboardInterrupt:
            typer.echo("\nStopping the demo …")
            return 0
        except _FAILURES as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        finally:
            if options.status_file is not None:
                options.status_file.unlink(missing_ok=True)  # no longer ready
            if demo is not None:
                with _signals_ignored():
                    demo.stop()
                typer.echo("Demo stopped.")
