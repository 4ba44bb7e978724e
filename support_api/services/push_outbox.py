"""Queueing push notifications: outbox rows written in the caller's transaction.

Rows are written with the change that causes them (a message, a chat entering the queue, a
read), so a notification exists exactly when its cause was committed and survives any crash
after the commit. Whether it is actually sent is decided when it is due
(services/push_delivery.py): by then the recipient may have read the chat, or be looking at it.

Who is queued:
- an operator's (or system/bot) message → every device of the session's user;
- a user's message in an assigned session → every device of the assigned operator;
- a chat that starts waiting (opened or reopened) → every operator device whose
  departments include the chat's (or that names none). Whether the operator is on duty (not
  `offline`, services/operators.py) is decided when the row is due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
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


def _queue(db: Session, devices: list[Device], kind: PushKind, chat: ChatSession, *, message_id: str | None,
           seq: int, due_at: datetime) -> None:
    now = utcnow()
    for device in devices:
        db.add(PushOutbox(
            id=new_id("psh"), kind=kind.value, status=PushStatus.PENDING.value, device_id=device.id,
            recipient_type=device.owner_type, recipient_id=device.owner_id, session_id=chat.id,
            message_id=message_id, seq=seq, attempts=0, due_at=due_at, created_at=now, updated_at=now,
        ))


def _devices_of(db: Session, owner_type: str, owner_id: str) -> list[Device]:
    return list(db.execute(
        select(Device).where(Device.owner_type == owner_type, Device.owner_id == owner_id).order_by(Device.id)
    ).scalars())


def _due(settings: Settings) -> datetime:
    return utcnow() + timedelta(seconds=settings.push.delay_seconds)


def enqueue_message(db: Session, settings: Settings, chat: ChatSession, message: Message) -> None:
    """Queue "someone wrote" for the other side of `message`'s session."""
    if message.sender_type == SenderType.USER.value:
        if not chat.operator_id:
            return  # still in the queue: the operators heard of it when it started waiting
        devices = _devices_of(db, "operator", chat.operator_id)
    else:
        devices = _devices_of(db, "user", chat.user_id)
    _queue(db, devices, PushKind.MESSAGE, chat, message_id=message.id, seq=message.seq, due_at=_due(settings))


def enqueue_waiting(db: Session, settings: Settings, chat: ChatSession, first_message_id: str | None) -> None:
    """Queue "a chat is waiting" for the operators of its department."""
    operators = db.execute(select(Device).where(Device.owner_role == "operator").order_by(Device.id)).scalars()
    # Departments are a short JSON list per device; filtering here keeps the query portable.
    devices = [d for d in operators if not d.departments or chat.department in d.departments]
    _queue(db, devices, PushKind.WAITING, chat, message_id=first_message_id, seq=chat.last_seq, due_at=_due(settings))


def enqueue_read(db: Session, chat: ChatSession, reader_type: str, reader_id: str, new_seq: int) -> None:
    """Queue a silent "read up to `new_seq`" for the reader's devices, so a notification they
    got for this chat is cleared on every device and the badge updated. Only when a push for
    a message they are now reading went out (or is going out right now); otherwise there is
    nothing to clear. Call it before the read position moves."""
    # A column query, not db.get(): the ORM would cache the row and hide the upsert that follows.
    old_seq = db.execute(select(ReadState.last_read_seq).where(
        ReadState.session_id == chat.id, ReadState.reader_type == reader_type, ReadState.reader_id == reader_id,
    )).scalar() or 0
    if new_seq <= old_seq:
        return
    pushed = db.execute(
        select(PushOutbox.id).where(
            PushOutbox.recipient_id == reader_id,
            PushOutbox.session_id == chat.id,
            PushOutbox.recipient_type == reader_type,
            PushOutbox.kind == PushKind.MESSAGE.value,
            PushOutbox.seq > old_seq,
            PushOutbox.seq <= new_seq,
            or_(PushOutbox.status == PushStatus.SENT.value,
                and_(PushOutbox.status == PushStatus.PENDING.value, PushOutbox.claimed_until.is_not(None))),
        ).limit(1)
    ).first()
    if pushed is None:
        return
    _queue(db, _devices_of(db, reader_type, reader_id), PushKind.READ, chat, message_id=None, seq=new_seq,
           due_at=utcnow())
