"""Writing and reading the audit trail.

State changes record their entry inside their own transaction (`record`), so an action and
its trace commit together or not at all. Reads and refusals have no transaction of their own
and use `record_now`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib import cursors
from support_api.lib.access import require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.request_context import current_meta
from support_api.lib.runtime import Runtime
from support_api.models import AuditEntry, utcnow


def record(db: Session, actor: Principal, action: str, target_type: str | None = None,
           target_id: str | None = None, details: dict[str, Any] | None = None) -> None:
    meta = current_meta()
    db.add(AuditEntry(
        actor_type=actor.participant_type, actor_id=actor.id, actor_role=actor.role.value, action=action,
        target_type=target_type, target_id=target_id, request_id=meta.request_id, client_ip=meta.client_ip,
        details=details or None, created_at=utcnow(),
    ))


def record_system(db: Session, action: str, target_type: str, target_id: str,
                  details: dict[str, Any] | None = None) -> None:
    """An entry of something the server decided itself (auto-assignment), in the caller's transaction."""
    meta = current_meta()
    db.add(AuditEntry(actor_type="system", actor_id="-", actor_role="-", action=action, target_type=target_type,
                      target_id=target_id, request_id=meta.request_id, client_ip=meta.client_ip,
                      details=details or None, created_at=utcnow()))


def record_now(rt: Runtime, actor: Principal, action: str, target_type: str | None = None,
               target_id: str | None = None, details: dict[str, Any] | None = None) -> None:
    with rt.db.write() as db:
        record(db, actor, action, target_type, target_id, details)


def record_anonymous(rt: Runtime, action: str, details: dict[str, Any]) -> None:
    """An entry with no verified actor (e.g. failed authentication from an IP)."""
    meta = current_meta()
    with rt.db.write() as db:
        db.add(AuditEntry(actor_type="anonymous", actor_id="-", actor_role="-", action=action,
                          request_id=meta.request_id, client_ip=meta.client_ip, details=details,
                          created_at=utcnow()))


def list_entries(rt: Runtime, principal: Principal, *, actor: str | None, action: str | None,
                 since: datetime | None, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    """Newest first. Reading the trail is itself an audited action."""
    require_role(principal, Role.ADMIN)
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor_id == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.created_at >= since)
    if cursor:
        query = query.where(cursors.beyond(AuditEntry.created_at, AuditEntry.id, cursor, "aud", descending=True))
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    with rt.db.read() as db:
        rows = list(db.execute(query).scalars())
    record_now(rt, principal, "admin.audit_read", details={"actor": actor, "action": action})
    return rows[:limit], (cursors.encode(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None)
