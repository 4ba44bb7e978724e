"""Sending messages: gapless per-session seq, idempotent on the sender's client_msg_id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from support_api.lib.access import get_session
from support_api.lib.auth import Principal
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
