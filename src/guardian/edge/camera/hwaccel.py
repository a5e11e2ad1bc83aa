"""Whether hardware (VAAPI) video decoding is usable on this machine."""

from __future__ import annotations

import functools
import glob
import logging

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

logger = logging.getLogger(__name__)

RENDER_NODES = "/dev/dri/renderD*"


def render_nodes() -> list[str]:
    """The DRI render nodes present (``/dev/dri/renderD128``, …), sorted."""
    return sorted(glob.glob(RENDER_NODES))


@functools.cache
def vaapi_available() -> bool:
    """A DRI render node exists AND PyAV's FFmpeg can create a VAAPI device on it (cached)."""
    nodes = render_nodes()
    if not nodes:
        return False
    if "vaapi" not in hwdevices_available():
        logger.info("VAAPI: %s present but this FFmpeg build has no vaapi support", nodes[0])
        return False
    try:
        HWAccel("vaapi", device=nodes[0]).create(av.Codec("h264", "r"))
    except (av.FFmpegError, OSError, RuntimeError, ValueError) as exc:
        logger.info("VAAPI: cannot create a device on %s: %s", nodes[0], exc)
        return False
    return True


def vaapi_hwaccel() -> HWAccel:
    """Decoding settings for the first render node, falling back to software per stream."""
    return HWAccel("vaapi", device=render_nodes()[0], allow_software_fallback=True)
