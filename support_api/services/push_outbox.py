"""Queueing push notifications: outbox rows written in the caller's transaction.

Rows are written with the change that causes them (a message, a chat entering the queue, a
read), so a notification exists exactly when its cause was committed and survives any crash
after the commit. Whether it is actually sent is decided when it is due
(services/push_delivery.py): by then the recipient may have read the chat, or be looking at it.

Who is queued:
- an operator's (or system/bot) message → every device of the session's user;
- a user's message in an assigned session → every device of the assigned operator;
- a chat that starts waiting (opened, reopened or transferred to a department) → every
  operator device whose departments include the chat's (or that names none). Whether the
  operator is on duty (not `offline`, services/operators.py) is decided when the row is due;
- a chat transferred to a named operator → every device of that operator.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from support_api.config import Settings
from support_api.models import (
    ChatSession,
    Device,
    Message,
    PushKind,
    PushOutbox,
    PushStatus,
    ReadState,
    SenderType,
    new_id,
    utcnow,
)


# A Session (the ORM paths) or a Connection (the send fast path, services/messages.py): every
# statement here is Core, so it runs on either, inside the caller's transaction.
Db = Session | Connection

# Statements built once with bound parameters: besides the building, an `in_` built per call
# leaves its objects in reference cycles for the garbage collector (tests/test_reference_cycles.py),
# and these run with every message that notifies and every read.
_DEVICES_OF = (select(Device.id).where(Device.owner_type == bindparam("owner_type"),
                                      Device.owner_id == bindparam("owner_id")).order_by(Device.id))
_DEVICES_OF_OWNERS = (select(Device.id, Device.owner_type, Device.owner_id)
                      .where(Device.owner_id.in_(bindparam("owner_ids", expanding=True))).order_by(Device.id))
_USER_DEVICES_OF = (select(Device.id, Device.owner_id)
                    .where(Device.owner_type == "user", Device.owner_id.in_(bindparam("owner_ids", expanding=True)))
                    .order_by(Device.id))
_READ_POSITION = select(ReadState.last_read_seq).where(
    ReadState.session_id == bindparam("session_id"), ReadState.reader_type == bindparam("reader_type"),
    ReadState.reader_id == bindparam("reader_id"))
# A notification for a message the reader has now read went out (or is going out right now).
_PUSHED_BETWEEN = select(PushOutbox.id).where(
    PushOutbox.recipient_id == bindparam("reader_id"),
    PushOutbox.session_id == bindparam("session_id"),
    PushOutbox.recipient_type == bindparam("reader_type"),
    PushOutbox.kind.in_((PushKind.MESSAGE.value, PushKind.INCIDENT.value)),
    PushOutbox.seq > bindparam("old_seq"),
    PushOutbox.seq <= bindparam("new_seq"),
    or_(PushOutbox.status == PushStatus.SENT.value,
        and_(PushOutbox.status == PushStatus.PENDING.value, PushOutbox.claimed_until.is_not(None))),
).limit(1)


def _queue(db: Db, device_ids: list[str], recipient_type: str, kind: PushKind, session_id: str, *,
           recipient_id: str | None = None, recipients: dict[str, str] | None = None, message_id: str | None,
           seq: int, due_at: datetime) -> None:
    """One pending row per device, in one executemany (through a Session, pending ORM rows
    such as the message flush first, as the foreign key needs)."""
    if not device_ids:
        return
    now = utcnow()
    db.execute(insert(PushOutbox.__table__), [{
        "id": new_id("psh"), "kind": kind.value, "status": PushStatus.PENDING.value, "device_id": device_id,
        "recipient_type": recipient_type,
        "recipient_id": recipients[device_id] if recipients is not None else recipient_id,
        "session_id": session_id, "message_id": message_id, "seq": seq, "attempts": 0, "due_at": due_at,
        "claimed_until": None, "claim_id": None, "last_error": None, "created_at": now, "updated_at": now,
    } for device_id in device_ids])


def _devices_of(db: Db, owner_type: str, owner_id: str) -> list[str]:
    return list(db.execute(_DEVICES_OF, {"owner_type": owner_type, "owner_id": owner_id}).scalars())


def _due(settings: Settings) -> datetime:
    return utcnow() + timedelta(seconds=settings.push.delay_seconds)


def _other_side(chat: ChatSession, message: Message) -> tuple[str, str] | None:
    """Who hears of `message`: the user of a staff or system message; the assigned operator of
    a user's message (none while it waits: the operators heard when it started waiting)."""
    if message.sender_type != SenderType.USER.value:
        return "user", chat.user_id
    return ("operator", chat.operator_id) if chat.operator_id else None


def enqueue_message(db: Db, settings: Settings, chat: ChatSession, message: Message) -> None:
    """Queue "someone wrote" for the other side of `message`'s session."""
    enqueue_messages(db, settings, [(chat, message)])


def enqueue_messages(db: Db, settings: Settings, sent: list[tuple[ChatSession, Message]]) -> None:
    """`enqueue_message` for a batch of messages (the group commit of services/messages.py):
    one query finds every recipient's devices, one insert queues all their rows."""
    wanted = {(chat.id, message.id): recipient for chat, message in sent
              if (recipient := _other_side(chat, message)) is not None}
    if not wanted:
        return
    owners = {owner_id for _, owner_id in wanted.values()}
    devices: dict[tuple[str, str], list[str]] = {}
    for device_id, owner_type, owner_id in db.execute(_DEVICES_OF_OWNERS, {"owner_ids": sorted(owners)}):
        devices.setdefault((owner_type, owner_id), []).append(device_id)
    due = _due(settings)
    for chat, message in sent:
        recipient = wanted.get((chat.id, message.id))
        if recipient is not None and recipient in devices:
            _queue(db, devices[recipient], recipient[0], PushKind.MESSAGE, chat.id, recipient_id=recipient[1],
                   message_id=message.id, seq=message.seq, due_at=due)


def enqueue_waiting(db: Session, settings: Settings, chat: ChatSession, first_message_id: str | None) -> None:
    """Queue "a chat is waiting" for the operators of its department."""
    operators = db.execute(select(Device).where(Device.owner_role == "operator").order_by(Device.id)).scalars()
    # Departments are a short JSON list per device; filtering here keeps the query portable.
    recipients = {d.id: d.owner_id for d in operators if not d.departments or chat.department in d.departments}
    _queue(db, list(recipients), "operator", PushKind.WAITING, chat.id, recipients=recipients,
           message_id=first_message_id, seq=chat.last_seq, due_at=_due(settings))


def enqueue_transfer(db: Session, settings: Settings, chat: ChatSession) -> None:
    """Queue "a chat was passed to you" for the operator who now holds `chat`."""
    if chat.operator_id:
        _queue(db, _devices_of(db, "operator", chat.operator_id), "operator", PushKind.TRANSFER, chat.id,
               recipient_id=chat.operator_id, message_id=None, seq=chat.last_seq, due_at=_due(settings))


def enqueue_read(db: Session, chat: ChatSession, reader_type: str, reader_id: str, new_seq: int) -> None:
    """Queue a silent "read up to `new_seq`" for the reader's devices, so a notification they
    got for this chat is cleared on every device and the badge updated. Only when a push for
    a message they are now reading went out (or is going out right now); otherwise there is
    nothing to clear. Call it before the read position moves."""
    reader = {"session_id": chat.id, "reader_type": reader_type, "reader_id": reader_id}
    # A column query, not db.get(): the ORM would cache the row and hide the upsert that follows.
    old_seq = db.execute(_READ_POSITION, reader).scalar() or 0
    if new_seq <= old_seq:
        return
    if db.execute(_PUSHED_BETWEEN, {**reader, "old_seq": old_seq, "new_seq": new_seq}).first() is None:
        return
    _queue(db, _devices_of(db, reader_type, reader_id), reader_type, PushKind.READ, chat.id, recipient_id=reader_id,
           message_id=None, seq=new_seq, due_at=utcnow())


def enqueue_incident(db: Db, settings: Settings, posted: list[tuple[ChatSession, Message]]) -> None:
    """Queue "the incident changed" for the users of the chats an incident update was posted
    in: one notification per user per update (their first linked chat; the app's group is the
    chat, so a later update replaces it on the lock screen), every device of that user."""
    first_chat: dict[str, tuple[ChatSession, Message]] = {}
    for chat, message in posted:
        first_chat.setdefault(chat.user_id, (chat, message))
    if not first_chat:
        return
    devices: dict[str, list[str]] = {}
    for device_id, owner_id in db.execute(_USER_DEVICES_OF, {"owner_ids": sorted(first_chat)}):
        devices.setdefault(owner_id, []).append(device_id)
    due = _due(settings)
    for user_id, (chat, message) in first_chat.items():
        _queue(db, devices.get(user_id, []), "user", PushKind.INCIDENT, chat.id, recipient_id=user_id,
               message_id=message.id, seq=message.seq, due_at=due)
