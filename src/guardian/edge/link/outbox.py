"""The outbox side of the link: rows to protobuf batches, acks to deletions, depth."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, session_factory
from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.store.tables import Outbox

logger = logging.getLogger(__name__)

EVENT_TOPIC = "event.upsert"


class PayloadError(ValueError):
    """An outbox payload that cannot be turned into its protobuf message."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as read for sending."""

    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    """How many rows wait for an ack, and since when."""

    rows: int
    oldest_created_at: dt.datetime | None

    def oldest_age_s(self, now: dt.datetime) -> float:
        """Age of the oldest row in seconds; 0 when the outbox is empty."""
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_created_at).total_seconds())


def timestamp(moment: dt.datetime) -> Timestamp:
    """A protobuf Timestamp of an aware (or UTC-naive) datetime."""
    ts = Timestamp()
    ts.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    return ts


def _parse_time(payload: dict[str, Any], name: str) -> Timestamp:
    value = payload.get(name)
    if not isinstance(value, str):
        raise PayloadError(f"event field {name!r} is missing")
    try:
        return timestamp(dt.datetime.fromisoformat(value))
    except ValueError as exc:
        raise PayloadError(f"event field {name!r} is not an ISO time: {value!r}") from exc


def event_from_payload(payload: dict[str, Any]) -> link_pb2.Event:
    """The Event message of an ``event.upsert`` payload (``guardian.edge.events.store.event_json``).

    ``details`` travels as JSON text so boxes and scores reach the relay unchanged.
    """
    try:
        return link_pb2.Event(
            id=str(payload["id"]),
            type=str(payload["type"]),
            source_kind=str(payload["source_kind"]),
            source_id=str(payload["source_id"]),
            started_at=_parse_time(payload, "started_at"),
            ended_at=_parse_time(payload, "ended_at"),
            person_count=int(payload.get("person_count") or 0),
            best_score=float(payload.get("best_score") or 0.0),
            details_json=json.dumps(payload.get("details") or {}, separators=(",", ":")),
            version=int(payload.get("version") or 1),
            created_at=_parse_time(payload, "created_at"),
            updated_at=_parse_time(payload, "updated_at"),
        )
    except KeyError as exc:
        raise PayloadError(f"event field {exc.args[0]!r} is missing") from exc
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"malformed event payload: {exc}") from exc


def payload_from_event(event: link_pb2.Event) -> dict[str, Any]:
    """The inverse of :func:`event_from_payload` (for tests and the relay's own checks)."""

    def iso(ts: Timestamp) -> str:
        return ts.ToDatetime(tzinfo=dt.UTC).isoformat()

    return {
        "id": event.id,
        "type": event.type,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "started_at": iso(event.started_at),
        "ended_at": iso(event.ended_at),
        "person_count": event.person_count,
        "best_score": event.best_score,
        "details": json.loads(event.details_json) if event.details_json else {},
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
        "version": event.version,
    }


def to_item(row: OutboxRow) -> link_pb2.OutboxItem:
    """The OutboxItem of a row; :class:`PayloadError` for an unknown topic or bad payload."""
    if row.topic != EVENT_TOPIC:
        raise PayloadError(f"unknown outbox topic {row.topic!r}")
    return link_pb2.OutboxItem(
        outbox_id=row.id,
        created_at=timestamp(row.created_at),
        event=event_from_payload(row.payload),
    )


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch to send, and the rows that could not be encoded (dropped with a log)."""

    batch: link_pb2.EventBatch
    sent_ids: tuple[int, ...]
    unsendable: tuple[tuple[int, str], ...]


def build_batch(batch_id: str, rows: Sequence[OutboxRow]) -> PreparedBatch:
    """An EventBatch of ``rows`` in outbox-id order; rows that do not encode are set apart."""
    items: list[link_pb2.OutboxItem] = []
    unsendable: list[tuple[int, str]] = []
    for row in sorted(rows, key=lambda r: r.id):
        try:
            items.append(to_item(row))
        except PayloadError as exc:
            unsendable.append((row.id, str(exc)))
    batch = link_pb2.EventBatch(batch_id=batch_id, items=items)
    return PreparedBatch(batch, tuple(i.outbox_id for i in items), tuple(unsendable))


def deletable_ids(sent_ids: Iterable[int], ack: link_pb2.Ack) -> list[int]:
    """The sent rows an Ack lets the edge delete: acked or rejected, never anything else."""
    done = set(ack.outbox_ids) | {r.outbox_id for r in ack.rejected}
    return sorted(i for i in set(sent_ids) if i in done)


def _read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def reader_engine(engine: Engine) -> Engine | None:
    """A read-only engine on ``engine``'s SQLite file whose reads take no lock; None otherwise.

    The edge's engine starts every transaction with ``BEGIN IMMEDIATE`` (the write lock), so
    reading the outbox through it would queue behind every writer of the edge. In WAL mode
    a plain SELECT outside a transaction reads the last commit without any lock.
    """
    if not is_sqlite(engine):
        return None
    reader = create_engine(engine.url, connect_args={"check_same_thread": False})
    event.listen(reader, "connect", _read_only)
    return reader


def reader_sessions(engine: Engine, reader: Engine | None) -> sessionmaker[Session]:
    """Sessions for reading the outbox: on ``reader`` when there is one, else on ``engine``."""
    return session_factory(reader if reader is not None else engine)


def read_batch(session: Session, limit: int, *, after_id: int = 0) -> list[OutboxRow]:
    """Up to ``limit`` outbox rows with the smallest ids above ``after_id``, in id order."""
    query = select(Outbox).where(Outbox.id > after_id).order_by(Outbox.id).limit(limit)
    rows = session.scalars(query).all()
    return [OutboxRow(r.id, r.topic, r.key, dict(r.payload), r.created_at) for r in rows]


def delete_rows(session: Session, ids: Sequence[int]) -> int:
    """Delete exactly the rows ``ids`` (in the caller's transaction); how many went."""
    if not ids:
        return 0
    result = session.execute(delete(Outbox).where(Outbox.id.in_(list(ids))))
    return int(getattr(result, "rowcount", 0) or 0)


def depth(session: Session) -> OutboxDepth:
    """Rows waiting in the outbox and the creation time of the oldest."""
    count, oldest = session.execute(
        select(func.count(Outbox.id), func.min(Outbox.created_at))
    ).one()
    if isinstance(oldest, str):  # SQLite aggregates lose the column type
        oldest = dt.datetime.fromisoformat(oldest)
    if isinstance(oldest, dt.datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return OutboxDepth(int(count or 0), oldest)
