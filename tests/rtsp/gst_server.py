"""Serve one H.264 MP4 file over RTSP on 127.0.0.1 with GStreamer (run with /usr/bin/python3).

Usage: ``gst_server.py --port N --mount /cam --file F.mp4 [--loop]``

Without ``--loop`` every client connection gets its own pipeline (``filesrc ! qtdemux !
h264parse ! rtph264pay``) and sees the file from its first frame; the stream ends at the
end of the file. With ``--loop`` the server behaves like a live camera: one producer
pipeline plays the file in real time forever (seamless segment seeks, timestamps keep
increasing) and every client joins the shared live stream wherever it is (the first
picture it can decode is the next keyframe).

``--port 0`` picks a free port. Once listening, one line ``READY rtsp://127.0.0.1:PORT/MOUNT``
is printed on stdout. SIGTERM and SIGINT stop the server cleanly (exit status 0).

Only the standard library and PyGObject are imported: this runs outside the project venv.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import gi  # type: ignore[import-not-found]  # system python3-gi, not in the venv

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402

HOST = "127.0.0.1"
FILE_LAUNCH = (
    "( filesrc location={location} ! qtdemux ! h264parse config-interval=-1 "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
LIVE_LAUNCH = (
    "( appsrc name=src is-live=true do-timestamp=true format=time "
    "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
PRODUCER_LAUNCH = (
    "filesrc location={location} ! qtdemux ! h264parse config-interval=-1 "
    "! video/x-h264,stream-format=byte-stream,alignment=au "
    "! appsink name=sink sync=true emit-signals=true max-buffers=4 drop=false"
)


def _gst_quote(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


class LoopingProducer:
    """Plays the file in real time forever and fans its access units out to live clients."""

    def __init__(self, path: Path) -> None:
        self._pipeline: Any = Gst.parse_launch(PRODUCER_LAUNCH.format(location=_gst_quote(path)))
        self._sink: Any = self._pipeline.get_by_name("sink")
        self._sink.connect("new-sample", self._on_sample)
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._caps: Any = None
        bus = self._pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    def start(self) -> None:
        """Preroll, then play from the start as a segment so the end loops without a flush."""
        self._pipeline.set_state(Gst.State.PAUSED)
        change, _, _ = self._pipeline.get_state(10 * Gst.SECOND)
        if change == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("the producer pipeline failed to preroll")
        self._seek(Gst.SeekFlags.FLUSH)
        self._pipeline.set_state(Gst.State.PLAYING)

    def stop(self) -> None:
        self._pipeline.set_state(Gst.State.NULL)

    def add_client(self, appsrc: Any) -> None:
        with self._lock:
            if self._caps is not None:
                appsrc.set_property("caps", self._caps)
            self._clients.append(appsrc)

    def remove_client(self, appsrc: Any) -> None:
        with self._lock:
            if appsrc in self._clients:
                self._clients.remove(appsrc)

    def _seek(self, extra: Gst.SeekFlags) -> None:
        flags = Gst.SeekFlags.SEGMENT | Gst.SeekFlags.ACCURATE | extra
        ok = self._pipeline.seek(
            1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1
        )
        if not ok:
            sys.stderr.write("gst_server: the loop seek failed\n")

    def _on_message(self, _bus: Any, message: Any) -> None:
        if message.type == Gst.MessageType.SEGMENT_DONE:
            self._seek(Gst.SeekFlags(0))  # non-flushing: running time keeps increasing
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            sys.stderr.write(f"gst_server: producer error: {error.message} ({debug})\n")

    def _on_sample(self, sink: Any) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buffer = sample.get_buffer()
        with self._lock:
            self._caps = sample.get_caps()
            clients = list(self._clients)
        for appsrc in clients:
            if appsrc.get_property("caps") is None:
                appsrc.set_property("caps", self._caps)
            copy = buffer.copy()
            # The client pipeline stamps buffers with its own running time on arrival.
            copy.pts = Gst.CLOCK_TIME_NONE
            copy.dts = Gst.CLOCK_TIME_NONE
            appsrc.emit("push-buffer", copy)
        return Gst.FlowReturn.OK


def _live_factory(producer: LoopingProducer) -> Any:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LIVE_LAUNCH)
    factory.set_shared(True)

    def configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_by_name_recurse_up("src")
        producer.add_client(appsrc)
        media.connect("unprepared", lambda _media: producer.remove_client(appsrc))

    factory.connect("media-configure", configure)
    return factory


def _file_factory(path: Path) -> Any:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(FILE_LAUNCH.format(location=_gst_quote(path)))
    factory.set_shared(False)
    return factory


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--mount", default="/cam", help="mount path, e.g. /cam")
    parser.add_argument("--file", type=Path, required=True, help="H.264 video in an MP4 file")
    parser.add_argument("--loop", action="store_true", help="serve as a live, looping camera")
    args = parser.parse_args(argv)
    if not args.mount.startswith("/"):
        parser.error("--mount must start with /")
    if not args.file.is_file():
        parser.error(f"--file {args.file} does not exist")
    return args


def main(argv: list[str]) -> int:
    """Run the server until SIGTERM/SIGINT; return the exit status."""
    args = _parse_args(argv)
    Gst.init(None)
    loop = GLib.MainLoop()

    producer = LoopingProducer(args.file.resolve()) if args.loop else None
    if producer is not None:
        producer.start()
        factory = _live_factory(producer)
    else:
        factory = _file_factory(args.file.resolve())

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"gst_server: cannot listen on {HOST}:{args.port}\n")
        return 1

    def quit_loop(_signum: int, _frame: object) -> None:
        # Queued rather than called: a signal that lands before loop.run() must still stop it.
        GLib.idle_add(loop.quit)

    # PyGObject wakes its main loop for Python signal handlers, so these run promptly.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, quit_loop)

    sys.stdout.write(f"READY rtsp://{HOST}:{server.get_bound_port()}{args.mount}\n")
    sys.stdout.flush()
    try:
        loop.run()
    finally:
        if producer is not None:
            producer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
