"""glibc malloc thresholds for processes that stream large transient buffers (clip bytes)."""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Buffers below this come from the heap (glibc's default starts at 128 KiB).
MMAP_THRESHOLD = 4 * 1024 * 1024
#: Free memory at the top of a heap kept for reuse before it goes back to the kernel.
TRIM_THRESHOLD = 32 * 1024 * 1024


def keep_large_buffers() -> bool:
    """Serve buffers below 4 MiB from the heap and keep up to 32 MiB of it free for reuse.

    Clip bytes cross the link as ~1 MiB buffers (gRPC messages, protobuf fields, HTTP
    writes). With glibc's defaults each is mapped fresh from the kernel and unmapped (or
    the heap trimmed) when freed, so every MiB costs 256 page faults and zeroed pages: about
    a third of the relay's CPU time per streamed clip. Process-wide; False where there is no
    glibc ``mallopt`` (another libc: nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    done = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and done
    if not done:
        logger.debug("mallopt refused the streaming thresholds")
    return done
