"""Trust and safety beyond one message (docs/safety.md): secrets split over several messages,
users describing a scam, and "is this really support?".

- **Split secrets** (`check_split`): a message that could be a piece of a secret (only list
  words, or a run of key characters: `lib.guard.could_be_part`) is read together with the same
  sender's consecutive messages of the last `SUPPORT_API_GUARD_SPLIT_WINDOW_SECONDS` (at most
  `MAX_PARTS`, none of anyone else's in between). When together they make a recovery phrase or
  a private key, the completing message is refused like any secret (422 `sensitive_content`,
  `details.split: true`), and the stored pieces that hold part of it are redacted in place:
  their body becomes a localised "[removed]" line, `message:updated` tells every client that
  shows them, an audit entry `sensitive_content.redacted` names them, and the refusal is
  counted. What was already delivered (a push preview, a socket event) cannot be taken back;
  what is stored, listed and exported from then on no longer holds the secret.
- **Scam suspected** (`flag_scam`): a user's message describing a typical scam
  (`lib.guard.scam`) is stored as sent; then, once per chat, a localised SYSTEM warning is
  added, the chat is flagged `risk: scam_suspected` (shown to staff in Session), moved to the
  `security` department's queue (an active chat leaves its operator) where flagged chats come
  before ordinary ones, and it is audited and counted in `/v1/admin/stats`.
- **Contacts and verification** (`contacts`, `verify_contact`): the operators who wrote to the
  user, and whether a handle, link or text names one of the exchange's official channels
  (`SUPPORT_API_OFFICIAL_CHANNELS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from support_api.lib import system_text
from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.events import dept_room, message_audience, staff_room, status_audience
from support_api.lib.guard import could_be_part, inspect, scam_reason
from support_api.lib.guard.offplatform import allowed
from support_api.lib.runtime import Runtime
from support_api.models import Category, ChatSession, GuardBlock, Message, SenderType, SessionStatus, utcnow
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import audit, guard, routing
from support_api.services.push_outbox import enqueue_waiting
from support_api.services.queries import with_attachments

MAX_PARTS = 4
SCAM_SUSPECTED = "scam_suspected"
_SPLIT_KINDS = frozenset({"mnemonic", "private_key"})


# --- split secrets -------------------------------------------------------------------------


def check_split(rt: Runtime, principal: Principal, session_id: str, body: str) -> None:
    """Refuse `body` (and redact the stored pieces) when it completes a secret begun in the
    sender's previous messages; nothing happens otherwise (see the module docstring)."""
    window = rt.settings.safety.split_window_seconds
    if not window or not body or not could_be_part(body):
        return
    since = utcnow() - timedelta(seconds=window)
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id)
        recent = list(db.execute(
            select(Message).where(Message.session_id == chat.id, Message.created_at >= since)
            .order_by(Message.seq.desc()).limit(MAX_PARTS)).scalars())
    parts: list[Message] = []
    for message in recent:
        if message.sender_type != principal.participant_type or message.sender_id != principal.id:
            break
        parts.append(message)
    if not parts:
        return
    parts.reverse()
    joined = " ".join(message.body for message in parts) + " " + body
    result = inspect(joined, author="operator" if principal.is_staff else "user")
    found = result.blocked
    if found is None or found.kind not in _SPLIT_KINDS:
        return
    # Which stored pieces hold part of it: their spans in the joined text.
    involved: list[str] = []
    offset = 0
    for message in parts:
        if offset < found.end and found.start < offset + len(message.body):
            involved.append(message.id)
        offset += len(message.body) + 1
    if not involved:
        return  # the finding lies in the new message alone, which screen() already let pass
    _redact(rt, principal, chat.id, involved, found.kind)
    guard.refuse(rt, principal, found.kind, lambda: chat.id, {"split": True, "redacted": involved})


def _redact(rt: Runtime, principal: Principal, session_id: str, message_ids: list[str], kind: str) -> None:
    with rt.db.write() as db:
        chat = db.execute(select(ChatSession).where(ChatSession.id == session_id).with_for_update()).scalar_one()
        messages = list(db.execute(select(Message).where(Message.id.in_(message_ids))).scalars())
        text = system_text.redacted(principal.locale or chat.user_locale)
        for message in messages:
            message.body = text
        audit.record(db, principal, "sensitive_content.redacted", "session", chat.id,
                     {"kind": kind, "messages": sorted(message_ids)})
        db.flush()
        dumped = [dump_message(_with_attachments(db, message), rt.signer) for message in messages]
        audience = message_audience(chat)
    for payload in dumped:
        rt.events.emit("message:updated", payload, audience)


def _with_attachments(db: Any, message: Message) -> Message:
    return with_attachments(db, [db.execute(select(Message).where(Message.id == message.id)).scalar_one()])[0]


# --- scam suspected --------------------------------------------------------------------------


def after_user_message(rt: Runtime, principal: Principal, session_id: str, body: str) -> None:
    """Called after a user's message was stored: flag the chat when it describes a scam."""
    if principal.role is not Role.USER or not body:
        return
    reason = scam_reason(body)
    if reason is not None:
        flag_scam(rt, session_id, reason)


@dataclass
class _Flagged:
    chat: ChatSession
    warning: Message
    from_department: str
    from_status: str
    from_operator: str | None


def flag_scam(rt: Runtime, session_id: str, reason: str) -> ChatSession | None:
    """Warn the user, flag the chat and move it to the security queue (once per chat)."""
    now = utcnow()
    security = Category.SECURITY.value
    with rt.db.write() as db:
        chat = db.execute(select(ChatSession).where(ChatSession.id == session_id).with_for_update()).scalar_one()
        if chat.risk is not None:
            return None
        flagged = _Flagged(chat, routing.append_system_message(db, chat, system_text.scam_warning(chat.user_locale), now),
                           chat.department, chat.status, chat.operator_id)
        chat.risk, chat.risk_reason, chat.risk_flagged_at = SCAM_SUSPECTED, reason, now
        moved = chat.status != SessionStatus.CLOSED.value and chat.department != security
        if chat.status == SessionStatus.BOT.value:
            # A `bot` chat (self-service, issue 12) is handed off like any scam flag: a person of
            # the security team answers it, not the FAQ bot.
            chat.status = SessionStatus.WAITING.value
            chat.queued_at = chat.handed_off_at = now
            moved = True
        if moved:
            chat.department = security
            if chat.status == SessionStatus.ACTIVE.value:
                chat.status = SessionStatus.WAITING.value
                chat.operator_id = chat.operator_name = chat.assigned_at = None
                chat.queued_at = now
            enqueue_waiting(db, rt.settings, chat, None)
        audit.record_system(db, "session.risk_flagged", "session", chat.id, {
            "risk": SCAM_SUSPECTED, "reason": reason, "from_department": flagged.from_department,
            "to_department": chat.department, "from_operator": flagged.from_operator})
    _announce(rt, flagged, moved)
    return chat


def _announce(rt: Runtime, flagged: _Flagged, moved: bool) -> None:
    chat = flagged.chat
    rooms = status_audience(chat) + [dept_room(flagged.from_department)]
    if flagged.from_operator and flagged.from_operator != chat.operator_id:
        rooms.append(staff_room(flagged.from_operator))
    rt.events.emit("session:updated", dump_session(chat), list(dict.fromkeys(rooms)))
    rt.events.emit("message:new", dump_message(flagged.warning, rt.signer), message_audience(chat))
    if not moved:
        if chat.status == SessionStatus.WAITING.value:
            routing.publish_queue(rt, chat.department)  # it moved ahead of ordinary chats
        return
    if flagged.from_status == SessionStatus.WAITING.value:
        routing.publish_queue(rt, flagged.from_department)
    routing.drain(rt, [chat.department], publish_always=True)
    if flagged.from_operator:
        routing.capacity_freed(rt, flagged.from_operator, flagged.from_department)


def scam_stats(db: Any, since: datetime, until: datetime, department: str | None = None) -> dict[str, Any]:
    """Chats flagged `scam_suspected` in [since, until), by reason (for /v1/admin/stats)."""
    query = select(ChatSession.risk_reason, func.count()).where(
        ChatSession.risk == SCAM_SUSPECTED, ChatSession.risk_flagged_at >= since, ChatSession.risk_flagged_at < until)
    if department:
        query = query.where(ChatSession.department == department)
    rows = db.execute(query.group_by(ChatSession.risk_reason)).all()
    by_reason = {reason or "unknown": int(count) for reason, count in rows}
    blocks = dict(db.execute(select(GuardBlock.kind, func.count()).where(
        GuardBlock.created_at >= since, GuardBlock.created_at < until, GuardBlock.kind == "off_platform")
        .group_by(GuardBlock.kind)).all())
    return {"scam_suspected": sum(by_reason.values()), "scam_by_reason": by_reason,
            "off_platform_blocked": int(blocks.get("off_platform", 0))}


# --- contacts and verification ---------------------------------------------------------------


def contacts(rt: Runtime, principal: Principal, limit: int) -> list[dict[str, Any]]:
    """Every operator who wrote to the user, per chat: name, chat and when (latest first)."""
    require_role(principal, Role.USER)
    query = (
        select(Message.sender_id, func.max(Message.sender_name), Message.session_id, ChatSession.category,
               func.min(Message.created_at), func.max(Message.created_at), func.count())
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(ChatSession.user_id == principal.id, Message.sender_type == SenderType.OPERATOR.value)
        .group_by(Message.sender_id, Message.session_id, ChatSession.category)
        .order_by(func.max(Message.created_at).desc(), Message.session_id)
        .limit(limit)
    )
    with rt.db.read() as db:
        rows = db.execute(query).all()
    return [{"operator": {"id": sender_id, "name": name}, "session_id": session_id, "category": category,
             "first_message_at": first, "last_message_at": last, "message_count": int(count)}
            for sender_id, name, session_id, category, first, last, count in rows]


_URL = re.compile(r"(?i)(?:https?://)?(?:www\.)?(?P<host>(?:[a-z0-9\-]+\.)+[a-z]{2,24})(?::\d+)?(?:[/?#][^\s]*)?")
_EMAIL = re.compile(r"(?i)[a-z0-9_.+\-]+@(?P<domain>(?:[a-z0-9\-]+\.)+[a-z]{2,24})")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,63}")
_PHONE = re.compile(r"(?<![0-9])\+?[0-9][0-9 \-()]{7,18}[0-9](?![0-9])")
_LINK_IN_TEXT = re.compile(
    r"(?i)(?:https?://|www\.)[^\s<>\"'、。）)]+|(?<![\w@./])(?:[a-z0-9\-]+\.)+[a-z]{2,24}/[^\s<>\"'、。）)]*")


def _digits(value: str) -> str:
    digits = re.sub(r"[^0-9]", "", value)
    return "81" + digits[1:] if digits.startswith("0") else digits  # a Japanese national number


def _verdict(kind: str, value: str, official: tuple[str, ...]) -> bool:
    if kind == "url":
        match = _URL.fullmatch(value.strip())
        host = match.group("host").lower() if match else ""
        domains = tuple(o for o in official if "." in o and "@" not in o and "/" not in o)
        return bool(host) and allowed(host.removeprefix("www."), domains)
    if kind == "email":
        match = _EMAIL.fullmatch(value.strip())
        domains = tuple(o for o in official if "." in o and "@" not in o and "/" not in o)
        return value.strip().lower() in official or (match is not None and allowed(match.group("domain").lower(), domains))
    if kind == "handle":
        return value.lower() in official
    if kind == "phone":
        return _digits(value) in {_digits(o) for o in official if _PHONE.fullmatch(o)}
    return False


def _classify(value: str) -> str:
    value = value.strip()
    if _EMAIL.fullmatch(value):
        return "email"
    if _HANDLE.fullmatch(value):
        return "handle"
    if _PHONE.fullmatch(value):
        return "phone"
    if _URL.fullmatch(value):
        return "url"
    return "unknown"


def _found_in(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    emails = list(_EMAIL.finditer(text))
    for match in emails:
        found.append(("email", match.group()))
    taken = [match.span() for match in emails]
    for match in _LINK_IN_TEXT.finditer(text):
        if not any(s <= match.start() < e for s, e in taken):
            found.append(("url", match.group()))
            taken.append(match.span())
    for match in _HANDLE.finditer(text):
        if not any(s <= match.start() < e for s, e in taken):
            found.append(("handle", match.group()))
    for match in _PHONE.finditer(text):
        if not any(s <= match.start() < e for s, e in taken) and sum(c.isdigit() for c in match.group()) >= 9:
            found.append(("phone", match.group().strip()))
    return found


def verify_contact(rt: Runtime, principal: Principal, *, handle: str | None = None, url: str | None = None,
                   text: str | None = None) -> dict[str, Any]:
    """Whether a handle, a link, or what a text names, is one of the official channels.

    `verdict` is `official` when everything checked is official, `not_official` when anything
    is not, `unknown` when the text names no handle, link, e-mail or phone number at all."""
    official = rt.settings.safety.official_channels
    if handle is not None:
        value = handle.strip()
        checks = [(_classify(value) if _classify(value) != "unknown" else "handle", value)]
    elif url is not None:
        checks = [("url", url.strip())]
    else:
        checks = _found_in(text or "")
    items = [{"type": kind, "value": value, "official": _verdict(kind, value, official)} for kind, value in checks]
    if not items:
        verdict = "unknown"
    elif all(item["official"] for item in items):
        verdict = "official"
    else:
        verdict = "not_official"
    audit.record_now(rt, principal, "contact.verified", None, None, {"verdict": verdict, "checked": len(items)})
    return {"verdict": verdict, "items": items, "official_channels": list(official),
            "advice": system_text.verify_advice(principal.locale, verdict)}
