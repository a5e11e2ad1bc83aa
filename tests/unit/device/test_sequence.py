"""The device_seq counter: monotonic, durable across restarts, safe under concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from guardian.device.sequence import SequenceError, SequenceStore


def test_starts_at_zero_and_increments(tmp_path: Path) -> None:
    store = SequenceStore(tmp_path / "seq")
    assert [store.allocate() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert store.peek() == 5


def test_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "seq"
    first = SequenceStore(path)
    assert [first.allocate() for _ in range(3)] == [0, 1, 2]
    # A new process would build a new store over the same file.
    again = SequenceStore(path)
    assert again.allocate() == 3
    assert path.read_text() == "4\n"


def test_stray_temp_file_from_a_crash_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    store = SequenceStore(path)
    store.allocate()
    (tmp_path / ".seq.dead.tmp").write_text("999\n")  # a write that never got renamed
    assert store.allocate() == 1


def test_corrupt_file_refuses_rather_than_reuses(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    path.write_text("not a number")
    with pytest.raises(SequenceError):
        SequenceStore(path).allocate()
    path.write_text("-3\n")
    with pytest.raises(SequenceError):
        SequenceStore(path).allocate()


def test_advance_past(tmp_path: Path) -> None:
    store = SequenceStore(tmp_path / "seq")
    store.allocate()
    assert store.advance_past(41) is True
    assert store.allocate() == 42
    assert store.advance_past(10) is False
    assert store.allocate() == 43


def test_concurrent_threads_never_share_a_number(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        store = SequenceStore(path)
        mine = [store.allocate() for _ in range(50)]
        assert mine == sorted(mine)  # monotonic within one allocator
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(200))


def test_concurrent_processes_never_share_a_number(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    code = (
        "import sys; from pathlib import Path\n"
        "from guardian.device.sequence import SequenceStore\n"
        "s = SequenceStore(Path(sys.argv[1]))\n"
        "print(' '.join(str(s.allocate()) for _ in range(60)))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    per_process = [[int(x) for x in out.split()] for out in outs]
    for seqs in per_process:
        assert seqs == sorted(seqs)
    assert sorted(x for seqs in per_process for x in seqs) == list(range(240))
