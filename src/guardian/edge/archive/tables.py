"""The edge's record of archived events (shares the edge store's metadata and migrations)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from guardian.edge.store.tables import Base


class Archive(Base):
    """An event whose clip the relay holds sealed: the blob's CID and size."""

    __tablename__ = "archives"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    cid: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    archived_at: Mapped[dt.datetime]
