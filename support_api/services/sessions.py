"""Opening, claiming, closing and reopening chat sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from support_api.lib import business_hours, system_text
from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict
from support_api.lib.events import message_audience, staff_room, status_audience
from support_api.lib.guard import scam_reason
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, Message, SessionStatus, utcnow
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import audit, guard, incidents, routing, safety, self_service
from support_api.services.limits import enforce
from support_api.services.messages import append_message
from support_api.services.push_outbox import enqueue_waiting
from support_api.services.queries import with_attachments


@dataclass(frozen=True)
class OpenResult:
    session: ChatSession
    message: Message | None
    created: bool  # False: a retry of an open that was already stored
    masked_kinds: tuple[str, ...] = ()  # what the guard masked in the first message


def _existing_open(rt: Runtime, principal: Principal, open_key: str) -> OpenResult | None:
    with rt.db.read() as db:
        chat = db.execute(
            select(ChatSession).where(ChatSession.user_id == principal.id, ChatSession.open_key == open_key)
        ).scalar_one_or_none()
        if chat is None:
            return None
        first = db.execute(select(Message).where(Message.session_id == chat.id, Message.seq == 1)).scalar_one_or_none()
        if first is not None:
            with_attachments(db, [first])
        return OpenResult(chat, first, created=False)


def open_session(rt: Runtime, principal: Principal, *, category: str, message: dict[str, Any] | None,
                 client_context: dict[str, Any] | None, locale: str | None = None) -> OpenResult:
    """A user opens a chat in `category`, optionally with a first message (seq 1).

    The first message's `client_msg_id` also makes the open idempotent: a retry of the same
    request returns the session it created instead of opening a second chat. `locale` (the
    token's, else the request's Accept-Language) is the language of the chat's system and bot
    texts. With self-service on for the category and FAQ articles that fit the first message,
    the bot answers and the chat is `bot`, out of the queue (services/self_service.py).
    """
    require_role(principal, Role.USER)
    open_key = message["client_msg_id"] if message else None
    if open_key and (found := _existing_open(rt, principal, open_key)):
        return found
    enforce(rt, principal, "sessions")
    # A secret in the first message refuses the whole open: nothing of it is stored.
    screened = (guard.screen(rt, principal, message["body"], session_of=lambda: None,
                             confirm_sensitive=message["confirm_sensitive"]) if message else None)
    # Issue 15: every stored free-text field is screened (docs/safety.md).
    if message:
        message = {**message, "client_msg_id": guard.screen_id(
            rt, principal, "client_msg_id", message["client_msg_id"])}
    if client_context:
        client_context = {**client_context, **guard.screen_fields(
            rt, principal, {name: value for name, value in client_context.items() if isinstance(value, str)})}
    locale = principal.locale or locale
    # A first message describing a scam gets no FAQ bot: it is queued and flagged below, which
    # moves it to the security queue with the scam warning (services/safety.py).
    scam = scam_reason(message["body"]) if message else None
    offer = self_service.propose(rt, category, screened.text, locale) if screened and scam is None else None
    now = utcnow()
    try:
        with rt.db.write() as db:
            chat = ChatSession(
                user_id=principal.id,
                user_name=principal.name,
                category=category,
                department=category,
                status=SessionStatus.WAITING.value,
                client_context={k: v for k, v in (client_context or {}).items() if v is not None} or None,
                open_key=open_key,
                last_seq=0,
                user_locale=locale,
                queued_at=now,
                created_at=now,
                updated_at=now,
            )
            db.add(chat)
            db.flush()
            first = (append_message(db, chat, principal, screened.text, message["client_msg_id"],
                                    message["attachment_ids"], rt.settings.attachments_per_message)
                     if message and screened else None)
            # An open incident in the category answers first: the chat is linked to it and
            # queued (FAQ articles do not explain an outage), so the bot stays out of it.
            incident_notice = incidents.link_chat(db, chat, now)
            if offer is not None and incident_notice is None:
                notice = self_service.start(db, chat, offer, now)
            else:
                notice = _out_of_hours_notice(db, rt, chat, now)
                enqueue_waiting(db, rt.settings, chat, first.id if first else None)
    except IntegrityError:
        # Two retries raced and the other one won the (user_id, open_key) constraint.
        if open_key and (found := _existing_open(rt, principal, open_key)):
            return found
        raise
    if chat.status == SessionStatus.BOT.value:
        # Out of every queue: only the user's own sockets hear of it until a handoff.
        for posted in (first, notice):
            if posted is not None:
                rt.events.emit("message:new", dump_message(posted, rt.signer), self_service.bot_audience(chat))
        rt.events.emit("session:updated", dump_session(chat), self_service.bot_audience(chat))
        return OpenResult(chat, first, created=True, masked_kinds=screened.masked_kinds if screened else ())
    rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
    for posted in (first, incident_notice, notice):
        if posted is not None:
            rt.events.emit("message:new", dump_message(posted, rt.signer), message_audience(chat))
    if message and first is not None:
        flagged = safety.flag_scam(rt, chat.id, scam) if scam else None
        if flagged is not None:
            # Flagging moved it to the security queue and drained that: the open is answered.
            return OpenResult(_reloaded(rt, chat.id), first, created=True,
                              masked_kinds=screened.masked_kinds if screened else ())
    # FIFO: the queue's head goes first, which is this chat only if nobody waits before it.
    taken = {t.chat.id: t.chat for t in routing.drain(rt, [chat.department])}
    return OpenResult(taken.get(chat.id, chat), first, created=True,
                      masked_kinds=screened.masked_kinds if screened else ())


def _reloaded(rt: Runtime, session_id: str) -> ChatSession:
    with rt.db.read() as db:
        chat = db.get(ChatSession, session_id)
        assert chat is not None
        return chat


def _out_of_hours_notice(db: Session, rt: Runtime, chat: ChatSession, now: datetime) -> Message | None:
    """Outside its department's hours a new chat is told when support answers, unless an online
    operator is there to take it anyway (hours decide this reply, never the assignment)."""
    hours = rt.settings.routing.business_hours
    if business_hours.is_open(hours, chat.department, now):
        return None
    if rt.settings.routing.auto_assign and routing.has_room(db, rt, chat.department, now):
        return None
    opens_at = business_hours.next_opening(hours, chat.department, now)
    return routing.append_system_message(db, chat, system_text.out_of_hours(chat.user_locale, opens_at), now)


def claim_session(rt: Runtime, principal: Principal, session_id: str) -> ChatSession:
    """An operator takes a waiting session. Claiming one's own again is a no-op; one held by
    someone else, or a closed one, is a conflict. The row lock makes concurrent claims safe."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status == SessionStatus.ACTIVE.value and chat.operator_id == principal.id:
            return chat
        if chat.status == SessionStatus.ACTIVE.value:
            raise Conflict("Another operator holds this session",
                           {"reason": "already_claimed", "operator": {"id": chat.operator_id, "name": chat.operator_name}})
        if chat.status == SessionStatus.CLOSED.value:
            raise Conflict("The session is closed", {"reason": "session_closed"})
        taken = routing.take(db, chat, principal.id, principal.name, utcnow())
        audit.record(db, principal, "session.claimed", "session", chat.id)
    routing.announce(rt, taken)
    routing.publish_queue(rt, chat.department)
    return chat


def close_session(rt: Runtime, principal: Principal, session_id: str) -> ChatSession:
    """The user or an operator who may see it closes a session; closing twice is a no-op."""
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status == SessionStatus.CLOSED.value:
            return chat
        now = utcnow()
        was_waiting = chat.status == SessionStatus.WAITING.value
        was_bot = chat.status == SessionStatus.BOT.value
        chat.status = SessionStatus.CLOSED.value
        chat.closed_at = now
        chat.updated_at = now
        audit.record(db, principal, "session.closed", "session", chat.id)
    # Room membership follows the access gate (realtime/revocation.py).
    rt.events.revoke_session(chat)
    if was_bot:
        rt.events.emit("session:updated", dump_session(chat), self_service.bot_audience(chat))
        return chat  # in no queue and held by nobody: nothing moves
    rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
    if was_waiting:
        routing.publish_queue(rt, chat.department)  # the chats behind it moved up
    else:
        routing.capacity_freed(rt, chat.operator_id, chat.department)
    return chat


def reopen_session(rt: Runtime, principal: Principal, session_id: str) -> ChatSession:
    """The user reopens a closed session: it keeps its history and goes back to the queue."""
    require_role(principal, Role.USER)
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status != SessionStatus.CLOSED.value:
            return chat
        previous_operator = chat.operator_id
        now = utcnow()
        self_service.note_reopen(chat, now)
        chat.status = SessionStatus.WAITING.value
        chat.operator_id = None
        chat.operator_name = None
        chat.closed_at = None
        chat.updated_at = chat.queued_at = now
        chat.assigned_at = None
        chat.user_locale = principal.locale or chat.user_locale
        audit.record(db, principal, "session.reopened", "session", chat.id)
        incident_notice = incidents.link_chat(db, chat, now)
        enqueue_waiting(db, rt.settings, chat, None)
    rooms = status_audience(chat)
    if previous_operator:
        # The operator who held it learns it left their hands.
        rooms.append(staff_room(previous_operator))
    rt.events.emit("session:updated", dump_session(chat), rooms)
    if incident_notice is not None:
        rt.events.emit("message:new", dump_message(incident_notice, rt.signer), message_audience(chat))
    taken = {t.chat.id: t.chat for t in routing.drain(rt, [chat.department])}
    return taken.get(chat.id, chat)
