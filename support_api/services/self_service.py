"""The bot's first answer: FAQ articles before a chat joins the queue (issue 12).

A chat opened with a first message in a category where self-service is on
(`SUPPORT_API_SELF_SERVICE_CATEGORIES`, default all but `security`) is searched against the FAQ
(lib/faq). When articles score at least `SUPPORT_API_FAQ_BOT_MIN_SCORE`, the bot (sender `bot`)
answers at once with up to three of them, in the user's language, as readable text and as the
message's `suggestions` [{id, title, snippet}], and the chat is `bot`: in no queue, no operator
push, its events only to the user's own rooms. From there:
- `resolve` (the user's "解決しました"): closed, `close_reason: self_resolved`;
- `handoff` (the user's "オペレーターと話す"), or any further message of the user: `waiting`, with
  the queue, routing and pushes of any new chat (the bot's messages stay in the history);
- a reopen within 24 h of a self-resolution marks it (`self_resolve_reopened_at`): the stats no
  longer count it as solved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from support_api.lib import business_hours, system_text
from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict
from support_api.lib.events import message_audience, session_room, status_audience, user_room
from support_api.lib.runtime import Runtime
from support_api.lib.text import language, text
from support_api.models import ChatSession, CloseReason, Message, SenderType, SessionStatus, new_id, utcnow
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import audit, faq, routing
from support_api.services.push_outbox import enqueue_waiting

MAX_SUGGESTIONS = 3
RUNNER_UP_SHARE = 0.4
REOPEN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Offer:
    suggestions: list[dict[str, Any]]
    body: str


def propose(rt: Runtime, category: str, question: str, locale: str | None) -> Offer | None:
    """What the bot would answer to `question` in a new chat of `category`, or None (self-service
    off there, or no article good enough). Read-only: call it before the opening transaction."""
    settings = rt.settings.self_service
    if category not in settings.categories or not question.strip():
        return None
    hits = faq.index(rt).search(question, limit=MAX_SUGGESTIONS, prefer_category=category,
                                min_score=settings.min_score)
    # Weak runners-up next to a clear answer only distract: keep those near the best.
    hits = [hit for hit in hits if hit.score >= RUNNER_UP_SHARE * hits[0].score] if hits else []
    if not hits:
        return None
    lang = language(locale)
    suggestions = [{key: value for key, value in faq.dump_hit(hit, lang, with_score=False).items()
                    if key in ("id", "title", "snippet")} for hit in hits]
    lines = [text(lang, "These articles may answer your question:")]
    lines += [f"• {s['title']}" for s in suggestions]
    lines.append(text(lang, 'If one of them solves it, tap "Solved". To talk to an operator, tap '
                            '"Talk to an operator" or just write again.'))
    return Offer(suggestions, "\n".join(lines))


def bot_audience(chat: ChatSession) -> list[str]:
    """Who hears about a chat the bot is answering: the user only (no operator room)."""
    return [session_room(chat.id), user_room(chat.user_id)]


def append_bot_message(db: Session, chat: ChatSession, body: str, now: datetime,
                       suggestions: list[dict[str, Any]] | None = None) -> Message:
    """The next message of a locked session, written by the bot."""
    chat.last_seq += 1
    chat.updated_at = now
    message = Message(id=new_id("msg"), session_id=chat.id, seq=chat.last_seq, sender_type=SenderType.BOT.value,
                      sender_id=None, sender_name=None, body=body, client_msg_id=None, created_at=now,
                      suggestions=suggestions)
    message.attachments = []
    db.add(message)
    return message


def start(db: Session, chat: ChatSession, offer: Offer, now: datetime) -> Message:
    """In the opening transaction: the chat waits for the user, with the bot's answer."""
    chat.status = SessionStatus.BOT.value
    chat.bot_offered_at = now
    chat.queued_at = None
    return append_bot_message(db, chat, offer.body, now, offer.suggestions)


def hand_off_locked(db: Session, rt: Runtime, chat: ChatSession, now: datetime) -> Message:
    """In the caller's transaction, on the locked `bot` chat: into the queue like a new chat
    (waiting push to its department's operators), told so in the user's language."""
    chat.status = SessionStatus.WAITING.value
    chat.queued_at = now
    chat.handed_off_at = now
    chat.updated_at = now
    enqueue_waiting(db, rt.settings, chat, None)
    hours = rt.settings.routing.business_hours
    if not business_hours.is_open(hours, chat.department, now) and not (
            rt.settings.routing.auto_assign and routing.has_room(db, rt, chat.department, now)):
        opens_at = business_hours.next_opening(hours, chat.department, now)
        return routing.append_system_message(db, chat, system_text.out_of_hours(chat.user_locale, opens_at), now)
    return append_bot_message(db, chat, text(chat.user_locale, "Connecting you to an operator. Please wait; "
                                                               "an operator will answer in turn."), now)


def after_handoff(rt: Runtime, chat: ChatSession, notice: Message) -> ChatSession:
    """After the handoff committed: the chat's new status reaches the department, then routing
    runs as for any new chat. Returns the chat as it is now (taken, if an operator had room)."""
    rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
    rt.events.emit("message:new", dump_message(notice, rt.signer), message_audience(chat))
    taken = {t.chat.id: t.chat for t in routing.drain(rt, [chat.department])}
    return taken.get(chat.id, chat)


def handoff(rt: Runtime, principal: Principal, session_id: str) -> ChatSession:
    """`POST /sessions/{id}/handoff`: the user asks for a person. A chat not in `bot` is left as
    it is (a retry, or the user's message already handed it off)."""
    require_role(principal, Role.USER)
    now = utcnow()
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status != SessionStatus.BOT.value:
            if chat.status == SessionStatus.CLOSED.value:
                raise Conflict("The session is closed; reopen it to write again", {"reason": "session_closed"})
            return chat
        notice = hand_off_locked(db, rt, chat, now)
        audit.record(db, principal, "session.handed_off", "session", chat.id)
    return after_handoff(rt, chat, notice)


def resolve(rt: Runtime, principal: Principal, session_id: str) -> ChatSession:
    """`POST /sessions/{id}/resolve`: the bot's articles solved it; closed as self-resolved.
    Again on a chat already self-resolved: a no-op. On a chat not in `bot`: 409."""
    require_role(principal, Role.USER)
    now = utcnow()
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status == SessionStatus.CLOSED.value and chat.close_reason == CloseReason.SELF_RESOLVED.value:
            return chat
        if chat.status != SessionStatus.BOT.value:
            raise Conflict("Only a chat the bot is answering can be resolved this way",
                           {"reason": "not_self_service"})
        message = append_bot_message(db, chat, text(chat.user_locale, "Glad that helped. This chat is now closed; "
                                                                      "you can reopen it any time."), now)
        chat.status = SessionStatus.CLOSED.value
        chat.closed_at = chat.self_resolved_at = now
        chat.close_reason = CloseReason.SELF_RESOLVED.value
        audit.record(db, principal, "session.self_resolved", "session", chat.id)
    rt.events.emit("session:updated", dump_session(chat), bot_audience(chat))
    rt.events.emit("message:new", dump_message(message, rt.signer), bot_audience(chat))
    return chat


def note_reopen(chat: ChatSession, now: datetime) -> None:
    """In the reopening transaction: a self-resolved chat reopened within 24 h was not solved."""
    if (chat.close_reason == CloseReason.SELF_RESOLVED.value and chat.self_resolved_at is not None
            and now - chat.self_resolved_at <= REOPEN_WINDOW):
        chat.self_resolve_reopened_at = now
    chat.close_reason = None
