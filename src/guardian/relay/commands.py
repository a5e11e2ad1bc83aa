"""Commands from the relay down to connected edges, and the edges' answers.

Each open ``EdgeLink.Connect`` stream registers its inbox here; :meth:`EdgeCommands.send`
puts a :class:`link_pb2.Command` into the inbox of the site's newest stream, which wakes the
stream at once and sends it down. The edge answers with ``CommandResult``, which the stream
hands to :meth:`EdgeCommands.result`, waking whoever waits for that command.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guardian.contracts.pb.guardian.v1 import link_pb2


class EdgeOffline(RuntimeError):
    """The site has no open link stream to this relay."""


ResultCallback = Callable[[link_pb2.CommandResult], None]


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    result: link_pb2.CommandResult | None = None
    on_result: ResultCallback | None = None


class EdgeCommands:
    """The per-site command channels of the open link streams (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inboxes: dict[str, list[queue.Queue[Any]]] = {}
        self._waiters: dict[str, _Waiter] = {}

    def register(self, site_id: str, inbox: queue.Queue[Any]) -> None:
        """A stream for ``site_id`` opened; commands go to its ``inbox`` from now on."""
        with self._lock:
            self._inboxes.setdefault(site_id, []).append(inbox)

    def unregister(self, site_id: str, inbox: queue.Queue[Any]) -> None:
        """The stream closed."""
        with self._lock:
            inboxes = self._inboxes.get(site_id, [])
            if inbox in inboxes:
                inboxes.remove(inbox)
            if not inboxes:
                self._inboxes.pop(site_id, None)

    def is_online(self, site_id: str) -> bool:
        """Whether the site has an open stream."""
        with self._lock:
            return bool(self._inboxes.get(site_id))

    def send(
        self, site_id: str, command: link_pb2.Command, on_result: ResultCallback | None = None
    ) -> str:
        """Queue ``command`` on the site's newest stream; returns its command id.

        Assigns a command id when it has none. Raises :class:`EdgeOffline` when the
        site has no open stream. ``on_result`` (if given) is called with the edge's answer,
        on the link stream's thread: it must not block; its bookkeeping is dropped then.
        """
        if not command.command_id:
            command.command_id = str(uuid.uuid4())
        with self._lock:
            inboxes = self._inboxes.get(site_id)
            if not inboxes:
                raise EdgeOffline(f"site {site_id} is not connected to this relay")
            self._waiters[command.command_id] = _Waiter(on_result=on_result)
            inboxes[-1].put(command)
        return command.command_id

    def result(self, result: link_pb2.CommandResult) -> None:
        """The edge answered a command."""
        with self._lock:
            waiter = self._waiters.get(result.command_id)
            if waiter is not None and waiter.on_result is not None:
                del self._waiters[result.command_id]
        if waiter is not None:
            waiter.result = result
            waiter.done.set()
            if waiter.on_result is not None:
                waiter.on_result(result)

    def wait(self, command_id: str, timeout: float) -> link_pb2.CommandResult | None:
        """The edge's answer to ``command_id``, or None when none came within ``timeout``."""
        with self._lock:
            waiter = self._waiters.get(command_id)
        if waiter is None:
            return None
        waiter.done.wait(timeout)
        return waiter.result

    def forget(self, command_id: str) -> None:
        """Drop the bookkeeping of a command nobody waits for any more."""
        with self._lock:
            self._waiters.pop(command_id, None)
