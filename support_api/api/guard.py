"""What the sensitive-content guard stopped, for admins (counts only, never text)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import GuardStatsQuery
from support_api.services import guard

bp = Blueprint("guard", __name__)

_query = GuardStatsQuery()


@bp.get("/admin/guard/blocked")
def blocked() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_query)
    return guard.blocked_stats(get_runtime(), principal, args.get("since"))
