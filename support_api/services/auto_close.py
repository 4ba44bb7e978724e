"""Closing chats that went quiet (`SUPPORT_API_AUTO_CLOSE_SECONDS`, 0: never).

An *active* chat closes itself when its last message is staff's or the system's and nothing
has happened in it (`updated_at`) for the configured time: the user got an answer and went
away. A chat whose last word is the user's never closes on its own — the user is waiting
for us, and closing it would hide an unanswered question — and neither does a waiting one.
The chat ends with a localised SYSTEM message saying so; the user may reopen it (and may
rate it, as after any close).

Every server process sweeps (`start_embedded`), each candidate in its own transaction under
the session row's lock with every condition checked again, so processes sweeping together
close each chat once, and a message that arrives meanwhile keeps its chat open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from support_api.lib import system_text
from support_api.lib.events import message_audience, status_audience
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, Message, SenderType, SessionStatus, utcnow
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import audit, routing

SWEEP_BATCH = 200


def _quiet(cutoff: datetime):  # type: ignore[no-untyped-def]
    """Active (or with the bot), untouched since `cutoff`, and the last message not the user's."""
    last = Message.__table__.alias("last_message")
    user_spoke_last = (
        select(last.c.id).where(last.c.session_id == ChatSession.id, last.c.seq == ChatSession.last_seq,
                                last.c.sender_type == SenderType.USER.value).exists()
    )
    # A `bot` chat the user left after the bot's answer closes the same way (services/self_service.py).
    return and_(ChatSession.status.in_((SessionStatus.ACTIVE.value, SessionStatus.BOT.value)),
                ChatSession.updated_at < cutoff,
                or_(ChatSession.last_seq == 0, ~user_spoke_last))


def _close_one(db: Session, session_id: str, cutoff: datetime, now: datetime) -> tuple[ChatSession, Message] | None:
    chat = db.execute(
        select(ChatSession).where(ChatSession.id == session_id, _quiet(cutoff)).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if chat is None:
        return None  # someone wrote, closed it or is sweeping it right now
    message = routing.append_system_message(db, chat, system_text.auto_closed(chat.user_locale), now)
    chat.status = SessionStatus.CLOSED.value
    chat.closed_at = now
    audit.record_system(db, "session.auto_closed", "session", chat.id)
    return chat, message


def sweep(rt: Runtime, now: datetime | None = None) -> list[ChatSession]:
    """Close the chats that went quiet; returns them. Safe to run in several processes."""
    limit = rt.settings.routing.auto_close_seconds
    if not limit:
        return []
    now = now or utcnow()
    cutoff = now - timedelta(seconds=limit)
    with rt.db.read() as db:
        ids = list(db.execute(select(ChatSession.id).where(_quiet(cutoff))
                              .order_by(ChatSession.updated_at).limit(SWEEP_BATCH)).scalars())
    closed = []
    for session_id in ids:
        with rt.db.write() as db:
            done = _close_one(db, session_id, cutoff, now)
        if done is None:
            continue
        chat, message = done
        rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
        rt.events.emit("message:new", dump_message(message, rt.signer), message_audience(chat))
        routing.capacity_freed(rt, chat.operator_id, chat.department)
        closed.append(chat)
    return closed
