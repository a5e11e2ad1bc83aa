"""The device loop: sources → spool (seq allocated) → uploader draining the spool in seq order."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

from guardian.common import faults
from guardian.common.supervise import Supervisor, WorkerFactory
from guardian.device.client import EdgeClient
from guardian.device.delivery import Action, Backoff, decide, retry_wait
from guardian.device.sequence import SequenceStore
from guardian.device.sources import Intake
from guardian.device.spool import Spool, SpoolCorrupt, SpoolItem

logger = logging.getLogger(__name__)

SEQUENCE_FILE = "device_seq"


class Source(Protocol):
    """Anything that produces captures into an intake until stopped."""

    def run(self, intake: Intake, stop: threading.Event) -> None: ...


@dataclass
class DeviceConfig:
    """Where to deliver, as whom, where to spool, and how patiently."""

    edge_url: str
    device_id: str
    key: str
    spool_dir: Path
    timeout: float = 30.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_retry_after: float = 3600.0
    idle_poll: float = 5.0  # rescan an idle spool this often even without a wake-up


class Uploader:
    """Delivers the oldest pending item, one at a time, so the edge sees seqs in order."""

    def __init__(
        self,
        spool: Spool,
        client: EdgeClient,
        config: DeviceConfig,
        wake: threading.Event,
        seqs: SequenceStore | None = None,
    ) -> None:
        self.spool = spool
        self.client = client
        self.config = config
        self.wake = wake
        self.seqs = seqs
        self.backoff = Backoff(config.backoff_base, config.backoff_cap)

    def step(self) -> float | None:
        """Try the oldest item once; seconds to wait before the next try, None if idle."""
        item = self.spool.next_item()
        if item is None:
            return None
        try:
            data = item.read()
        except SpoolCorrupt as exc:
            path = self.spool.reject(item, None, {"error": str(exc)})
            logger.error("spooled capture corrupt on disk; moved aside", extra={"file": str(path)})
            return 0.0
        result = self.client.upload(
            data, item.seq, item.captured_at, filename=item.original_name or None
        )
        decision = decide(result)
        fields = {"device_seq": item.seq, "status": result.status_code}
        if decision.action is Action.DELIVERED:
            faults.hit("device_after_delivered")  # the edge has it; we have not forgotten it
            self.spool.remove(item)
            self.backoff.reset()
            logger.info(
                "capture delivered",
                extra={**fields, "capture_id": result.capture_id, "duplicate": result.duplicate},
            )
            return 0.0
        if decision.action is Action.RESEQUENCE and decision.next_seq is not None and self.seqs:
            self._resequence(item, data, decision.next_seq)
            logger.warning("capture resent under a new device_seq", extra={**fields,
                           "reason": decision.reason})  # fmt: skip
            return 0.0
        if decision.action in (Action.REJECT, Action.RESEQUENCE):
            error = result.body if result.body is not None else {"error": result.error}
            path = self.spool.reject(item, result.status_code, error)
            logger.error(
                "EDGE REFUSED A CAPTURE PERMANENTLY; moved to rejected/, never resent",
                extra={**fields, "reason": decision.reason, "file": str(path)},
            )
            return 0.0
        wait = retry_wait(decision, self.backoff, self.config.max_retry_after)
        level = logging.ERROR if result.status_code == 401 else logging.WARNING
        logger.log(
            level,
            "delivery failed; will retry",
            extra={**fields, "reason": decision.reason, "retry_in_s": round(wait, 2)},
        )
        return wait

    def _resequence(self, item: SpoolItem, data: bytes, next_seq: int) -> None:
        """Spool the same bytes under a fresh seq above the edge's, then drop the old item.

        Added before removed, so a crash between the two keeps the capture; the check for
        a pending copy makes the retry after such a crash not spool it a third time.
        """
        assert self.seqs is not None
        copy = next(
            (p for p in self.spool.pending() if p.sha256 == item.sha256 and p.seq > item.seq),
            None,
        )
        if copy is None:
            self.seqs.advance_past(next_seq - 1)
            self.spool.add(data, self.seqs.allocate(), item.captured_at, item.original_name)
        self.spool.remove(item)

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set (the spool keeps whatever is left)."""
        while not stop.is_set():
            self.wake.clear()  # before looking, so a capture spooled meanwhile is not missed
            wait = self.step()
            if wait is None:
                self.wake.wait(self.config.idle_poll)
            elif wait > 0:
                stop.wait(wait)


@contextmanager
def stop_on_signals(stop: threading.Event, wake: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` while inside (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()
        wake.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _source_factory(source: Source, intake: Intake) -> WorkerFactory:
    def make(stop: threading.Event) -> threading.Thread:
        return threading.Thread(target=source.run, args=(intake, stop))

    return make


def _uploader_factory(uploader: Uploader) -> WorkerFactory:
    def make(stop: threading.Event) -> threading.Thread:
        return threading.Thread(target=uploader.run, args=(stop,))

    return make


def run_device(
    config: DeviceConfig,
    sources: Sequence[Source],
    *,
    stop: threading.Event | None = None,
    client: EdgeClient | None = None,
) -> int:
    """Run sources and the uploader until ``stop`` (or a signal); 0 on a clean stop.

    Returns 1 when a worker kept crashing (so a service manager restarts the process).
    Raises SpoolBusy when another process runs on the same spool.
    """
    stop = stop or threading.Event()
    wake = threading.Event()
    spool = Spool(config.spool_dir)
    with spool.lock():
        spool.recover()
        seqs = SequenceStore(config.spool_dir / SEQUENCE_FILE)
        highest = spool.highest_seq()
        if highest is not None:
            seqs.advance_past(highest)
        intake = Intake(spool, seqs, wake)
        own_client = client is None
        client = client or EdgeClient(
            config.edge_url, config.device_id, config.key, timeout=config.timeout
        )
        uploader = Uploader(spool, client, config, wake, seqs)
        supervisor = Supervisor(stop_event=stop)
        for i, source in enumerate(sources):
            supervisor.add(f"source-{i}", _source_factory(source, intake))
        supervisor.add("uploader", _uploader_factory(uploader))
        logger.info(
            "device runner started",
            extra={
                "device_id": config.device_id,
                "edge": config.edge_url,
                "spool": str(config.spool_dir),
                "pending": len(spool.pending_seqs()),
            },
        )
        code = 0
        with stop_on_signals(stop, wake):
            supervisor.start()
            try:
                while not stop.wait(0.5):
                    if any(s["gave_up"] for s in supervisor.status().values()):
                        logger.error("a device worker keeps crashing; exiting")
                        code = 1
                        break
            finally:
                stop.set()
                wake.set()
                supervisor.stop(timeout=config.timeout + 5)
                if own_client:
                    client.close()
        logger.info("device runner stopped", extra={"pending": len(spool.pending_seqs())})
        return code
