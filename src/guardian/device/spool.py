"""The crash-safe on-disk spool of captures waiting to be delivered to the edge."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guardian.common import faults
from guardian.common.fsutil import fsync_dir
from guardian.device.durable import is_temp, write_atomic

logger = logging.getLogger(__name__)

META_SUFFIX = ".json"
_SEQ_WIDTH = 20  # zero-padded so names sort like numbers
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,5}$")


class SpoolError(RuntimeError):
    """The spool refused an operation (it would lose or overwrite a capture)."""


class SpoolBusy(SpoolError):
    """Another process is running on this spool."""


class SpoolCorrupt(SpoolError):
    """A spooled file no longer matches the digest recorded when it was spooled."""


@dataclass(frozen=True)
class SpoolItem:
    """One pending capture: its bytes live in ``data_path``, its metadata in ``meta_path``."""

    seq: int
    captured_at: str | None
    original_name: str
    sha256: str
    size: int
    data_path: Path
    meta_path: Path
    recovered: bool = False

    def read(self) -> bytes:
        """The capture's bytes, checked against the digest taken when it was spooled."""
        data = self.data_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise SpoolCorrupt(f"{self.data_path} changed on disk since it was spooled")
        return data


@dataclass
class RecoveryReport:
    """What :meth:`Spool.recover` cleaned up after a crash."""

    temp_files_removed: int = 0
    orphan_meta_removed: int = 0
    orphan_data_recovered: int = 0


def seq_name(seq: int) -> str:
    """The file stem of a spooled item (sorts in seq order)."""
    return f"{seq:0{_SEQ_WIDTH}d}"


def _parse_seq(stem: str) -> int | None:
    return int(stem) if stem.isdigit() else None


def _data_suffix(original_name: str) -> str:
    suffix = Path(original_name).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) and suffix != META_SUFFIX else ".bin"


def _utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Spool:
    """Pending captures as ``pending/<seq>.<ext>`` plus a ``pending/<seq>.json`` sidecar.

    Write order: the data file (temp → fsync → rename → fsync dir), then the sidecar the same
    way; the sidecar commits the item. Delivered items lose the data file before the sidecar.
    So after a crash, a data file without a sidecar is an uncommitted capture (recovered: its
    seq is in its name) and a sidecar without a data file is a finished removal (dropped).
    Re-sending a recovered item that the edge already has is harmless: same seq, same bytes
    → 200 duplicate. Permanently refused items move to ``rejected/`` with the edge's error.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pending_dir = root / "pending"
        self.rejected_dir = root / "rejected"
        # Captures show people: private to the device user (files are created 0600).
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for directory in (self.pending_dir, self.rejected_dir):
            directory.mkdir(exist_ok=True, mode=0o700)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the spool exclusively (one uploader per spool); raises SpoolBusy if taken."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise SpoolBusy(f"spool {self.root} is in use by another process") from exc
            yield
        finally:
            os.close(fd)

    # --- writing -------------------------------------------------------------------------

    def add(self, data: bytes, seq: int, captured_at: str | None, original_name: str) -> SpoolItem:
        """Spool a capture under ``seq`` durably; re-adding the same bytes is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        existing = self.load(seq)
        if existing is not None:
            if existing.sha256 != digest:
                raise SpoolError(f"seq {seq} is already spooled with different bytes")
            if not existing.recovered:
                return existing
            # A crash recovered the data with guessed metadata; the caller knows better.
            data_path = existing.data_path
        else:
            data_path = self.pending_dir / (seq_name(seq) + _data_suffix(original_name))
            write_atomic(data_path, data)
            faults.hit("device_spool_after_data")
        meta = {
            "device_seq": seq,
            "captured_at": captured_at,
            "original_name": original_name,
            "file": data_path.name,
            "sha256": digest,
            "size": len(data),
            "spooled_at": _utc_iso(time.time()),
        }
        write_atomic(self._meta_path(seq), _dump(meta))  # the commit point
        return self._item(meta, self._meta_path(seq))

    def remove(self, item: SpoolItem) -> None:
        """Forget a delivered item (data first, then sidecar: see the class docstring)."""
        item.data_path.unlink(missing_ok=True)
        faults.hit("device_spool_after_data_unlink")
        item.meta_path.unlink(missing_ok=True)
        fsync_dir(self.pending_dir)

    def reject(self, item: SpoolItem, status: int | None, error: Mapping[str, Any]) -> Path:
        """Move an item the edge will never accept to ``rejected/``; returns its new sidecar."""
        meta = _load_json(item.meta_path) or {}
        meta.update(status=status, error=dict(error), rejected_at=_utc_iso(time.time()))
        rejected_meta = self.rejected_dir / item.meta_path.name
        # Sidecar first: a crash before the data moves leaves the item pending (re-sent and
        # re-rejected); a crash after leaves a pending sidecar without data (dropped).
        write_atomic(rejected_meta, _dump(meta))
        faults.hit("device_reject_after_meta")
        if item.data_path.exists():
            os.replace(item.data_path, self.rejected_dir / item.data_path.name)
            fsync_dir(self.rejected_dir)
        faults.hit("device_reject_after_move")
        item.meta_path.unlink(missing_ok=True)
        fsync_dir(self.pending_dir)
        return rejected_meta

    # --- reading -------------------------------------------------------------------------

    def _meta_path(self, seq: int) -> Path:
        return self.pending_dir / (seq_name(seq) + META_SUFFIX)

    def _item(self, meta: Mapping[str, Any], meta_path: Path) -> SpoolItem:
        return SpoolItem(
            seq=int(meta["device_seq"]),
            captured_at=meta.get("captured_at"),
            original_name=str(meta.get("original_name") or ""),
            sha256=str(meta["sha256"]),
            size=int(meta["size"]),
            data_path=self.pending_dir / str(meta["file"]),
            meta_path=meta_path,
            recovered=bool(meta.get("recovered")),
        )

    def load(self, seq: int) -> SpoolItem | None:
        """The committed pending item with this seq, or None."""
        meta_path = self._meta_path(seq)
        meta = _load_json(meta_path)
        if meta is None:
            return None
        item = self._item(meta, meta_path)
        return item if item.data_path.exists() else None

    def pending_seqs(self) -> list[int]:
        """Seqs of committed pending items, oldest first (cheap: names only)."""
        seqs = []
        for name in os.listdir(self.pending_dir):
            if name.startswith(".") or not name.endswith(META_SUFFIX):
                continue
            seq = _parse_seq(name.removesuffix(META_SUFFIX))
            if seq is not None:
                seqs.append(seq)
        return sorted(seqs)

    def pending(self) -> list[SpoolItem]:
        """All committed pending items, oldest (lowest seq) first."""
        items = (self.load(seq) for seq in self.pending_seqs())
        return [item for item in items if item is not None]

    def next_item(self) -> SpoolItem | None:
        """The oldest committed pending item."""
        for seq in self.pending_seqs():
            item = self.load(seq)
            if item is not None:
                return item
        return None

    def is_rejected(self, seq: int) -> bool:
        """Whether the edge has permanently refused this seq."""
        return (self.rejected_dir / (seq_name(seq) + META_SUFFIX)).exists()

    def rejected(self) -> list[dict[str, Any]]:
        """Sidecars (with status and error) of rejected items, oldest first."""
        out = []
        for path in sorted(self.rejected_dir.glob("[0-9]*" + META_SUFFIX)):
            meta = _load_json(path)
            if meta is not None:
                out.append(meta)
        return out

    def highest_seq(self) -> int | None:
        """The highest seq anywhere in the spool (pending or rejected), or None if empty."""
        seqs = [
            seq
            for directory in (self.pending_dir, self.rejected_dir)
            for name in os.listdir(directory)
            if not name.startswith(".") and (seq := _parse_seq(name.split(".", 1)[0])) is not None
        ]
        return max(seqs, default=None)

    # --- crash recovery ------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Repair what a crash can leave behind; call once at start, holding :meth:`lock`."""
        report = RecoveryReport()
        for directory in (self.pending_dir, self.rejected_dir):
            for path in directory.iterdir():
                if is_temp(path):
                    path.unlink()
                    report.temp_files_removed += 1
        data_files: dict[int, Path] = {}
        metas: set[int] = set()
        for path in self.pending_dir.iterdir():
            seq = _parse_seq(path.name.split(".", 1)[0])
            if seq is None or path.name.startswith("."):
                continue
            if path.name.endswith(META_SUFFIX):
                if _load_json(path) is None:  # unreadable: rebuilt below if its data exists
                    path.unlink()
                else:
                    metas.add(seq)
            else:
                data_files[seq] = path
        for seq in sorted(metas - data_files.keys()):
            self._meta_path(seq).unlink()
            report.orphan_meta_removed += 1
        for seq in sorted(data_files.keys() - metas):
            self._recover_data(seq, data_files[seq])
            report.orphan_data_recovered += 1
        fsync_dir(self.pending_dir)
        if report != RecoveryReport():
            logger.warning("spool recovered after a crash", extra=vars(report))
        return report

    def _recover_data(self, seq: int, data_path: Path) -> None:
        # A data file whose sidecar never got written: the capture time is lost, the file's
        # mtime is the best estimate. If the edge already has it, it answers 200 duplicate.
        data = data_path.read_bytes()
        meta = {
            "device_seq": seq,
            "captured_at": _utc_iso(data_path.stat().st_mtime),
            "original_name": data_path.name,
            "file": data_path.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "spooled_at": _utc_iso(time.time()),
            "recovered": True,
        }
        write_atomic(self._meta_path(seq), _dump(meta), sync_dir=False)


def _dump(meta: Mapping[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode()


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None
