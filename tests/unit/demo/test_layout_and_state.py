"""The demo's ports, data dir safety and saved state."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.demo.layout import Layout, LayoutError, choose_ports
from guardian.demo.orchestrate import restartable_port
from guardian.demo.state import DEMO_EMAIL, DemoState, load_state, save_state


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_ports_derive_from_the_control_port_like_the_services_defaults() -> None:
    while True:
        base = restartable_port(21000, 31000)
        try:
            ports = choose_ports(base)
        except LayoutError:
            continue
        if ports.edge == base - 10 and ports.relay_link_direct == base + 12:
            break
    assert (ports.control, ports.control_grpc, ports.relay_http) == (base, base + 1, base + 10)
    assert ports.relay_link == base + 11


def test_a_taken_control_port_is_an_error_and_a_taken_derived_one_is_replaced(
    held_port: int,
) -> None:
    with pytest.raises(LayoutError, match=f"port {held_port} is in use"):
        choose_ports(held_port)
    ports = choose_ports(held_port - 1)  # its gRPC port (+1) is the held one
    assert ports.control_grpc != held_port
    values = [
        ports.control, ports.control_grpc, ports.relay_http, ports.relay_link,
        ports.relay_link_direct, ports.edge,
    ]  # fmt: skip
    assert len(set(values)) == 6


def test_reset_deletes_a_demo_dir_but_refuses_any_other_folder(tmp_path: Path) -> None:
    demo = Layout(tmp_path / "demo")
    (demo.edge / "media").mkdir(parents=True)
    save_state(demo.root, DemoState(password="pw"))
    demo.reset()
    assert not demo.root.exists()
    Layout(tmp_path / "never-made").reset()  # nothing there: nothing to do

    other = tmp_path / "home"
    (other / "photos").mkdir(parents=True)
    with pytest.raises(LayoutError, match="does not look like a demo data dir"):
        Layout(other).reset()
    assert (other / "photos").is_dir()


def test_state_starts_with_a_random_password_and_round_trips_owner_only(tmp_path: Path) -> None:
    first, second = load_state(tmp_path), load_state(tmp_path / "x")
    assert first.email == DEMO_EMAIL and len(first.password) >= 20
    assert first.password != second.password
    first.tenant_id, first.device_key = "t-1", "secret-key"
    save_state(tmp_path, first)
    path = tmp_path / "demo.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(tmp_path) == first


def test_state_ignores_unknown_keys_and_reports_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text(json.dumps({"password": "p", "from_the_future": 1}))
    assert load_state(tmp_path).password == "p"
    (tmp_path / "demo.json").write_text("{not json")
    with pytest.raises(ValueError, match="--reset"):
        load_state(tmp_path)
