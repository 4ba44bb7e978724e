"""Read-side queries shared by REST and Socket.IO: listings, history, unread counts."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session, selectinload

from support_api.lib import cursors
from support_api.lib.access import visible_sessions
from support_api.lib.auth import Principal
from support_api.models import ChatSession, Message, ReadState, SessionStatus


def _others_unread(principal: Principal):  # type: ignore[no-untyped-def]
    """Messages written by someone other than `principal` after their read position."""
    position = (
        select(ReadState.last_read_seq)
        .where(
            ReadState.session_id == Message.session_id,
            ReadState.reader_type == principal.participant_type,
            ReadState.reader_id == principal.id,
        )
        .scalar_subquery()
    )
    return and_(
        Message.seq > func.coalesce(position, 0),
        not_(and_(Message.sender_type == principal.participant_type, Message.sender_id == principal.id)),
    )


def unread_counts(db: Session, principal: Principal, session_ids: Iterable[str]) -> dict[str, int]:
    ids = list(session_ids)
    if not ids:
        return {}
    rows = db.execute(
        select(Message.session_id, func.count())
        .where(Message.session_id.in_(ids), _others_unread(principal))
        .group_by(Message.session_id)
    ).all()
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
        .where(mine, _others_unread(principal))
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


def list_messages(db: Session, chat: ChatSession, *, after_seq: int | None = None, before_seq: int | None = None,
                  limit: int = 50) -> tuple[list[Message], bool]:
    """A page of history in seq order, and whether more lies beyond it.

    With `before_seq` (and no `after_seq`) the page is the `limit` messages just before it,
    for scrolling back; otherwise the `limit` messages after `after_seq` (default 0).
    """
    query = select(Message).options(selectinload(Message.attachments)).where(Message.session_id == chat.id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
    if before_seq is not None and after_seq is None:
        rows = list(db.execute(query.order_by(Message.seq.desc()).limit(limit + 1)).scalars())
        has_more = len(rows) > limit
        return list(reversed(rows[:limit])), has_more
    rows = list(db.execute(query.order_by(Message.seq.asc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit
