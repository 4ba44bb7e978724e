"""What admins see of push delivery: the pending and failed rows, and counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from support_api.lib import cursors
from support_api.lib.access import require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.runtime import Runtime
from support_api.models import Device, PushOutbox, PushStatus, utcnow
from support_api.services import audit
from support_api.services.push_delivery import KEEP_DONE


def list_outbox(rt: Runtime, principal: Principal, *, status: str | None, limit: int,
                cursor: str | None) -> tuple[list[tuple[PushOutbox, Device | None]], str | None]:
    """Pending and failed rows (or those of one `status`), newest first."""
    require_role(principal, Role.ADMIN)
    statuses = [status] if status else [PushStatus.PENDING.value, PushStatus.FAILED.value]
    query = (select(PushOutbox, Device).outerjoin(Device, Device.id == PushOutbox.device_id)
             .where(PushOutbox.status.in_(statuses)))
    if cursor:
        query = query.where(cursors.beyond(PushOutbox.created_at, PushOutbox.id, cursor, "psh", descending=True))
    query = query.order_by(PushOutbox.created_at.desc(), PushOutbox.id.desc()).limit(limit + 1)
    with rt.db.read() as db:
        rows: list[tuple[PushOutbox, Device | None]] = [(row, device) for row, device in db.execute(query).all()]
    audit.record_now(rt, principal, "admin.push_outbox_read", details={"status": status})
    next_cursor = cursors.encode(rows[limit - 1][0].created_at, rows[limit - 1][0].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def metrics(rt: Runtime, principal: Principal) -> dict[str, Any]:
    """Counts over the rows still kept (sent and skipped ones for KEEP_DONE): how many went
    out, were skipped, failed (by reason) or wait, and how many extra tries retries took."""
    require_role(principal, Role.ADMIN)
    with rt.db.read() as db:
        by_status = dict(db.execute(select(PushOutbox.status, func.count()).group_by(PushOutbox.status)).all())
        retries = db.execute(select(func.coalesce(func.sum(
            case((PushOutbox.attempts > 1, PushOutbox.attempts - 1), else_=0)), 0))).scalar_one()
        retried_rows = db.execute(select(func.count()).where(PushOutbox.attempts > 1)).scalar_one()
        failed_by_reason = dict(db.execute(
            select(func.coalesce(PushOutbox.last_error, "unknown"), func.count())
            .where(PushOutbox.status == PushStatus.FAILED.value).group_by(PushOutbox.last_error)).all())
        oldest_due = db.execute(select(func.min(PushOutbox.due_at))
                                .where(PushOutbox.status == PushStatus.PENDING.value)).scalar_one()
        devices = db.execute(select(func.count()).select_from(Device)).scalar_one()
    audit.record_now(rt, principal, "admin.push_metrics_read")
    lag = max(0.0, (utcnow() - oldest_due).total_seconds()) if oldest_due else 0.0
    return {
        "window_seconds": int(KEEP_DONE.total_seconds()),
        "sent": by_status.get(PushStatus.SENT.value, 0),
        "skipped": by_status.get(PushStatus.SKIPPED.value, 0),
        "failed": by_status.get(PushStatus.FAILED.value, 0),
        "pending": by_status.get(PushStatus.PENDING.value, 0),
        "retried": retried_rows,
        "retries": int(retries),
        "failed_by_reason": {str(k): int(v) for k, v in failed_by_reason.items()},
        "oldest_pending_seconds": round(lag, 3),
        "devices": devices,
    }
