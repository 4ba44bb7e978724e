"""Transfer / escalation: staff pass a session to another department's queue or to a colleague.

- **To a department** (`department`): the session goes back to `waiting` in that department's
  queue, its place taken from the moment of the transfer, and the user is told in a localised
  SYSTEM message. Operators of that department are pushed "a chat is waiting" and routing
  assigns it like any waiting chat — at once not to the operator who passed it on.
- **To an operator** (`operator_id`, optionally with the `department` it moves to): that
  operator holds it at once, whatever their load — a person chose them, so capacity (which
  only limits automatic assignment) does not apply — unless they are `offline` or do not
  serve the department. The user sees "{name} joined"; the operator is pushed "a chat was
  passed to you".
- The optional `note` is stored as an internal note by the transferring operator (staff only).

Who may transfer: the operator holding an active session, any staff member who may see a
waiting one, and admins always. Closed sessions cannot be transferred (reopen first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib import system_text
from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict, ValidationFailed
from support_api.lib.events import dept_room, message_audience, staff_audience, staff_room, status_audience
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, InternalNote, Message, Operator, OperatorStatus, SessionStatus, utcnow
from support_api.schemas.responses import dump_message, dump_note, dump_session
from support_api.services import audit, guard, operators, routing
from support_api.services.messages import visible_session_id
from support_api.services.notes import append_note
from support_api.services.push_outbox import enqueue_transfer, enqueue_waiting


@dataclass
class _Moved:
    chat: ChatSession
    from_department: str
    from_operator: str | None
    from_status: str
    message: Message | None = None
    note: InternalNote | None = None
    rooms: list[str] = field(default_factory=list)


def _target_operator(db: Session, rt: Runtime, operator_id: str, department: str, chat: ChatSession) -> Operator:
    # Locked after the session row, the same order as routing: no deadlock with assignments.
    target = db.execute(select(Operator).where(Operator.id == operator_id).with_for_update()).scalar_one_or_none()
    if target is None:
        raise ValidationFailed("No such operator", {"fields": {"operator_id": ["Unknown operator (never set a status)."]}})
    if target.id == chat.operator_id and department == chat.department:
        raise Conflict("The operator already holds this session", {"reason": "no_change"})
    status = operators.effective_status(target, rt.presence, rt.settings.routing.away_grace_seconds, utcnow())
    if status == OperatorStatus.OFFLINE.value:
        raise Conflict("The operator is offline", {"reason": "operator_unavailable", "status": status})
    if not operators.serves(target, department):
        raise Conflict("The operator does not serve that department",
                       {"reason": "operator_not_in_department", "department": department})
    return target


def transfer_session(rt: Runtime, principal: Principal, session_id: str, *, department: str | None = None,
                     operator_id: str | None = None, note: str | None = None) -> ChatSession:
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    screened = (guard.screen(rt, principal, note, session_of=lambda: visible_session_id(rt, principal, session_id),
                             staff_only=True)
                if note and note.strip() else None)
    now = utcnow()
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.status == SessionStatus.CLOSED.value:
            raise Conflict("The session is closed", {"reason": "session_closed"})
        if (chat.status == SessionStatus.ACTIVE.value and chat.operator_id != principal.id
                and principal.role is not Role.ADMIN):
            raise Conflict("Another operator holds this session", {"reason": "not_assigned"})
        target_department = department or chat.department
        moved = _Moved(chat, chat.department, chat.operator_id, chat.status)
        target = _target_operator(db, rt, operator_id, target_department, chat) if operator_id else None
        if target is None and target_department == chat.department and chat.status == SessionStatus.WAITING.value:
            raise Conflict("The session already waits in that department", {"reason": "no_change"})
        if screened is not None:
            moved.note = append_note(db, chat, principal, screened.text, None)
        chat.department = target_department
        if target is not None:
            moved.message = routing.take(db, chat, target.id, target.name, now).message
            enqueue_transfer(db, rt.settings, chat)
        else:
            chat.status = SessionStatus.WAITING.value
            chat.operator_id = chat.operator_name = chat.assigned_at = None
            chat.queued_at = now
            moved.message = routing.append_system_message(
                db, chat, system_text.transferred(chat.user_locale, target_department), now)
            enqueue_waiting(db, rt.settings, chat, None)
        audit.record(db, principal, "session.transferred", "session", chat.id, {
            "from_department": moved.from_department, "to_department": target_department,
            "from_operator": moved.from_operator, "to_operator": target.id if target else None,
        })
    return _announce(rt, moved)


def _announce(rt: Runtime, moved: _Moved) -> ChatSession:
    chat = moved.chat
    # First out of the room whoever lost the chat (on every process: realtime/revocation.py),
    # so nothing below reaches them through it; they hear the move in their department room.
    rt.events.revoke_session(chat)
    # Those who followed it before the move hear that it left them, too.
    rooms = status_audience(chat) + [dept_room(moved.from_department)]
    if moved.from_operator and moved.from_operator != chat.operator_id:
        rooms.append(staff_room(moved.from_operator))
    rt.events.emit("session:updated", dump_session(chat), list(dict.fromkeys(rooms)))
    if moved.note is not None:
        rt.events.emit("note:new", dump_note(moved.note), staff_audience(chat))
    if moved.message is not None:
        rt.events.emit("message:new", dump_message(moved.message, rt.signer), message_audience(chat))
    if moved.from_status == SessionStatus.WAITING.value and moved.from_department != chat.department:
        routing.publish_queue(rt, moved.from_department)  # the chats behind it moved up
    # Not straight back to whoever passed it on (they may serve the new department too).
    avoid = {chat.id: moved.from_operator} if moved.from_operator else None
    taken: dict[str, ChatSession] = {}
    if chat.status == SessionStatus.WAITING.value:
        taken.update((t.chat.id, t.chat) for t in routing.drain(rt, [chat.department], publish_always=True,
                                                                 avoid=avoid))
    if moved.from_operator and moved.from_operator != chat.operator_id:
        taken.update((t.chat.id, t.chat) for t in routing.capacity_freed(rt, moved.from_operator,
                                                                         moved.from_department, avoid=avoid))
    return taken.get(chat.id, chat)
