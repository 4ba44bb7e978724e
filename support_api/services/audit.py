"""Writing and reading the audit trail.

State changes record their entry inside their own transaction (`record`), so an action and
its trace commit together or not at all. Reads and refusals have no transaction of their own
and use `record_now`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from support_api.lib.access import require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import ValidationFailed
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


def _cursor(entry: AuditEntry) -> str:
    return base64.urlsafe_b64encode(json.dumps([entry.created_at.isoformat(), entry.id]).encode()).decode().rstrip("=")


_ENTRY_ID = re.compile(r"aud_[0-9a-f]{28}")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        created, entry_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(created)
        # Only ids this API issues reach SQL (a NUL byte would be a PostgreSQL error), and only
        # aware times (a naive one fails at bind time).
        if created_at.tzinfo is None or not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
            raise ValueError("cursor fields")
        # In UTC here: a far-off offset at datetime's limits overflows now, not in the query.
        return created_at.astimezone(timezone.utc), entry_id
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("The cursor is not valid", {"fields": {"cursor": ["Not a cursor this API issued."]}}) from exc


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
        created_at, last_id = _decode(cursor)
        query = query.where(or_(AuditEntry.created_at < created_at,
                                and_(AuditEntry.created_at == created_at, AuditEntry.id < last_id)))
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    with rt.db.read() as db:
        rows = list(db.execute(query).scalars())
    record_now(rt, principal, "admin.audit_read", details={"actor": actor, "action": action})
    return rows[:limit], (_cursor(rows[limit - 1]) if len(rows) > limit else None)
