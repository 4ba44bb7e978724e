"""Operators' availability: the status they chose, and whether any socket of theirs is connected.

The status that counts (`effective_status`) is derived lazily whenever availability is needed,
not by a background task: an operator who chose `online` but has had no connected socket (on
any process: lib/presence.py, Redis with several) for longer than
`SUPPORT_API_OPERATOR_AWAY_GRACE_SECONDS` since their last sign of life (`last_seen_at`: a
status call, a socket connecting or disconnecting) counts as `away`. Deriving it keeps one
source of truth across processes and survives a process dying without running its disconnects
(its presence entries expire). An operator with no row (never set a status) counts as `away`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from support_api.lib.access import require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.presence import CONNECTED, Presence
from support_api.lib.runtime import Runtime
from support_api.models import (
    ChatSession,
    Operator,
    OperatorStatus,
    SessionStatus,
    utcnow,
)
from support_api.services import audit


def serves(operator: Operator, department: str) -> bool:
    return not operator.departments or department in operator.departments


def effective_status(operator: Operator | None, presence: Presence, grace_seconds: int, now: datetime) -> str:
    if operator is None:
        return OperatorStatus.AWAY.value
    if operator.status != OperatorStatus.ONLINE.value:
        return operator.status
    if now - operator.last_seen_at <= timedelta(seconds=grace_seconds):
        return OperatorStatus.ONLINE.value
    if presence.is_present(CONNECTED, "operator", operator.id):
        return OperatorStatus.ONLINE.value
    return OperatorStatus.AWAY.value


def loads(db: Session, operator_ids: list[str] | None = None) -> dict[str, int]:
    """Active sessions held per operator."""
    query = (select(ChatSession.operator_id, func.count()).where(ChatSession.status == SessionStatus.ACTIVE.value)
             .group_by(ChatSession.operator_id))
    if operator_ids is not None:
        query = query.where(ChatSession.operator_id.in_(operator_ids))
    return {operator_id: count for operator_id, count in db.execute(query) if operator_id}


def online_in(db: Session, rt: Runtime, department: str, now: datetime) -> list[Operator]:
    """Operators who effectively are online and serve `department`."""
    rows = db.execute(select(Operator).where(Operator.status == OperatorStatus.ONLINE.value)
                      .order_by(Operator.id)).scalars()
    grace = rt.settings.routing.away_grace_seconds
    return [op for op in rows if serves(op, department)
            and effective_status(op, rt.presence, grace, now) == OperatorStatus.ONLINE.value]


def _upsert(db: Session, principal: Principal, now: datetime) -> Operator:
    """The caller's row, locked, refreshed from their token (name and departments live there)."""
    operator = db.execute(select(Operator).where(Operator.id == principal.id).with_for_update()).scalar_one_or_none()
    if operator is None:
        operator = Operator(id=principal.id, status=OperatorStatus.AWAY.value, status_changed_at=now,
                            last_seen_at=now, created_at=now)
        db.add(operator)
    operator.name = principal.name
    operator.departments = list(principal.departments)
    operator.updated_at = now
    return operator


@dataclass(frozen=True)
class StatusResult:
    operator: Operator
    came_online: bool


def set_status(rt: Runtime, principal: Principal, status: str) -> StatusResult:
    """An operator (or admin) says whether they take chats: online, away or offline. Coming
    online routes waiting chats of their departments to them (services/routing.py)."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    try:
        return _set_status(rt, principal, status)
    except IntegrityError:
        # Two first calls of one operator raced to insert the row: the other one's row is there now.
        return _set_status(rt, principal, status)


def _set_status(rt: Runtime, principal: Principal, status: str) -> StatusResult:
    now = utcnow()
    with rt.db.write() as db:
        operator = _upsert(db, principal, now)
        before = effective_status(operator, rt.presence, rt.settings.routing.away_grace_seconds, now)
        if operator.status != status:
            audit.record(db, principal, "operator.status_changed", "operator", principal.id,
                         {"from": operator.status, "to": status})
            operator.status = status
            operator.status_changed_at = now
        # A status call is a sign of life: the away grace runs from here until a socket connects.
        operator.last_seen_at = now
    if principal.departments:
        # The newest token is what the operator may see now: older sockets that saw more are
        # narrowed to it on every process (a no-op when nothing was dropped; realtime/revocation.py).
        rt.events.revoke_staff(principal.id, principal.departments)
    return StatusResult(operator, came_online=status == OperatorStatus.ONLINE.value
                        and before != OperatorStatus.ONLINE.value)


def socket_seen(rt: Runtime, operator_id: str) -> Operator | None:
    """A socket of the operator connected or disconnected: the away grace restarts from now."""
    now = utcnow()
    with rt.db.write() as db:
        operator = db.execute(select(Operator).where(Operator.id == operator_id).with_for_update()).scalar_one_or_none()
        if operator is not None:
            operator.last_seen_at = now
    return operator


@dataclass(frozen=True)
class Availability:
    operator: Operator
    status: str  # the status that counts (see the module docstring)
    load: int  # active sessions held


def list_operators(rt: Runtime, principal: Principal) -> list[Availability]:
    """Every known operator with the status that counts and their load, online first."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    now = utcnow()
    with rt.db.read() as db:
        rows = list(db.execute(select(Operator).order_by(Operator.id)).scalars())
        held = loads(db)
    grace = rt.settings.routing.away_grace_seconds
    order = {OperatorStatus.ONLINE.value: 0, OperatorStatus.AWAY.value: 1, OperatorStatus.OFFLINE.value: 2}
    items = [Availability(op, effective_status(op, rt.presence, grace, now), held.get(op.id, 0)) for op in rows]
    return sorted(items, key=lambda item: (order[item.status], item.operator.id))
