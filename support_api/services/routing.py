"""Routing: who takes a waiting chat, and keeping waiting users told where they stand.

- **Take** (`take`): the one place a session becomes `active` with an operator — by a claim or
  by auto-assignment — adding the localised SYSTEM message
  "{name} が対応します" / "{name} joined" in the same transaction.
- **Auto-assignment** (`assign_in`, `drain`; `SUPPORT_API_AUTO_ASSIGN`): a waiting chat goes to
  the effectively ONLINE operator of its department (services/operators.py) with the fewest
  active chats under `SUPPORT_API_OPERATOR_CAPACITY`, ties to the one idle longest (oldest
  `last_assigned_at`, never assigned first). `drain` runs whenever capacity may have appeared
  (a chat opened, reopened, closed or claimed; an operator came online or reconnected) and
  takes the department's queue in FIFO order (`queued_at`) until nobody has room.
- **Locks.** The session row is locked (`FOR UPDATE`; `SKIP LOCKED` while draining, so two
  processes draining one queue take different chats) before the operator row is
  (`FOR UPDATE`), and the operator's load is counted only under that lock: two processes can
  never give one chat twice, nor push an operator past capacity. Claims lock the session row
  first too, so the order is the same everywhere. SQLite write transactions are `BEGIN
  IMMEDIATE` (lib/db.py) and so one at a time.
- **Queue updates.** After the queue of a department moved, every waiting user of it gets
  `queue:updated {session_id, queue_position, estimated_wait_seconds}` on their `user:<sub>`
  room (services/queue.py says how both are computed).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib import system_text
from support_api.lib.auth import Principal
from support_api.lib.events import message_audience, status_audience, user_room
from support_api.lib.runtime import Runtime
from support_api.models import (
    Category,
    ChatSession,
    Message,
    Operator,
    OperatorStatus,
    SenderType,
    SessionStatus,
    new_id,
    utcnow,
)
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import audit, operators, queue, queue_fanout
from support_api.services.read_state import advance_read

log = logging.getLogger(__name__)

# Most chats one drain hands out per department before letting the request finish.
DRAIN_BATCH = 50


@dataclass(frozen=True)
class Taken:
    chat: ChatSession
    message: Message  # the SYSTEM "joined" message (see `take`)


def append_system_message(db: Session, chat: ChatSession, body: str, now: datetime) -> Message:
    """The next message of a locked session, written by the system (no sender id, no push)."""
    chat.last_seq += 1
    chat.updated_at = now
    message = Message(id=new_id("msg"), session_id=chat.id, seq=chat.last_seq, sender_type=SenderType.SYSTEM.value,
                      sender_id=None, sender_name=None, body=body, client_msg_id=None, created_at=now)
    message.attachments = []
    db.add(message)
    return message


def take(db: Session, chat: ChatSession, operator_id: str, operator_name: str | None, now: datetime) -> Taken:
    """Make the locked waiting `chat` active with this operator and say so in the chat: the
    user sees "{name} が対応します" / "{name} joined" whether a claim, an auto-assignment or a
    transfer to a named operator brought them."""
    chat.status = SessionStatus.ACTIVE.value
    chat.operator_id = operator_id
    chat.operator_name = operator_name
    chat.assigned_at = now
    chat.first_assigned_at = chat.first_assigned_at or now
    chat.updated_at = now
    row = db.execute(select(Operator).where(Operator.id == operator_id).with_for_update()).scalar_one_or_none()
    if row is not None:
        row.last_assigned_at = now
    message = append_system_message(db, chat, system_text.operator_joined(chat.user_locale, operator_name), now)
    # The operator caused it: it is not news to them (it is to the user).
    advance_read(db, chat.id, "operator", operator_id, message.seq)
    return Taken(chat, message)


def _candidates(db: Session, rt: Runtime, department: str, now: datetime) -> list[Operator]:
    online = operators.online_in(db, rt, department, now)
    held = operators.loads(db, [op.id for op in online])
    capacity = rt.settings.routing.operator_capacity
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted((op for op in online if held.get(op.id, 0) < capacity),
                  key=lambda op: (held.get(op.id, 0), op.last_assigned_at or epoch, op.id))


def has_room(db: Session, rt: Runtime, department: str, now: datetime) -> bool:
    """Whether an online operator of the department could take a chat now."""
    return bool(_candidates(db, rt, department, now))


def assign_in(db: Session, rt: Runtime, chat: ChatSession, now: datetime, *,
              avoid: str | None = None) -> Taken | None:
    """Give the locked waiting `chat` to the best online operator with room (other than
    `avoid`), in the caller's transaction; None when nobody has room (it keeps waiting)."""
    for candidate in _candidates(db, rt, chat.department, now):
        if candidate.id == avoid:
            continue
        # SKIP LOCKED: an operator row locked right now belongs to another assignment (or a
        # status change) in flight; try the next candidate instead of waiting. Waiting, each
        # drain in its own preference order, deadlocked on PostgreSQL during a surge
        # (bench/surge.py); the drain holding that row goes on taking the queue itself.
        locked = db.execute(select(Operator).where(Operator.id == candidate.id)
                            .with_for_update(skip_locked=True)
                            .execution_options(populate_existing=True)).scalar_one_or_none()
        # Counted again under the operator's lock: another process may have filled them meanwhile.
        if locked is None or locked.status != OperatorStatus.ONLINE.value:
            continue
        if operators.loads(db, [locked.id]).get(locked.id, 0) >= rt.settings.routing.operator_capacity:
            continue
        audit.record_system(db, "session.assigned", "session", chat.id, {"operator": locked.id})
        return take(db, chat, locked.id, locked.name, now)
    return None


def announce(rt: Runtime, taken: Taken) -> None:
    """After commit: everyone who follows the chat sees it taken and the joined message."""
    rt.events.emit("session:updated", dump_session(taken.chat), status_audience(taken.chat))
    rt.events.emit("message:new", dump_message(taken.message, rt.signer), message_audience(taken.chat))


def publish_queue(rt: Runtime, department: str) -> None:
    """Tell every waiting user of the department where they stand now, coalesced while the
    queue is long (services/queue_fanout.py: at most one publish per interval)."""
    queue_fanout.fanout(rt, lambda dept: _publish_now(rt, dept)).request(department)


def _publish_now(rt: Runtime, department: str) -> int:
    started = time.perf_counter()
    now = utcnow()
    with rt.db.read() as db:
        payloads = queue.updates(db, rt, department, now)
    read = time.perf_counter()
    for chat, payload in payloads:
        rt.events.emit("queue:updated", payload, [user_room(chat.user_id)])
    if len(payloads) > queue_fanout.IMMEDIATE_MAX:
        log.info("queue published", extra={"department": department, "waiting": len(payloads),
                                           "read_ms": round((read - started) * 1000, 1),
                                           "emit_ms": round((time.perf_counter() - read) * 1000, 1)})
    return len(payloads)


def _next_waiting(db: Session, department: str) -> ChatSession | None:
    return db.execute(
        select(ChatSession).where(ChatSession.department == department,
                                  ChatSession.status == SessionStatus.WAITING.value)
        # Scam-suspected chats first (issue 15), then FIFO.
        .order_by(ChatSession.risk.is_(None), ChatSession.queued_at, ChatSession.id).limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()


def drain(rt: Runtime, departments: list[str], *, publish_always: bool = False,
          avoid: dict[str, str] | None = None) -> list[Taken]:
    """Assign waiting chats of `departments` in FIFO order while online operators have room,
    then publish the queues that moved (all of them with `publish_always`: the operators online
    changed, so every estimate did). Each assignment is its own short transaction. `avoid` maps
    a session id to an operator it must not go to now (who just passed it on)."""
    taken: list[Taken] = []
    for department in dict.fromkeys(departments):
        before = len(taken)
        for _ in range(DRAIN_BATCH if rt.settings.routing.auto_assign else 0):
            # A plain read first: with nobody online (the common case on SQLite) no write lock.
            with rt.db.read() as db:
                if not has_room(db, rt, department, utcnow()):
                    break
            with rt.db.write() as db:
                chat = _next_waiting(db, department)
                done = (assign_in(db, rt, chat, utcnow(), avoid=(avoid or {}).get(chat.id))
                        if chat is not None else None)
            if done is None:
                break
            announce(rt, done)
            taken.append(done)
        # A chat joining the end of the queue moves nobody: publishing only on moves keeps an
        # incident's long queue from costing one event per waiting user per new chat.
        if publish_always or len(taken) > before:
            publish_queue(rt, department)
    return taken


def _departments_of(operator: Operator) -> list[str]:
    return list(operator.departments) or [category.value for category in Category]


def capacity_freed(rt: Runtime, operator_id: str | None, department: str, *,
                   avoid: dict[str, str] | None = None) -> list[Taken]:
    """An active chat ended: its operator may take the next one in any of their departments."""
    with rt.db.read() as db:
        operator = db.get(Operator, operator_id) if operator_id else None
    return drain(rt, _departments_of(operator) if operator is not None else [department], avoid=avoid)


def set_operator_status(rt: Runtime, principal: Principal, status: str) -> operators.StatusResult:
    """`PUT /operators/me/status`: store it; coming online takes waiting chats of the operator's
    departments, and any change moves their estimates (the number of operators online)."""
    result = operators.set_status(rt, principal, status)
    if result.came_online:
        drain(rt, _departments_of(result.operator), publish_always=True)
    else:
        for department in _departments_of(result.operator):
            publish_queue(rt, department)
    return result


def operator_socket(rt: Runtime, principal: Principal, *, connected: bool) -> None:
    """A socket of an operator connected or disconnected (its presence is recorded by the
    caller). The away grace restarts; an online operator who (re)connects takes waiting chats."""
    operator = operators.socket_seen(rt, principal.id)
    if connected and operator is not None and operator.status == OperatorStatus.ONLINE.value:
        drain(rt, _departments_of(operator), publish_always=True)
