"""Loopback ports for services that tests start, stop and start again.

Ports come from below the kernel's ephemeral range (32768-60999 on Linux): a port from
that range can be taken, between a stop and a restart, as the local end of some outgoing
connection. Probing that a port is free is not enough when tests run on several pytest-xdist
workers: two workers can probe the same free port before either binds it. So each worker
draws from its own slice of the range, and a process never hands out a port twice.
"""

from __future__ import annotations

import os
import random

from guardian.demo.orchestrate import port_is_free

LOW, HIGH = 20000, 32000
_given: set[int] = set()


def worker_slice(low: int = LOW, high: int = HIGH) -> range:
    """This xdist worker's share of ``[low, high)`` (all of it without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    span = (high - low) // max(count, 1)
    start = low + (index % max(count, 1)) * span
    return range(start, start + span)


def reserve_port(*neighbours: int) -> int:
    """A free port (and free ``port + d`` for each ``d`` in ``neighbours``) no other test of
    this run is given."""
    ports = worker_slice()
    while True:
        port = random.randrange(ports.start, ports.stop)
        wanted = [port, *(port + d for d in neighbours)]
        if any(p in _given or p not in ports for p in wanted):
            continue
        if all(port_is_free(p) for p in wanted):
            _given.update(wanted)
            return port
