"""``event_archives``: the CID and size of an archived event (nothing else about the blob)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from guardian.control.store.tables import Base, Id


class EventArchive(Base):
    """An event's archive at its relay (row-level security per tenant on PostgreSQL).

    Not a foreign key to ``events``: the relay may report the archive before the event's
    summary arrives.
    """

    __tablename__ = "event_archives"
    event_id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Id, index=True)
    cid: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    archived_at: Mapped[dt.datetime]
