"""The watched folder source: completeness, ordering, claiming, and crash recovery."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from guardian.device.sequence import SequenceStore
from guardian.device.sources import CLAIM_DIR, Intake, WatchDirSource
from guardian.device.spool import Spool, seq_name


def _png(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (n % 256, n // 256 % 256, 7)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def intake(tmp_path: Path) -> Intake:
    spool_dir = tmp_path / "spool"
    return Intake(Spool(spool_dir), SequenceStore(spool_dir / "device_seq"))


@pytest.fixture
def watch(tmp_path: Path) -> Path:
    path = tmp_path / "watch"
    path.mkdir()
    return path


def test_only_complete_visible_files_are_ready(watch: Path) -> None:
    source = WatchDirSource(watch)
    (watch / "a.png").write_bytes(_png(1))
    (watch / ".hidden.png").write_bytes(_png(2))
    (watch / "b.png.tmp").write_bytes(_png(3))
    (watch / "c.PART").write_bytes(_png(4))
    (watch / "empty.png").write_bytes(b"")
    (watch / "sub").mkdir()
    assert source.scan() == []  # first sight: maybe still being written
    assert source.scan() == [watch / "a.png"]


def test_growing_file_waits_until_stable(watch: Path) -> None:
    source = WatchDirSource(watch)
    path = watch / "slow.png"
    data = _png(1)
    path.write_bytes(data[:10])
    assert source.scan() == []
    with path.open("ab") as fh:
        fh.write(data[10:])
    assert source.scan() == []
    assert source.scan() == [path]


def test_ready_files_come_oldest_first(watch: Path) -> None:
    source = WatchDirSource(watch)
    for i, name in enumerate(["z.png", "a.png", "m.png"]):
        (watch / name).write_bytes(_png(i))
        os.utime(watch / name, ns=(1_000_000_000 * (10 + i),) * 2)
    source.scan()
    assert [p.name for p in source.scan()] == ["z.png", "a.png", "m.png"]


def test_ingest_moves_the_file_into_the_spool(
    watch: Path, intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    source = WatchDirSource(watch)
    path = watch / "shot.png"
    path.write_bytes(_png(5))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    item = source.ingest(path, intake)
    assert item is not None and item.seq == 0
    assert item.read() == _png(5)
    assert item.original_name == "shot.png"
    assert item.captured_at == "2023-11-14T22:13:20Z"
    assert not path.exists()
    assert list((watch / CLAIM_DIR).iterdir()) == []
    assert intake.wake.is_set()


def test_non_images_are_left_alone_with_one_warning(
    watch: Path, intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    source = WatchDirSource(watch, poll=0.01)
    (watch / "notes.txt").write_text("hello")
    (watch / "ok.png").write_bytes(_png(1))
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(intake, stop))
    with caplog.at_level(logging.WARNING, logger="guardian.device.sources"):
        thread.start()
        deadline = time.monotonic() + 10
        while not intake.spool.pending_seqs() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # several more scans
        stop.set()
        thread.join()
    assert (watch / "notes.txt").read_text() == "hello"
    assert [i.original_name for i in intake.spool.pending()] == ["ok.png"]
    warnings = [r for r in caplog.records if "not a JPEG or PNG" in r.getMessage()]
    assert len(warnings) == 1


def test_crash_after_claim_is_recovered_under_the_same_seq(watch: Path, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    (watch / "shot.png").write_bytes(_png(9))
    code = (
        "import sys; from pathlib import Path\n"
        "from guardian.device.sequence import SequenceStore\n"
        "from guardian.device.sources import Intake, WatchDirSource\n"
        "from guardian.device.spool import Spool\n"
        "spool = Spool(Path(sys.argv[2]))\n"
        "intake = Intake(spool, SequenceStore(Path(sys.argv[2]) / 'device_seq'))\n"
        "intake.allocate(); intake.allocate()\n"
        "WatchDirSource(Path(sys.argv[1])).ingest(Path(sys.argv[1]) / 'shot.png', intake)\n"
    )
    env = {**os.environ, "GUARDIAN_FAULTS": "device_watch_after_claim"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(watch), str(spool_dir)], env=env, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL
    assert not (watch / "shot.png").exists()  # claimed, not yet spooled
    spool = Spool(spool_dir)
    assert spool.pending() == []

    intake = Intake(spool, SequenceStore(spool_dir / "device_seq"))
    assert WatchDirSource(watch).recover(intake) == 1
    (item,) = spool.pending()
    assert item.seq == 2 and item.read() == _png(9) and item.original_name == "shot.png"
    assert intake.seqs.peek() == 3  # no new seq was spent on it
    assert list((watch / CLAIM_DIR).iterdir()) == []


def test_recovered_claim_of_a_rejected_seq_is_dropped(watch: Path, intake: Intake) -> None:
    item = intake.store(_png(1), 4, None, "a.png")
    intake.spool.reject(item, 415, {"error": "no"})
    (watch / CLAIM_DIR).mkdir()
    (watch / CLAIM_DIR / f"{seq_name(4)}--a.png").write_bytes(_png(1))
    WatchDirSource(watch).recover(intake)
    assert intake.spool.pending() == []
    assert list((watch / CLAIM_DIR).iterdir()) == []
