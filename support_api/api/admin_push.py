"""Push delivery for admins: the outbox's pending and failed rows, and counts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.push import OutboxListQuery, dump_outbox_row
from support_api.services import push_admin

bp = Blueprint("admin_push", __name__)

_list = OutboxListQuery()


@bp.get("/admin/push/outbox")
def outbox() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_list)
    rows, next_cursor = push_admin.list_outbox(get_runtime(), principal, status=args.get("status"),
                                               limit=args["limit"], cursor=args.get("cursor"))
    return {"items": [dump_outbox_row(row, device) for row, device in rows], "next_cursor": next_cursor}


@bp.get("/admin/push/metrics")
def metrics() -> dict[str, Any]:
    return push_admin.metrics(get_runtime(), current_principal())
