"""Asking an edge for (a range of) an event's media over the link: one transfer per request."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.relay.commands import EdgeCommands
from guardian.relay.media.transfer import MediaHead, Transfer
from guardian.relay.media.upload import MediaUploads

KINDS = {"clip": link_pb2.MEDIA_KIND_CLIP, "snapshot": link_pb2.MEDIA_KIND_SNAPSHOT}
PROBE_OFFSET = 2**62  # past any file's end: the edge answers one empty chunk with the size
_SIZES_KEPT = 1024


class MediaFetcher:
    """Starts ``StreamClip`` commands whose uploads feed :class:`Transfer` objects."""

    def __init__(self, commands: EdgeCommands, uploads: MediaUploads) -> None:
        self._commands = commands
        self._uploads = uploads
        self._lock = threading.Lock()
        self._heads: OrderedDict[tuple[str, str], MediaHead] = OrderedDict()

    def start(
        self, site_id: str, event_id: str, kind: str, offset: int = 0, length: int = 0
    ) -> Transfer:
        """Ask the site's edge for ``length`` bytes (0: all) from ``offset``.

        Raises ``relay.commands.EdgeOffline`` when the site has no open link.
        """
        command_id = str(uuid.uuid4())
        transfer = Transfer(command_id, site_id, event_id)
        self._uploads.expect(transfer)
        command = link_pb2.Command(
            command_id=command_id,
            stream_clip=link_pb2.StreamClip(
                event_id=event_id, kind=KINDS[kind], offset=offset, length=length
            ),
        )

        def answered(result: link_pb2.CommandResult) -> None:
            if not result.ok:
                transfer.fail(result.error)

        try:
            self._commands.send(site_id, command, on_result=answered)
        except Exception:
            self._uploads.forget(command_id)
            raise
        return transfer

    def finish(self, transfer: Transfer) -> None:
        """The response is done with ``transfer``: end its upload and drop the routing."""
        transfer.cancel()
        self._uploads.forget(transfer.command_id)
        self._commands.forget(transfer.command_id)

    def remember(self, event_id: str, kind: str, head: MediaHead) -> None:
        """Keep the size and type of a media file (for HEAD and suffix ranges)."""
        with self._lock:
            self._heads[(event_id, kind)] = MediaHead(head.total_size, head.content_type, 0)
            self._heads.move_to_end((event_id, kind))
            while len(self._heads) > _SIZES_KEPT:
                self._heads.popitem(last=False)

    def known(self, event_id: str, kind: str) -> MediaHead | None:
        """The remembered size and type, if any."""
        with self._lock:
            return self._heads.get((event_id, kind))
