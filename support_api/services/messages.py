"""Sending messages: gapless per-session seq, idempotent on the sender's client_msg_id.

Two paths store a message, with the same rules:
- the **fast path** (`_append_text`), taken by every text message: Core statements on one
  connection, no ORM unit of work. One `UPDATE … RETURNING` checks everything that would refuse
  the send (access, closed, not held, a retry) and takes the next `seq` under the row's lock;
  then the message, the sender's read position and the push rows are inserted. Sending is the
  hot path of the whole server (bench/README.md): this is about half the CPU of the ORM path;
- the **ORM path** (`send_message` below the fast path), for everything else: messages with
  attachments, and any send the fast path's UPDATE did not match, which it then explains (a
  retry answered with the stored message, 404, 409).
"""

from __future__ import annotations

from dataclasses import dataclass

from functools import lru_cache

from sqlalchemy import Update, bindparam, case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from support_api.lib.access import get_session
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict
from support_api.lib.events import message_audience
from support_api.lib.runtime import Runtime
from support_api.models import (
    ChatSession,
    Message,
    SenderType,
    SessionStatus,
    new_id,
    utcnow,
)
from support_api.schemas.responses import dump_message
from support_api.services import guard
from support_api.services.attachments import claim_attachments
from support_api.services.limits import enforce
from support_api.services.push_outbox import enqueue_message
from support_api.services.read_state import advance_read


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False: a retry of a message that was already stored
    masked_kinds: tuple[str, ...] = ()  # what the guard masked in the text before storing it


def find_by_client_msg_id(db: Session, session_id: str, principal: Principal, client_msg_id: str) -> Message | None:
    return db.execute(
        select(Message).options(selectinload(Message.attachments)).where(
            Message.session_id == session_id,
            Message.sender_type == principal.participant_type,
            Message.sender_id == principal.id,
            Message.client_msg_id == client_msg_id,
        )
    ).scalar_one_or_none()


def append_message(db: Session, chat: ChatSession, principal: Principal, body: str, client_msg_id: str,
                   attachment_ids: list[str], attachment_limit: int) -> Message:
    """Insert the next message of a locked session row; the caller's transaction commits it.

    The session row must be locked (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite):
    that lock is what makes `last_seq + 1` unique and gapless.
    """
    now = utcnow()
    chat.last_seq += 1
    chat.updated_at = now
    if principal.participant_type == SenderType.OPERATOR.value and chat.first_response_at is None:
        chat.first_response_at = now
    message = Message(
        id=new_id("msg"),
        session_id=chat.id,
        seq=chat.last_seq,
        sender_type=principal.participant_type,
        sender_id=principal.id,
        sender_name=principal.name,
        body=body,
        client_msg_id=client_msg_id,
        created_at=now,
    )
    message.attachments = []
    claim_attachments(db, principal, chat, message, attachment_ids, attachment_limit)
    db.add(message)
    # Whoever writes has seen the conversation up to their own message.
    advance_read(db, chat.id, principal.participant_type, principal.id, message.seq)
    return message


@lru_cache(maxsize=16)
def _take_seq_statement(kind: str) -> Update:
    """`UPDATE chat_sessions SET last_seq = last_seq + 1 … RETURNING` matching only a session the
    sender may write in now: visible to them (lib/access.py's rule, per `kind` of sender), not
    closed, held by them if staff, and holding no message with this client_msg_id (a retry).
    Built once per kind: building statements per call was the costliest part of a send. Staff
    match on holding the session; whether its department is still one of theirs is checked on
    the returned row (`_append_text`), since an expanding IN here cost a third of a send."""
    chats, messages = ChatSession.__table__, Message.__table__
    visible = chats.c.user_id == bindparam("sender_id") if kind == "user" else \
        chats.c.operator_id == bindparam("sender_id")
    retry = exists().where(messages.c.session_id == chats.c.id, messages.c.sender_type == bindparam("sender_type"),
                           messages.c.sender_id == bindparam("sender_id"),
                           messages.c.client_msg_id == bindparam("client_msg_id"))
    first_response = chats.c.first_response_at if kind == "user" else case(
        (chats.c.first_response_at.is_(None), bindparam("now")), else_=chats.c.first_response_at)
    return (
        update(chats)
        .where(chats.c.id == bindparam("session_id"), visible, chats.c.status != SessionStatus.CLOSED.value, ~retry)
        .values(last_seq=chats.c.last_seq + 1, updated_at=bindparam("now"), first_response_at=first_response)
        .returning(chats.c.last_seq, chats.c.user_id, chats.c.operator_id, chats.c.department)
    )


class _NotVisible(Exception):
    """Rolls the fast path back: the session held is no longer in the operator's departments."""


_INSERT_MESSAGE = insert(Message.__table__)


def _append_text(rt: Runtime, principal: Principal, session_id: str, body: str,
                 client_msg_id: str) -> tuple[ChatSession, Message] | None:
    """The fast path: store a text message and return it, or None when the send needs the ORM
    path to be answered (a retry, an error) — having changed nothing."""
    if not isinstance(session_id, str) or not session_id.startswith("ses_") or len(session_id) > 64:
        return None  # the access gate's 404 (lib/access.py) is the ORM path's to give
    now = utcnow()
    params = {"session_id": session_id, "sender_id": principal.id, "sender_type": principal.participant_type,
              "client_msg_id": client_msg_id, "now": now}
    kind = "user" if principal.role is Role.USER else "staff"
    try:
        with rt.db.write_connection() as conn:
            row = conn.execute(_take_seq_statement(kind), params).first()
            if row is None:
                return None
            if principal.role is Role.OPERATOR and principal.departments and \
                    row.department not in principal.departments:
                raise _NotVisible  # lib/access.py's rule; the ORM path answers 404
            message = Message(id=new_id("msg"), session_id=session_id, seq=row.last_seq,
                              sender_type=principal.participant_type, sender_id=principal.id,
                              sender_name=principal.name, body=body, client_msg_id=client_msg_id, created_at=now)
            message.attachments = []
            conn.execute(_INSERT_MESSAGE, {
                "id": message.id, "session_id": session_id, "seq": message.seq, "sender_type": message.sender_type,
                "sender_id": message.sender_id, "sender_name": message.sender_name, "body": body,
                "client_msg_id": client_msg_id, "created_at": now})
            # Whoever writes has seen the conversation up to their own message.
            advance_read(conn, session_id, principal.participant_type, principal.id, message.seq)
            chat = ChatSession(id=session_id, user_id=row.user_id, operator_id=row.operator_id,
                               department=row.department, last_seq=row.last_seq)
            enqueue_message(conn, rt.settings, chat, message)
    except (IntegrityError, _NotVisible):
        # IntegrityError, PostgreSQL: a simultaneous retry of this very message committed while
        # this UPDATE waited for the row (its NOT EXISTS saw the older snapshot). Rolled back,
        # so no gap either way; the ORM path answers.
        return None
    return chat, message


def visible_session_id(rt: Runtime, principal: Principal, session_id: str) -> str:
    """The id of a session the caller may see (404 otherwise), without locking it."""
    with rt.db.read() as db:
        return get_session(db, principal, session_id).id


def send_message(rt: Runtime, principal: Principal, session_id: str, *, body: str, client_msg_id: str,
                 attachment_ids: list[str] | None = None, confirm_sensitive: bool = False,
                 origin_sid: str | None = None) -> SendResult:
    """Store a message and deliver it as `message:new`.

    A retry with the same `client_msg_id` returns the stored message (created=False) and
    emits nothing, even if the session was closed in between. Staff must hold the session
    (claim it first), so two operators never answer one user at once. The text passes the
    sensitive-content guard first: secrets are refused, account numbers stored masked.
    """
    enforce(rt, principal, "messages")
    screened = guard.screen(rt, principal, body, confirm_sensitive=confirm_sensitive,
                            session_of=lambda: visible_session_id(rt, principal, session_id))
    if not attachment_ids:
        stored = _append_text(rt, principal, session_id, screened.text, client_msg_id)
        if stored is not None:
            chat, message = stored
            rt.events.emit("message:new", dump_message(message, rt.signer), message_audience(chat),
                           skip_sid=origin_sid)
            return SendResult(message, created=True, masked_kinds=screened.masked_kinds)
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        existing = find_by_client_msg_id(db, chat.id, principal, client_msg_id)
        if existing is not None:
            return SendResult(existing, created=False)
        if chat.status == SessionStatus.CLOSED.value:
            raise Conflict("The session is closed; reopen it to write again", {"reason": "session_closed"})
        if principal.participant_type == SenderType.OPERATOR.value and chat.operator_id != principal.id:
            raise Conflict("Claim the session before replying", {"reason": "not_assigned"})
        message = append_message(db, chat, principal, screened.text, client_msg_id, attachment_ids or [],
                                 rt.settings.attachments_per_message)
        enqueue_message(db, rt.settings, chat, message)
    # The sending socket has its ack; every other socket (including the sender's other devices) gets the event.
    rt.events.emit("message:new", dump_message(message, rt.signer), message_audience(chat), skip_sid=origin_sid)
    return SendResult(message, created=True, masked_kinds=screened.masked_kinds)
