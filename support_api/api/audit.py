"""The audit trail, for admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import AuditListQuery
from support_api.schemas.responses import dump_audit_entry
from support_api.services import audit

bp = Blueprint("audit", __name__)

_list = AuditListQuery()


@bp.get("/admin/audit")
def list_audit() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_list)
    rows, next_cursor = audit.list_entries(get_runtime(), principal, actor=args.get("actor"),
                                           action=args.get("action"), since=args.get("since"),
                                           limit=args["limit"], cursor=args.get("cursor"))
    return {"items": [dump_audit_entry(row) for row in rows], "next_cursor": next_cursor}
