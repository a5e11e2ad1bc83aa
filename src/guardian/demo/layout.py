"""Where the demo keeps things, and which loopback ports its services use."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from guardian.demo.orchestrate import free_port, port_is_free
from guardian.demo.state import STATE_FILE

DEFAULT_DATA_DIR = Path("guardian-data/demo")
DEFAULT_PORT = 8720
# Offsets from the control plane's port: with the default port every service gets its
# usual default (edge 8710, control gRPC 8721, relay 8730/8731/8732).
EDGE_OFFSET, GRPC_OFFSET, RELAY_HTTP_OFFSET, RELAY_LINK_OFFSET = -10, 1, 10, 11
RELAY_DIRECT_OFFSET = 12


class LayoutError(ValueError):
    """The data dir or a port cannot be used."""


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one demo run."""

    control: int
    control_grpc: int
    relay_http: int
    relay_link: int
    #: The relay's direct EdgeLink port (grpcio's own mutual TLS).
    relay_link_direct: int
    edge: int


def choose_ports(control: int) -> Ports:
    """``control`` (must be free) and the others derived from it, or free ones when taken."""
    if not port_is_free(control):
        raise LayoutError(f"port {control} is in use; choose another with --port")
    taken = {control}

    def pick(offset: int) -> int:
        wanted = control + offset
        if 1024 <= wanted <= 65535 and wanted not in taken and port_is_free(wanted):
            port = wanted
        else:
            port = free_port()
            while port in taken:
                port = free_port()
        taken.add(port)
        return port

    return Ports(
        control=control,
        control_grpc=pick(GRPC_OFFSET),
        relay_http=pick(RELAY_HTTP_OFFSET),
        relay_link=pick(RELAY_LINK_OFFSET),
        relay_link_direct=pick(RELAY_DIRECT_OFFSET),
        edge=pick(EDGE_OFFSET),
    )


@dataclass(frozen=True)
class Layout:
    """The demo data dir: one folder per service, the device's spool, logs, the state."""

    root: Path

    @property
    def control(self) -> Path:
        return self.root / "control"

    @property
    def relay(self) -> Path:
        return self.root / "relay"

    @property
    def edge(self) -> Path:
        return self.root / "edge"

    @property
    def spool(self) -> Path:
        return self.root / "device" / "spool"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    def looks_like_demo(self) -> bool:
        """Empty or missing, or holding what a demo run makes (never wipe anything else)."""
        if not self.root.exists():
            return True
        entries = {p.name for p in self.root.iterdir()}
        return not entries or STATE_FILE in entries or entries <= {
            "control", "relay", "edge", "device", "logs",
        }  # fmt: skip

    def reset(self) -> None:
        """Delete the data dir, refusing a folder that was not made by the demo."""
        if not self.looks_like_demo():
            raise LayoutError(
                f"{self.root} does not look like a demo data dir (no {STATE_FILE}); not deleting it"
            )
        shutil.rmtree(self.root, ignore_errors=True)
