"""Read-side queries shared by REST and Socket.IO: listings, history, unread counts."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import ColumnElement, and_, bindparam, func, not_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from support_api.lib import cursors
from support_api.lib.access import visible_sessions
from support_api.lib.auth import Principal
from support_api.models import Attachment, ChatSession, Message, ReadState, SessionStatus


def _others_unread(reader_type: Any, reader_id: Any) -> ColumnElement[bool]:
    """Messages written by someone other than the reader after their read position (the
    reader's type and id as values or bound parameters)."""
    position = (
        select(ReadState.last_read_seq)
        .where(
            ReadState.session_id == Message.session_id,
            ReadState.reader_type == reader_type,
            ReadState.reader_id == reader_id,
        )
        .scalar_subquery()
    )
    return and_(
        Message.seq > func.coalesce(position, 0),
        not_(and_(Message.sender_type == reader_type, Message.sender_id == reader_id)),
    )


# Built once with bound parameters: an `in_` of a literal list builds an expanding parameter
# whose objects refer to each other, left for the garbage collector by every listing
# (tests/test_reference_cycles.py).
_UNREAD_COUNTS = (
    select(Message.session_id, func.count())
    .where(Message.session_id.in_(bindparam("ids", expanding=True)),
           _others_unread(bindparam("reader_type"), bindparam("reader_id")))
    .group_by(Message.session_id)
)


def unread_counts(db: Session, principal: Principal, session_ids: Iterable[str]) -> dict[str, int]:
    ids = list(session_ids)
    if not ids:
        return {}
    rows = db.execute(_UNREAD_COUNTS, {"ids": ids, "reader_type": principal.participant_type,
                                       "reader_id": principal.id}).all()
    return {session_id: count for session_id, count in rows}


def unread_summary(db: Session, principal: Principal) -> dict[str, int]:
    """The app badge: a user's own sessions; an operator's open sessions assigned to them."""
    if principal.participant_type == "user":
        mine = ChatSession.user_id == principal.id
    else:
        mine = and_(ChatSession.operator_id == principal.id, ChatSession.status != SessionStatus.CLOSED.value)
    sessions, messages = db.execute(
        select(func.count(func.distinct(Message.session_id)), func.count())
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(mine, _others_unread(principal.participant_type, principal.id))
    ).one()
    return {"sessions": sessions, "messages": messages}


# A cursor names a session id this API issued; anything else (NUL bytes, huge strings) never reaches SQL.


def list_sessions(db: Session, principal: Principal, *, status: str | None = None, category: str | None = None,
                  assigned_to_me: bool = False, order: str = "desc", limit: int = 20,
                  cursor: str | None = None, user_id: str | None = None) -> tuple[list[ChatSession], str | None]:
    """Sessions the caller may see, newest first (or oldest first with `order=asc`)."""
    query = select(ChatSession).where(visible_sessions(principal))
    if user_id:
        query = query.where(ChatSession.user_id == user_id)
    if status:
        query = query.where(ChatSession.status == status)
    if category:
        query = query.where(ChatSession.category == category)
    if assigned_to_me:
        query = query.where(ChatSession.operator_id == principal.id)
    if cursor:
        query = query.where(cursors.beyond(ChatSession.created_at, ChatSession.id, cursor, "ses",
                                           descending=order == "desc"))
    if order == "desc":
        query = query.order_by(ChatSession.created_at.desc(), ChatSession.id.desc())
    else:
        query = query.order_by(ChatSession.created_at.asc(), ChatSession.id.asc())
    rows = list(db.execute(query.limit(limit + 1)).scalars())
    next_cursor = cursors.encode(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# Attachments of up to this many messages per query (selectinload's own chunk size).
_ATTACHMENT_CHUNK = 500
_ATTACHMENTS_OF = (select(Attachment).where(Attachment.message_id.in_(bindparam("ids", expanding=True)))
                   .order_by(Attachment.message_id, Attachment.position))


def with_attachments(db: Session, messages: list[Message]) -> list[Message]:
    """Load the attachments of `messages` (Message.attachments is `lazy="raise"`): one query
    per 500 messages, as `selectinload` does, but through a statement built once. SQLAlchemy's
    selectin loader left ~8 objects per load in reference cycles for the garbage collector,
    and history is read on every reconnect (tests/test_reference_cycles.py)."""
    found: dict[str, list[Attachment]] = {}
    for start in range(0, len(messages), _ATTACHMENT_CHUNK):
        ids = [message.id for message in messages[start:start + _ATTACHMENT_CHUNK]]
        for attachment in db.execute(_ATTACHMENTS_OF, {"ids": ids}).scalars():
            found.setdefault(attachment.message_id or "", []).append(attachment)
    for message in messages:
        set_committed_value(message, "attachments", found.get(message.id, []))
    return messages


def list_messages(db: Session, chat: ChatSession, *, after_seq: int | None = None, before_seq: int | None = None,
                  limit: int = 50) -> tuple[list[Message], bool]:
    """A page of history in seq order, and whether more lies beyond it.

    With `before_seq` (and no `after_seq`) the page is the `limit` messages just before it,
    for scrolling back; otherwise the `limit` messages after `after_seq` (default 0).
    """
    query = select(Message).where(Message.session_id == chat.id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
    if before_seq is not None and after_seq is None:
        rows = list(db.execute(query.order_by(Message.seq.desc()).limit(limit + 1)).scalars())
        return with_attachments(db, list(reversed(rows[:limit]))), len(rows) > limit
    rows = list(db.execute(query.order_by(Message.seq.asc()).limit(limit + 1)).scalars())
    return with_attachments(db, rows[:limit]), len(rows) > limit
