"""``guardian relay run``: the edge link, the forwarder and the HTTP API in one process."""

from __future__ import annotations

import logging
import threading

import uvicorn
from cryptography.hazmat.primitives import hashes

from guardian.common.heap import keep_large_buffers
from guardian.relay.app import create_app
from guardian.relay.config import RelaySettings
from guardian.relay.context import RelayContext, build_context
from guardian.relay.enroll import control_redeemer
from guardian.relay.forwarder import Forwarder
from guardian.relay.link_server import LinkServer

logger = logging.getLogger(__name__)


class RelayService:
    """Starts and stops the link server and the forwarder, in that order and in reverse."""

    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.link = LinkServer(ctx, control_redeemer(ctx.control))
        self._stop = threading.Event()
        self._forwarder: threading.Thread | None = None
        if ctx.control is not None:
            forwarder = Forwarder(ctx, ctx.control)
            self._forwarder = threading.Thread(
                target=forwarder.run, args=(self._stop,), name="relay-forwarder", daemon=True
            )
        else:
            logger.warning("no control_url: summaries wait in the forward queue")

        self._reporter: threading.Thread | None = None
        if self.link.archive.ledger is not None:
            self._reporter = threading.Thread(
                target=self._report_archive, name="relay-archive-report", daemon=True
            )

    def start(self) -> None:
        """Serve the link and start forwarding."""
        self.link.start()
        if self._forwarder is not None:
            self._forwarder.start()
        if self._reporter is not None:
            self._reporter.start()

    def _report_archive(self) -> None:
        """Send pending archive reports and usage now and then: an upload's report that
        failed (control plane down) must not wait for the next upload."""
        ledger = self.link.archive.ledger
        assert ledger is not None
        while not self._stop.wait(self.ctx.settings.archive.report_seconds):
            try:
                ledger.sync()
            except Exception:  # a store hiccup must not end reporting for good
                logger.exception("archive report failed")

    def stop(self) -> None:
        """Stop forwarding, then the link; close the store and the control channel."""
        self._stop.set()
        self.ctx.forward_wake.set()
        for thread in (self._forwarder, self._reporter):
            if thread is not None:
                thread.join(timeout=15)
        self.link.stop()
        if self.ctx.control is not None:
            self.ctx.control.close()
        self.ctx.engine.dispose()


def serve(settings: RelaySettings) -> None:
    """Run the relay until SIGINT/SIGTERM (uvicorn handles the signals)."""
    keep_large_buffers()  # clip bytes stream through in ~1 MiB buffers
    ctx = build_context(settings)
    service = RelayService(ctx)
    service.start()
    logger.info("relay CA fingerprint %s", ctx.ca.cert.fingerprint(hashes.SHA256()).hex(":"))
    try:
        config = uvicorn.Config(
            create_app(ctx),
            host=settings.host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
        uvicorn.Server(config).run()
    finally:
        service.stop()
