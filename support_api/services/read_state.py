"""Read positions: how far each participant has read each session."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from support_api.lib.access import get_session
from support_api.lib.auth import Principal
from support_api.lib.events import session_room, staff_room, user_room
from support_api.lib.runtime import Runtime
from support_api.models import ReadState, utcnow
from support_api.services.push_outbox import enqueue_read
from support_api.services.queries import unread_counts


@lru_cache(maxsize=4)
def _advance_statement(dialect: str) -> Insert:
    """The upsert, built once per dialect: it runs with every message sent, and building it
    per call was the largest single cost of a send (bench/README.md, "Where the time goes")."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ReadState.__table__
    stmt = insert(table).values(session_id=bindparam("session_id"), reader_type=bindparam("reader_type"),
                                reader_id=bindparam("reader_id"), last_read_seq=bindparam("seq"),
                                updated_at=bindparam("now"))
    return forward_only(stmt)


def forward_only(stmt: Any) -> Any:
    """`stmt`, an INSERT of read positions (PostgreSQL's or SQLite's), as an upsert that never
    moves a position backwards. Also used by the send statement (services/messages.py)."""
    table = ReadState.__table__
    return stmt.on_conflict_do_update(
        index_elements=[table.c.session_id, table.c.reader_type, table.c.reader_id],
        set_={
            "last_read_seq": case(
                (table.c.last_read_seq > stmt.excluded.last_read_seq, table.c.last_read_seq),
                else_=stmt.excluded.last_read_seq,
            ),
            "updated_at": stmt.excluded.updated_at,
        },
    )


def advance_read(db: Session | Connection, session_id: str, reader_type: str, reader_id: str, seq: int) -> None:
    """Move a reader's position forward to `seq`; never backwards, safe under concurrency."""
    advance_reads(db, [{"session_id": session_id, "reader_type": reader_type, "reader_id": reader_id, "seq": seq,
                        "now": utcnow()}])


def advance_reads(db: Session | Connection, positions: list[dict[str, object]]) -> None:
    """`advance_read` for many readers at once (one executemany): dicts of session_id,
    reader_type, reader_id, seq and now. Through a session, pending inserts (the message)
    flush first, as the foreign key needs."""
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    db.execute(_advance_statement(dialect.name), positions)


def mark_read(rt: Runtime, principal: Principal, session_id: str, seq: int) -> dict[str, object]:
    """Record that `principal` has read up to `seq` (clamped to the session's last seq).

    Emits `session:read` to the session room and to the reader's own sockets, so their
    other devices clear the badge too.
    """
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id)
        seq = min(seq, chat.last_seq)
        enqueue_read(db, chat, principal.participant_type, principal.id, seq)
        advance_read(db, chat.id, principal.participant_type, principal.id, seq)
        db.flush()
        position = db.get(ReadState, (chat.id, principal.participant_type, principal.id))
        last_read_seq = position.last_read_seq if position else seq
    with rt.db.read() as db:
        unread = unread_counts(db, principal, [session_id]).get(session_id, 0)
    event = {
        "session_id": session_id,
        "reader": {"type": principal.participant_type, "id": principal.id},
        "last_read_seq": last_read_seq,
    }
    own_room = user_room(principal.id) if principal.participant_type == "user" else staff_room(principal.id)
    rt.events.emit("session:read", event, [session_room(session_id), own_room])
    return {**event, "unread_count": unread}
