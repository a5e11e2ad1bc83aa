"""The on-disk spool: ordering, idempotence, rejection, and recovery after crashes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from guardian.device.spool import Spool, SpoolBusy, SpoolCorrupt, SpoolError, seq_name

PNG = b"\x89PNG\r\n\x1a\n" + b"fake png body"


def _blob(n: int) -> bytes:
    return b"\xff\xd8\xff" + n.to_bytes(4, "big") * 10


def _run_crashing(spool_dir: Path, fault: str, script: str) -> None:
    """Run ``script`` against the spool in a subprocess that SIGKILLs itself at ``fault``."""
    code = (
        "import sys; from pathlib import Path\n"
        "from guardian.device.spool import Spool\n"
        "spool = Spool(Path(sys.argv[1]))\n" + script
    )
    env = {**os.environ, "GUARDIAN_FAULTS": fault}
    proc = subprocess.run([sys.executable, "-c", code, str(spool_dir)], env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the fault point was not reached"


def test_pending_is_oldest_seq_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for seq in (7, 2, 30, 11):
        spool.add(_blob(seq), seq, "2024-05-01T12:00:00Z", f"img{seq}.jpg")
    assert [i.seq for i in spool.pending()] == [2, 7, 11, 30]
    assert spool.pending_seqs() == [2, 7, 11, 30]
    head = spool.next_item()
    assert head is not None and head.seq == 2
    assert head.read() == _blob(2)
    assert head.captured_at == "2024-05-01T12:00:00Z"
    assert head.original_name == "img2.jpg"
    assert head.data_path.name == seq_name(2) + ".jpg"


def test_add_is_idempotent_for_same_bytes_and_refuses_different(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.add(_blob(1), 5, None, "a.jpg")
    assert spool.add(_blob(1), 5, None, "a.jpg") == first
    with pytest.raises(SpoolError):
        spool.add(_blob(2), 5, None, "a.jpg")
    assert spool.pending_seqs() == [5]
    assert spool.load(5) is not None and spool.load(5).read() == _blob(1)  # type: ignore[union-attr]


def test_unsafe_suffix_becomes_bin(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.add(PNG, 1, None, "x.json").data_path.suffix == ".bin"
    assert spool.add(PNG, 2, None, "weird.$$$").data_path.suffix == ".bin"
    assert spool.add(PNG, 3, None, "").data_path.suffix == ".bin"
    assert spool.add(PNG, 4, None, "ok.PNG").data_path.suffix == ".png"


def test_remove_forgets_item(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(1), 1, None, "a.jpg")
    spool.add(_blob(2), 2, None, "b.jpg")
    spool.remove(item)
    assert spool.pending_seqs() == [2]
    assert not item.data_path.exists()
    assert not item.meta_path.exists()


def test_reject_moves_item_with_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(1), 3, "2024-05-01T12:00:00Z", "a.jpg")
    spool.reject(item, 415, {"error": "not a JPEG or PNG"})
    assert spool.pending() == []
    assert spool.is_rejected(3)
    (meta,) = spool.rejected()
    assert meta["status"] == 415
    assert meta["error"] == {"error": "not a JPEG or PNG"}
    assert meta["device_seq"] == 3
    assert (spool.rejected_dir / item.data_path.name).read_bytes() == _blob(1)
    assert spool.highest_seq() == 3


def test_corrupted_data_is_detected(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(1), 1, None, "a.jpg")
    item.data_path.write_bytes(b"bit rot")
    with pytest.raises(SpoolCorrupt):
        item.read()


def test_lock_is_exclusive(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with spool.lock(), pytest.raises(SpoolBusy), Spool(tmp_path).lock():
        pass
    with Spool(tmp_path).lock():  # released on exit
        pass


def test_stray_temp_files_are_ignored_and_cleaned(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.add(_blob(1), 1, None, "a.jpg")
    (spool.pending_dir / f".{seq_name(2)}.jpg.ab12cd34.tmp").write_bytes(b"half")
    (spool.pending_dir / f".{seq_name(2)}.json.ab12cd34.tmp").write_bytes(b"{")
    (spool.rejected_dir / f".{seq_name(9)}.json.ab12cd34.tmp").write_bytes(b"{")
    assert spool.pending_seqs() == [1]
    report = spool.recover()
    assert report.temp_files_removed == 3
    assert sorted(p.name for p in spool.pending_dir.iterdir()) == [
        seq_name(1) + ".jpg",
        seq_name(1) + ".json",
    ]
    assert spool.highest_seq() == 1


def test_sidecar_without_data_is_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(1), 1, None, "a.jpg")
    spool.add(_blob(2), 2, None, "b.jpg")
    item.data_path.unlink()  # what a crash halfway through remove() leaves
    assert [i.seq for i in spool.pending()] == [2]
    assert spool.recover().orphan_meta_removed == 1
    assert spool.pending_seqs() == [2]


def test_data_without_sidecar_is_recovered(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(4), 4, "2024-05-01T12:00:00Z", "a.jpg")
    item.meta_path.unlink()  # what a crash halfway through add() leaves
    os.utime(item.data_path, (1_700_000_000, 1_700_000_000))
    assert spool.pending() == []
    assert spool.recover().orphan_data_recovered == 1
    (got,) = spool.pending()
    assert got.seq == 4 and got.recovered
    assert got.read() == _blob(4)
    assert got.captured_at == "2023-11-14T22:13:20Z"


def test_unreadable_sidecar_is_rebuilt_from_its_data(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(4), 4, None, "a.jpg")
    item.meta_path.write_text("{not json")
    report = spool.recover()
    assert report.orphan_data_recovered == 1
    assert [i.seq for i in spool.pending()] == [4]


def test_crash_between_data_and_sidecar(tmp_path: Path) -> None:
    _run_crashing(
        tmp_path,
        "device_spool_after_data",
        "spool.add(b'\\xff\\xd8\\xffhello', 3, '2024-05-01T12:00:00Z', 'x.jpg')\n",
    )
    spool = Spool(tmp_path)
    assert spool.pending() == []  # not committed yet
    spool.recover()
    (item,) = spool.pending()
    assert item.seq == 3 and item.read() == b"\xff\xd8\xffhello"
    assert item.sha256 == hashlib.sha256(b"\xff\xd8\xffhello").hexdigest()


def test_crash_halfway_through_remove(tmp_path: Path) -> None:
    Spool(tmp_path).add(_blob(1), 1, None, "a.jpg")
    Spool(tmp_path).add(_blob(2), 2, None, "b.jpg")
    _run_crashing(tmp_path, "device_spool_after_data_unlink", "spool.remove(spool.next_item())\n")
    spool = Spool(tmp_path)
    spool.recover()
    assert spool.pending_seqs() == [2]


@pytest.mark.parametrize("fault", ["device_reject_after_meta", "device_reject_after_move"])
def test_crash_halfway_through_reject(tmp_path: Path, fault: str) -> None:
    Spool(tmp_path).add(_blob(1), 1, None, "a.jpg")
    _run_crashing(tmp_path, fault, "spool.reject(spool.next_item(), 415, {'error': 'no'})\n")
    spool = Spool(tmp_path)
    spool.recover()
    if fault == "device_reject_after_meta":
        # Not moved yet: still pending, so it is sent (and refused) again; never lost.
        assert spool.pending_seqs() == [1]
    else:
        assert spool.pending_seqs() == []
        assert (spool.rejected_dir / (seq_name(1) + ".jpg")).read_bytes() == _blob(1)
        assert (
            json.loads((spool.rejected_dir / (seq_name(1) + ".json")).read_text())["status"] == 415
        )


def test_re_adding_a_recovered_item_restores_its_metadata(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.add(_blob(4), 4, "2024-05-01T12:00:00Z", "a.jpg")
    item.meta_path.unlink()
    spool.recover()
    assert spool.load(4).recovered  # type: ignore[union-attr]
    again = spool.add(_blob(4), 4, "2024-05-01T12:00:00Z", "a.jpg")
    assert not again.recovered
    assert again.captured_at == "2024-05-01T12:00:00Z" and again.original_name == "a.jpg"
    assert spool.pending() == [again]


def test_spool_is_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    item = spool.add(_blob(1), 1, None, "a.jpg")
    for path in (spool.root, spool.pending_dir, spool.rejected_dir):
        assert path.stat().st_mode & 0o077 == 0
    assert item.data_path.stat().st_mode & 0o077 == 0
    assert item.meta_path.stat().st_mode & 0o077 == 0
