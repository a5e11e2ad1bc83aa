"""Capture sources: the intake they feed, a folder a sensor script fills, and the cameras."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from guardian.common import faults
from guardian.common.fsutil import fsync_dir
from guardian.device.camera import (
    CameraError,
    CameraLoop,
    CameraSource,
    PiCameraSource,
    open_camera,
)
from guardian.device.client import sniff_image
from guardian.device.durable import unlink_durable
from guardian.device.sequence import SequenceStore
from guardian.device.spool import Spool, SpoolItem, seq_name

# The camera classes live in guardian.device.camera (the only module that touches OpenCV or
# picamera2, lazily); they are re-exported so every source is importable from here.
__all__ = [
    "CameraError",
    "CameraLoop",
    "CameraSource",
    "Intake",
    "PiCameraSource",
    "WatchDirSource",
    "open_camera",
]

logger = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part")
CLAIM_DIR = ".guardian-claimed"
_CLAIM_SEP = "--"


class Intake:
    """Where sources put captures: allocate a seq first, spool durably, wake the uploader."""

    def __init__(self, spool: Spool, seqs: SequenceStore, wake: threading.Event | None = None):
        self.spool = spool
        self.seqs = seqs
        self.wake = wake or threading.Event()

    def allocate(self) -> int:
        """Reserve the next ``device_seq`` (a crash after this skips it, never reuses it)."""
        return self.seqs.allocate()

    def store(self, data: bytes, seq: int, captured_at: str | None, name: str) -> SpoolItem:
        """Spool bytes under an allocated seq and wake the uploader."""
        item = self.spool.add(data, seq, captured_at, name)
        logger.debug("capture spooled", extra={"device_seq": seq, "bytes": len(data)})
        self.wake.set()
        return item

    def capture(self, data: bytes, captured_at: str | None, name: str) -> SpoolItem:
        """Allocate a seq and spool."""
        return self.store(data, self.allocate(), captured_at, name)


# --- a folder filled by a sensor script ----------------------------------------------------


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


class WatchDirSource:
    """Picks up complete image files dropped into ``directory`` and moves them into the spool.

    A file is complete when its size and mtime were the same on two consecutive scans (a
    writer should still write ``x.tmp`` and rename). Each file is first renamed into
    ``.guardian-claimed/<seq>--<name>`` (same filesystem: atomic), then spooled, then
    deleted; a claimed file found at start is re-spooled under the seq in its name, so a
    crash anywhere neither loses the file nor sends it under two seqs.
    """

    def __init__(self, directory: Path, *, poll: float = 1.0) -> None:
        self.directory = directory
        self.poll = poll
        self.claim_dir = directory / CLAIM_DIR
        self._seen: dict[str, tuple[int, int]] = {}
        self._warned: set[tuple[str, int, int]] = set()

    def scan(self) -> list[Path]:
        """Files that did not change since the previous scan, oldest first."""
        current: dict[str, tuple[int, int]] = {}
        for entry in os.scandir(self.directory):
            if _ignored(entry.name) or not entry.is_file():
                continue
            st = entry.stat()
            current[entry.name] = (st.st_size, st.st_mtime_ns)
        ready = [
            name
            for name, sig in current.items()
            if sig[0] > 0 and self._seen.get(name) == sig and (name, *sig) not in self._warned
        ]
        self._seen = current
        self._warned &= {(name, *sig) for name, sig in current.items()}
        ready.sort(key=lambda name: (current[name][1], name))
        return [self.directory / name for name in ready]

    def ingest(self, path: Path, intake: Intake) -> SpoolItem | None:
        """Claim one complete file under a fresh seq and spool it (None: skipped)."""
        try:
            st = path.stat()
            with path.open("rb") as fh:
                head = fh.read(16)
        except FileNotFoundError:  # taken away between scan and ingest
            return None
        if sniff_image(head) is None:
            self._warned.add((path.name, st.st_size, st.st_mtime_ns))
            logger.warning("not a JPEG or PNG; leaving it", extra={"file": str(path)})
            return None
        self.claim_dir.mkdir(exist_ok=True, mode=0o700)
        seq = intake.allocate()
        claimed = self.claim_dir / f"{seq_name(seq)}{_CLAIM_SEP}{path.name}"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:  # the sensor script took it back; the seq is just skipped
            return None
        fsync_dir(self.claim_dir)
        fsync_dir(self.directory)
        faults.hit("device_watch_after_claim")
        return self._spool_claimed(claimed, intake)

    def _spool_claimed(self, claimed: Path, intake: Intake) -> SpoolItem | None:
        seq_text, _, original = claimed.name.partition(_CLAIM_SEP)
        seq = int(seq_text)
        item = None
        if not intake.spool.is_rejected(seq):
            mtime = claimed.stat().st_mtime
            captured_at = datetime.fromtimestamp(mtime, UTC).isoformat().replace("+00:00", "Z")
            item = intake.store(claimed.read_bytes(), seq, captured_at, original)
        unlink_durable(claimed)
        return item

    def recover(self, intake: Intake) -> int:
        """Re-spool files claimed before a crash; returns how many."""
        if not self.claim_dir.is_dir():
            return 0
        claimed = sorted(
            p for p in self.claim_dir.iterdir() if p.name[:1].isdigit() and _CLAIM_SEP in p.name
        )
        for path in claimed:
            self._spool_claimed(path, intake)
        if claimed:
            logger.warning("re-spooled files claimed before a crash", extra={"count": len(claimed)})
        return len(claimed)

    def run(self, intake: Intake, stop: threading.Event) -> None:
        """Scan and ingest until ``stop`` is set."""
        while not stop.is_set():
            try:
                # Also retries a claimed file whose spooling failed (e.g. disk full) last round.
                self.recover(intake)
            except OSError:
                logger.exception("could not spool a claimed file")
            for path in self.scan():
                if stop.is_set():
                    break
                try:
                    self.ingest(path, intake)
                except OSError:  # unreadable file, full disk: it stays in place for next time
                    logger.exception("could not ingest a file", extra={"file": str(path)})
            stop.wait(self.poll)
