"""The device client against the REAL edge: everything arrives once across an outage."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select

from guardian.common.db import session_factory
from guardian.common.seal import Sealer
from guardian.device.client import EdgeClient
from guardian.device.runner import DeviceConfig, run_device
from guardian.device.sources import WatchDirSource
from guardian.device.spool import Spool
from guardian.edge.app import create_app
from guardian.edge.context import EdgeContext
from guardian.edge.store.devices import add_device
from guardian.edge.store.tables import Capture
from tests.capture_helpers import jpeg_bytes
from tests.edge_fixtures import EdgeDb


class _Edge:
    """The edge app on a fixed loopback port that can be stopped and started again."""

    def __init__(self, ctx: EdgeContext) -> None:
        self.app = create_app(ctx)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        _wait(lambda: bool(self._server and self._server.started), "edge start")

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)


def _wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _drop(watch: Path, index: int) -> None:
    tmp = watch / f".incoming-{index}.tmp"
    tmp.write_bytes(jpeg_bytes(seed=index))
    tmp.rename(watch / f"shot-{index:03d}.jpg")


@pytest.fixture
def ctx(sqlite_edge_db: EdgeDb) -> EdgeContext:
    """An edge context on a fresh SQLite store, with no disk floor (tmp disks vary)."""
    db = sqlite_edge_db
    settings = db.settings.model_copy(deep=True)
    settings.capture.min_free_bytes = 0
    return EdgeContext(settings, db.engine, session_factory(db.engine), Sealer(os.urandom(32)))


def _register(ctx: EdgeContext, device_id: str) -> str:
    with ctx.sessions.begin() as session:
        return add_device(session, ctx.sealer, device_id)


def _stored(ctx: EdgeContext) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Capture)) or 0)


def _seqs(ctx: EdgeContext) -> list[int]:
    with ctx.sessions() as session:
        return sorted(session.scalars(select(Capture.device_seq)).all())


@contextmanager
def _device(url: str, device_id: str, key: str, spool: Path, watch: Path) -> Iterator[None]:
    """``run_device`` watching ``watch`` in a thread, with short backoffs; stopped on exit."""
    watch.mkdir()
    config = DeviceConfig(
        url, device_id, key, spool, timeout=5, backoff_base=0.05, backoff_cap=0.3, idle_poll=0.1
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=run_device, args=(config, [WatchDirSource(watch, poll=0.02)]), kwargs={"stop": stop}
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def test_device_delivers_everything_once_across_an_edge_outage(
    ctx: EdgeContext, tmp_path: Path
) -> None:
    key = _register(ctx, "porch-pi")
    edge = _Edge(ctx)
    edge.start()
    watch = tmp_path / "watch"
    try:
        with _device(edge.url, "porch-pi", key, tmp_path / "spool", watch):
            for i in range(5):
                _drop(watch, i)
            _wait(lambda: _stored(ctx) == 5, "the first five captures")

            edge.stop()  # the edge goes away; the device keeps capturing and spools
            for i in range(5, 12):
                _drop(watch, i)
            time.sleep(1.0)
            assert _stored(ctx) == 5
            assert len(list((tmp_path / "spool").rglob("*.jpg"))) >= 1

            edge.start()  # back on the same address: the spool drains
            _wait(lambda: _stored(ctx) == 12, "all twelve captures after the outage")
    finally:
        edge.stop()
    assert _seqs(ctx) == list(range(12))  # each once, none lost, none twice
    assert not [p for p in watch.iterdir() if p.is_file()]  # every dropped file was taken


def test_a_reflashed_device_resumes_above_the_edges_sequence(
    ctx: EdgeContext, tmp_path: Path
) -> None:
    key = _register(ctx, "shelf-pi")
    edge = _Edge(ctx)
    edge.start()
    try:
        with EdgeClient(edge.url, "shelf-pi", key) as client:  # its life before the reflash
            for seq in range(3):
                assert client.upload(jpeg_bytes(seed=100 + seq), seq).status_code == 201
        # Reflashed: a fresh spool and counter start again at 0 with new photos.
        watch = tmp_path / "watch"
        with _device(edge.url, "shelf-pi", key, tmp_path / "fresh-spool", watch):
            for i in range(4):
                _drop(watch, i)
            _wait(lambda: _stored(ctx) == 7, "the reflashed device's four captures")
    finally:
        edge.stop()
    seqs = _seqs(ctx)
    assert seqs[:3] == [0, 1, 2] and len(set(seqs)) == 7 and min(seqs[3:]) >= 3
    assert Spool(tmp_path / "fresh-spool").rejected() == []  # nothing was refused
